"""One definition of "parent is down": a table of cases for the pure rule and the config field."""

from __future__ import annotations

import pytest

from checks.config import validate_check
from checks.dependencies import DEFAULT_PARENT_UP_STATES, parent_is_down, parse_up_states


@pytest.mark.parametrize(
    ("state_type", "status", "up_states", "down"),
    [
        ("HARD", "CRITICAL", None, True),  # a dead switch makes its sensors unreachable
        ("HARD", "UNKNOWN", None, True),  # nobody can tell whether the switch forwards
        ("HARD", "WARNING", None, False),  # a slow switch still forwards: children alert
        ("HARD", "OK", None, False),
        ("SOFT", "CRITICAL", None, False),  # not confirmed yet: the child's own problem counts
        ("HARD", None, None, False),  # a parent never checked hides nothing
        (None, None, None, False),
        ("HARD", "WARNING", ("OK",), True),  # a check that wants WARNING parents to count
        ("HARD", "UNKNOWN", ("OK", "WARNING", "UNKNOWN"), False),
    ],
)
def test_a_parent_is_down_only_when_confirmed_and_not_in_the_childs_up_states(
    state_type: str | None, status: str | None, up_states: tuple[str, ...] | None, down: bool
) -> None:
    assert parent_is_down(state_type, status, up_states) is down


def test_the_default_up_states_are_ok_and_warning_as_icinga_dependencies() -> None:
    assert DEFAULT_PARENT_UP_STATES == ("OK", "WARNING")
    assert parse_up_states(None) == ("OK", "WARNING")
    assert parse_up_states(["warning", "ok"]) == ("OK", "WARNING")
    assert parse_up_states("OK, UNKNOWN") == ("OK", "UNKNOWN")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (["OK", "SOMETIMES"], "'SOMETIMES' is not a status"),
        (["WARNING"], "must include OK"),
        (5, "must be a list"),
    ],
)
def test_bad_parent_up_states_are_refused_with_a_reason(value: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_up_states(value)


def test_a_check_in_yaml_may_say_in_which_parent_states_it_is_reachable() -> None:
    check = validate_check({"name": "sensor", "type": "tcp",
                            "spec": {"host": "127.0.0.1", "port": 22},
                            "parent_up_states": ["OK"]})
    assert check.values["parent_up_states"] == ["OK"]
    default = validate_check({"name": "sensor", "type": "tcp",
                              "spec": {"host": "127.0.0.1", "port": 22}})
    assert default.values["parent_up_states"] is None
    with pytest.raises(ValueError, match="parent_up_states"):
        validate_check({"name": "sensor", "type": "tcp", "spec": {"host": "127.0.0.1",
                                                                   "port": 22},
                        "parent_up_states": ["OK", "BROKEN"]})
