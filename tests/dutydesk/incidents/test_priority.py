"""Priority matrix and default urgencies."""

from __future__ import annotations

import pytest

import dutydesk.incidents.priority as priority_module
from dutydesk.incidents.alerts.model import Severity
from dutydesk.incidents.priority import (
    Impact,
    Priority,
    PriorityError,
    Urgency,
    default_priority,
    priority_for,
    urgency_for_alertmanager_severity,
    urgency_for_check_status,
    urgency_for_severity,
)


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        pytest.param(1, 1, "P1", id="high-impact-high-urgency"),
        pytest.param(1, 2, "P2", id="high-impact-medium-urgency"),
        pytest.param(1, 3, "P3", id="high-impact-low-urgency"),
        pytest.param(2, 1, "P2", id="medium-impact-high-urgency"),
        pytest.param(2, 2, "P3", id="medium-impact-medium-urgency"),
        pytest.param(2, 3, "P4", id="medium-impact-low-urgency"),
        pytest.param(3, 1, "P3", id="low-impact-high-urgency"),
        pytest.param(3, 2, "P4", id="low-impact-medium-urgency"),
        pytest.param(3, 3, "P4", id="low-impact-low-urgency-folds-into-p4"),
    ],
)
def test_every_cell_of_the_documented_matrix(impact, urgency, expected):
    assert str(priority_for(impact, urgency)) == expected


@pytest.mark.parametrize(("impact", "urgency"), [(i, u) for i in (1, 2, 3) for u in (1, 2, 3)])
def test_the_docstring_table_agrees_with_the_code(impact, urgency):
    row = next(
        line for line in priority_module.__doc__.splitlines() if line.startswith(f"**{impact} ")
    )
    # "**1 high**  **P1**  **P2**  **P3**": cells follow the two-word row heading
    assert row.split()[urgency + 1].strip("*") == str(priority_for(impact, urgency))


@pytest.mark.parametrize(
    ("impact", "urgency", "message"),
    [
        pytest.param(
            0, 1, "impact must be 1 \\(high\\), 2 \\(medium\\) or 3 \\(low\\), got 0", id="impact-0"
        ),
        pytest.param(1, 4, "urgency must be .* got 4", id="urgency-4"),
        pytest.param("high", 1, "impact must be .* got 'high'", id="impact-word"),
        pytest.param(True, 1, "impact must be .* got True", id="impact-bool"),
    ],
)
def test_out_of_range_levels_are_refused(impact, urgency, message):
    with pytest.raises(PriorityError, match=message):
        priority_for(impact, urgency)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("P2", Priority.P2, id="label"),
        pytest.param("p4", Priority.P4, id="lower-case"),
        pytest.param(1, Priority.P1, id="int"),
        pytest.param("3", Priority.P3, id="digit"),
        pytest.param(Priority.P3, Priority.P3, id="already-a-priority"),
    ],
)
def test_priorities_parse_from_labels_and_numbers(value, expected):
    assert Priority.parse(value) is expected


@pytest.mark.parametrize("value", ["P5", "P0", "urgent", None, True], ids=str)
def test_unknown_priorities_are_refused(value):
    with pytest.raises(PriorityError, match="must be one of P1, P2, P3, P4"):
        Priority.parse(value)


@pytest.mark.parametrize(
    ("status", "urgency"),
    [
        pytest.param("CRITICAL", Urgency.HIGH, id="critical"),
        pytest.param("WARNING", Urgency.MEDIUM, id="warning"),
        pytest.param("UNKNOWN", Urgency.MEDIUM, id="unknown"),
        pytest.param("critical", Urgency.HIGH, id="any-case"),
    ],
)
def test_check_states_give_default_urgencies(status, urgency):
    assert urgency_for_check_status(status) is urgency


def test_an_ok_check_does_not_open_an_incident():
    with pytest.raises(PriorityError, match="got 'OK'"):
        urgency_for_check_status("OK")


@pytest.mark.parametrize(
    ("severity", "urgency"),
    [
        pytest.param("critical", Urgency.HIGH, id="critical"),
        pytest.param("error", Urgency.HIGH, id="error-is-high-like-pagerduty"),
        pytest.param(Severity.WARNING, Urgency.MEDIUM, id="warning"),
        pytest.param("info", Urgency.LOW, id="info"),
    ],
)
def test_pagerduty_severities_give_default_urgencies(severity, urgency):
    assert urgency_for_severity(severity) is urgency


def test_an_unknown_pagerduty_severity_is_refused():
    with pytest.raises(PriorityError, match="got 'fatal'"):
        urgency_for_severity("fatal")


@pytest.mark.parametrize(
    ("label", "urgency"),
    [
        pytest.param("page", Urgency.HIGH, id="page"),
        pytest.param("critical", Urgency.HIGH, id="critical"),
        pytest.param("warning", Urgency.MEDIUM, id="warning"),
        pytest.param("info", Urgency.LOW, id="info"),
        pytest.param("whatever", Urgency.MEDIUM, id="unknown-label"),
        pytest.param(None, Urgency.MEDIUM, id="no-label"),
    ],
)
def test_alertmanager_severity_labels_give_default_urgencies(label, urgency):
    assert urgency_for_alertmanager_severity(label) is urgency


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        pytest.param(None, Urgency.HIGH, Priority.P2, id="no-service-impact-is-medium"),
        pytest.param(Impact.HIGH, Urgency.HIGH, Priority.P1, id="critical-service"),
        pytest.param(Impact.LOW, Urgency.MEDIUM, Priority.P4, id="redundant-device"),
    ],
)
def test_default_priority_uses_the_service_impact(impact, urgency, expected):
    assert default_priority(urgency=urgency, impact=impact) is expected
