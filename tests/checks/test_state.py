"""The check state machine as a duty engineer sees it: which results raise which flips.

Each scenario is a line of results, one per minute. A step is a status letter (O=OK, W=WARNING,
C=CRITICAL, U=UNKNOWN), optionally followed by "/p" (a parent is down) and/or "/m" (the check is in
a maintenance window). Expected flips read "step:kind OLD>NEW", "-" for "no status", and end in
" [maintenance]" when muted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.policy import CheckPolicy, PolicyError
from checks.result import Result, Status
from checks.schedule import NaiveDatetimeError
from checks.state import CheckState, FlipKind, StateError, StateType, Transition, next_state

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
LETTERS = {"O": Status.OK, "W": Status.WARNING, "C": Status.CRITICAL, "U": Status.UNKNOWN}

# Small flap window that can be checked by hand: 5 states -> 4 change slots weighted
# 0.8, 0.933, 1.067, 1.2, so percent = 25 * (sum of weights of changed slots).
HAND_FLAP = {"flap_history_states": 5, "flap_low_threshold": 20.0, "flap_high_threshold": 40.0}


def at(step: int) -> datetime:
    return T0 + timedelta(minutes=step)


def run(
    steps: str, policy: CheckPolicy, start: CheckState | None = None
) -> tuple[list[Transition], list[str]]:
    state = start or CheckState.initial()
    transitions: list[Transition] = []
    flips: list[str] = []
    for i, token in enumerate(steps.split()):
        status, *flags = token.split("/")
        result = Result(LETTERS[status], f"probe says {status}", started_at=at(i))
        t = next_state(
            state, result, policy, at(i), parents_down="p" in flags, in_maintenance="m" in flags
        )
        transitions.append(t)
        state = t.state
        for f in t.flips:
            old = f.old_status.name if f.old_status is not None else "-"
            muted = f" [{f.muted_by}]" if f.muted_by else ""
            flips.append(f"{i}:{f.kind.value} {old}>{f.new_status.name}{muted}")
    return transitions, flips


SCENARIOS = [
    # --- soft and hard states -------------------------------------------------------------
    pytest.param(
        "O C C C", {}, None, ["3:problem OK>CRITICAL"],
        {"state_type": StateType.HARD, "attempt": 3, "display_status": "CRITICAL"},
        id="problem goes hard only after max_attempts results",
    ),
    pytest.param(
        "O C C", {}, None, [],
        {"state_type": StateType.SOFT, "attempt": 2, "last_hard_status": Status.OK},
        id="soft problem raises no flip yet",
    ),
    pytest.param(
        "O C C O", {}, None, [],
        {"state_type": StateType.HARD, "attempt": 1, "notified_status": Status.OK},
        id="soft recovery raises no flip",
    ),
    pytest.param(
        "O C C C O", {}, None, ["3:problem OK>CRITICAL", "4:recovery CRITICAL>OK"],
        {"state_type": StateType.HARD, "status": Status.OK},
        id="recovery from a hard problem is immediately hard",
    ),
    pytest.param(
        "O C", {"max_attempts": 1}, None, ["1:problem OK>CRITICAL"],
        {"state_type": StateType.HARD, "attempt": 1},
        id="max_attempts 1 makes the first problem hard at once",
    ),
    pytest.param(
        "O C O C C", {"max_attempts": 2}, None, ["4:problem OK>CRITICAL"],
        {"state_type": StateType.HARD, "attempt": 2},
        id="soft recovery resets the attempt counter",
    ),
    pytest.param(
        "O W C U", {}, None, ["3:problem OK>UNKNOWN"],
        {"status": Status.UNKNOWN, "state_type": StateType.HARD},
        id="attempts count across different non-OK statuses and go hard with the last one",
    ),
    pytest.param(
        "O W W W C", {}, None, ["3:problem OK>WARNING", "4:changed WARNING>CRITICAL"],
        {"state_type": StateType.HARD, "attempt": 3},
        id="hard problem changes hard between non-OK statuses without new attempts",
    ),
    pytest.param(
        "O C C C C C C", {}, None, ["3:problem OK>CRITICAL"], {"status": Status.CRITICAL},
        id="a hard problem that stays the same raises one flip only",
    ),
    # --- the first result ----------------------------------------------------------------
    pytest.param(
        "O", {}, None, [], {"notified_status": Status.OK, "display_status": "OK"},
        id="first result OK is hard OK without a flip",
    ),
    pytest.param(
        "C C C", {}, None, ["2:problem ->CRITICAL"], {"state_type": StateType.HARD},
        id="first results critical go hard after max_attempts with no old status",
    ),
    pytest.param(
        "U", {"max_attempts": 1}, None, ["0:problem ->UNKNOWN"], {"state_type": StateType.HARD},
        id="first result unknown with max_attempts 1 is a problem at once",
    ),
    # --- parents down: unreachable -------------------------------------------------------
    pytest.param(
        "O C/p C/p C/p", {}, None, ["1:unreachable OK>CRITICAL"],
        {"state_type": StateType.HARD, "reachable": False, "display_status": "UNREACHABLE"},
        id="child behind a down parent goes unreachable and raises no problem",
    ),
    pytest.param(
        "O C/p C/p C/p C", {}, None,
        ["1:unreachable OK>CRITICAL", "4:reachable CRITICAL>CRITICAL", "4:problem OK>CRITICAL"],
        {"reachable": True, "notified_status": Status.CRITICAL},
        id="child still critical when its parent is back raises the problem then",
    ),
    pytest.param(
        "O C/p C/p C/p O", {}, None, ["1:unreachable OK>CRITICAL", "4:reachable CRITICAL>OK"],
        {"reachable": True, "notified_status": Status.OK},
        id="child that is fine when its parent is back raises nothing more",
    ),
    pytest.param(
        "O C C C C/p O/p", {}, None,
        ["3:problem OK>CRITICAL", "4:unreachable CRITICAL>CRITICAL", "5:recovery CRITICAL>OK"],
        {"reachable": False, "display_status": "OK"},
        id="problem announced before the parent went down still recovers while unreachable",
    ),
    pytest.param(
        "O C C C W/p W", {}, None,
        ["3:problem OK>CRITICAL", "4:unreachable CRITICAL>WARNING",
         "5:reachable WARNING>WARNING", "5:changed CRITICAL>WARNING"],
        {"notified_status": Status.WARNING},
        id="status change while unreachable is announced when the parent is back",
    ),
    pytest.param(
        "O/p", {}, None, ["0:unreachable ->OK"], {"display_status": "OK", "reachable": False},
        id="an OK child behind a down parent stays shown as OK",
    ),
    # --- maintenance ---------------------------------------------------------------------
    pytest.param(
        "O C/m C/m C/m O/m O", {}, None,
        ["1:maintenance_started OK>CRITICAL [maintenance]",
         "3:problem OK>CRITICAL [maintenance]",
         "4:recovery CRITICAL>OK [maintenance]",
         "5:maintenance_ended OK>OK"],
        {"in_maintenance": False},
        id="flips in maintenance are recorded but muted",
    ),
    pytest.param(
        "O C/m C/m C/m C", {}, None,
        ["1:maintenance_started OK>CRITICAL [maintenance]",
         "3:problem OK>CRITICAL [maintenance]",
         "4:maintenance_ended CRITICAL>CRITICAL"],
        {"hard_problem": True, "notified_status": Status.CRITICAL},
        id="problem that outlasts maintenance is not announced twice by the state machine",
    ),
    # --- flapping (hand-checkable window, see HAND_FLAP) ---------------------------------
    pytest.param(
        # step 5: 1 change in the newest slot = 30 % (not above 40) -> normal problem flip;
        # step 6: 2 changes = 25 * (1.067 + 1.2) = 56.7 % -> flapping, recovery held;
        # steps 7-9: 50 %, 43.3 %, 20 % (not below 20: hysteresis keeps it flapping);
        # step 10: 0 % -> stops, and the held recovery goes out.
        "O O O O O C O O O O O", {"max_attempts": 1, **HAND_FLAP}, None,
        ["5:problem OK>CRITICAL", "6:flapping_started CRITICAL>OK",
         "10:flapping_stopped OK>OK", "10:recovery CRITICAL>OK"],
        {"flapping": False, "notified_status": Status.OK},
        id="flapping holds the recovery until it stops below the low threshold",
    ),
    pytest.param(
        # 56.7 % at step 6, then 80, 70, 43.3, 20 (still flapping) and 0 % at step 11.
        "O O O O O C O C C C C C", {"max_attempts": 1, **HAND_FLAP}, None,
        ["5:problem OK>CRITICAL", "6:flapping_started CRITICAL>OK",
         "11:flapping_stopped CRITICAL>CRITICAL"],
        {"flapping": False, "notified_status": Status.CRITICAL},
        id="flapping that settles where it started raises no alert afterwards",
    ),
    pytest.param(
        "C C", {"max_attempts": 1, **HAND_FLAP},
        CheckState(
            status=Status.OK, last_hard_status=Status.OK, notified_status=Status.OK,
            flapping=True, flap_history=(True, True, True, False), flap_percent=75.0,
        ),
        [],
        {"flapping": True, "hard_problem": True, "notified_status": Status.OK},
        id="a hard problem while flapping raises no problem flip",
    ),
    pytest.param(
        "O O O O O C/m O/m", {"max_attempts": 1, **HAND_FLAP}, None,
        ["5:maintenance_started OK>CRITICAL [maintenance]",
         "5:problem OK>CRITICAL [maintenance]",
         "6:flapping_started CRITICAL>OK [maintenance]"],
        {"flapping": True, "in_maintenance": True},
        id="flapping events in maintenance are muted too",
    ),
    pytest.param(
        "O C O C O C O C", {"max_attempts": 1, "flap_detection": False, **HAND_FLAP}, None,
        ["1:problem OK>CRITICAL", "2:recovery CRITICAL>OK", "3:problem OK>CRITICAL",
         "4:recovery CRITICAL>OK", "5:problem OK>CRITICAL", "6:recovery CRITICAL>OK",
         "7:problem OK>CRITICAL"],
        {"flapping": False},
        id="with flap detection off every hard change is announced",
    ),
]


@pytest.mark.parametrize(("steps", "policy_args", "start", "expected_flips", "final"), SCENARIOS)
def test_scenario(steps, policy_args, start, expected_flips, final):
    transitions, flips = run(steps, CheckPolicy(**policy_args), start)
    assert flips == expected_flips
    state = transitions[-1].state
    for name, value in final.items():
        assert getattr(state, name) == value, name


def test_flips_carry_reason_and_time_of_the_judgement():
    transitions, _ = run("O C C C", CheckPolicy())
    (flip,) = transitions[3].flips
    assert flip.kind is FlipKind.PROBLEM
    assert flip.at == at(3)
    assert flip.reason == "CRITICAL (HARD, attempt 3/3): probe says C"
    assert flip.muted_by is None


def test_held_recovery_says_it_was_settled_after_flapping():
    transitions, _ = run("O O O O O C O O O O O", CheckPolicy(max_attempts=1, **HAND_FLAP))
    recovery = transitions[10].flips[-1]
    assert recovery.kind is FlipKind.RECOVERY
    assert "after flapping stopped" in recovery.reason


def test_flap_percent_between_thresholds_keeps_the_previous_flapping_state():
    transitions, _ = run("O O O O O C O O O O O", CheckPolicy(max_attempts=1, **HAND_FLAP))
    percents = [round(t.state.flap_percent, 1) for t in transitions[5:11]]
    assert percents == [30.0, 56.7, 50.0, 43.3, 20.0, 0.0]
    flapping = [t.state.flapping for t in transitions[5:11]]
    # 30 % is below the 40 % start threshold; 20 % is not below the 20 % stop threshold.
    assert flapping == [False, True, True, True, True, False]


@pytest.mark.parametrize(
    ("steps", "expected_delay_s"),
    [
        pytest.param("O", 60, id="OK runs again after interval"),
        pytest.param("O C", 15, id="soft problem is retried after retry_interval"),
        pytest.param("O C C", 15, id="second soft attempt is retried after retry_interval"),
        pytest.param("O C C C", 60, id="hard problem runs again after interval"),
        pytest.param("O C C C O", 60, id="recovered check runs again after interval"),
    ],
)
def test_next_run_uses_retry_interval_only_while_soft(steps, expected_delay_s):
    transitions, _ = run(steps, CheckPolicy(interval=60, retry_interval=15))
    last = transitions[-1]
    assert last.next_run_at - at(len(transitions) - 1) == timedelta(seconds=expected_delay_s)


def test_late_result_that_started_before_the_last_one_is_ignored():
    transitions, _ = run("O C", CheckPolicy())
    state = transitions[-1].state
    late = Result(Status.OK, "slow run from before", started_at=at(0))
    t = next_state(state, late, CheckPolicy(), at(2))
    assert t.stale
    assert t.state == state
    assert t.flips == ()


def test_the_same_result_delivered_twice_counts_one_attempt():
    policy = CheckPolicy()
    state = next_state(
        CheckState.initial(), Result(Status.OK, "", started_at=at(0)), policy, at(0)
    ).state
    crit = Result(Status.CRITICAL, "down", started_at=at(1))
    once = next_state(state, crit, policy, at(1))
    twice = next_state(once.state, crit, policy, at(1))
    assert twice.state.attempt == 1
    assert twice.stale


def test_never_run_check_is_pending():
    state = CheckState.initial()
    assert state.pending
    assert state.display_status == "PENDING"
    assert not state.hard_problem


def test_naive_now_is_rejected_with_a_clear_message():
    with pytest.raises(NaiveDatetimeError, match="now must be timezone-aware"):
        next_state(
            CheckState.initial(),
            Result(Status.OK, "", started_at=T0),
            CheckPolicy(),
            datetime(2024, 5, 6, 9, 0),  # naive on purpose
        )


def test_lowering_max_attempts_below_the_current_attempt_makes_the_problem_hard():
    transitions, _ = run("O C C", CheckPolicy(max_attempts=5))
    state = transitions[-1].state
    t = next_state(state, Result(Status.CRITICAL, "", started_at=at(3)), CheckPolicy(), at(3))
    assert t.state.state_type is StateType.HARD
    assert [f.kind for f in t.flips] == [FlipKind.PROBLEM]


def test_state_survives_a_round_trip_through_its_stored_form():
    transitions, _ = run("O C C C W/p/m", CheckPolicy())
    state = transitions[-1].state
    assert CheckState.from_dict(state.to_dict()) == state


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"status": "DOWN"}, "status must be one of OK, WARNING", id="unknown status"),
        pytest.param({"attempt": 0}, "attempt must be a whole number of at least 1",
                     id="attempt 0"),
        pytest.param({"flap_history": "01x"}, "flap_history must be a string of 0 and 1",
                     id="garbage flap history"),
        pytest.param({"since": "2024-05-06T09:00:00"}, "since must be timezone-aware",
                     id="naive stored time"),
        pytest.param({"status": "OK", "state_type": "SOFT"}, "must be HARD while status is OK",
                     id="soft OK"),
    ],
)
def test_stored_state_with_bad_values_is_rejected(data, message):
    with pytest.raises(StateError, match=message):
        CheckState.from_dict(data)


# --- CheckPolicy ---------------------------------------------------------------------------


def test_policy_defaults_follow_icinga():
    policy = CheckPolicy()
    assert (policy.max_attempts, policy.flap_low_threshold, policy.flap_high_threshold) == (
        3, 25.0, 30.0,
    )
    assert policy.flap_history_states == 21
    assert policy.retry_seconds == 30.0


def test_policy_retry_interval_defaults_to_interval_when_interval_is_short():
    assert CheckPolicy(interval=10).retry_seconds == 10.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param({"interval": 0}, "interval must be at least 5 s, got 0", id="interval 0"),
        pytest.param({"interval": 90_000}, "interval must be at most 86400 s", id="interval > day"),
        pytest.param({"interval": "60"}, "interval must be a number, got '60'", id="interval str"),
        pytest.param({"interval": float("nan")}, "interval must be a finite number",
                     id="interval NaN"),
        pytest.param({"retry_interval": 1}, "retry_interval must be at least 5 s, got 1",
                     id="retry too short"),
        pytest.param({"max_attempts": 0}, "max_attempts must be between 1 and 100, got 0",
                     id="max_attempts 0"),
        pytest.param({"max_attempts": 2.5}, "max_attempts must be a whole number, got 2.5",
                     id="max_attempts fractional"),
        pytest.param({"max_attempts": True}, "max_attempts must be a whole number, got True",
                     id="max_attempts bool"),
        pytest.param({"flap_low_threshold": 40}, r"flap_low_threshold \(40 %\) must not be above "
                     r"flap_high_threshold \(30 %\)", id="low above high"),
        pytest.param({"flap_high_threshold": 120}, "flap_high_threshold must be a percentage",
                     id="high above 100"),
        pytest.param({"flap_history_states": 2}, "flap_history_states must be between 3 and 64",
                     id="history too short"),
        pytest.param({"flap_detection": "yes"}, "flap_detection must be true or false",
                     id="flap_detection str"),
    ],
)
def test_policy_rejects_bad_values_naming_field_and_value(args, message):
    with pytest.raises(PolicyError, match=message):
        CheckPolicy(**args)


def test_policy_is_immutable():
    policy = CheckPolicy()
    with pytest.raises(AttributeError):
        policy.interval = 5  # type: ignore[misc]
    assert replace(policy, interval=120).interval == 120.0


# --- invariants over random result streams ---------------------------------------------------

STEP = st.tuples(
    st.sampled_from(list(Status)), st.booleans(), st.booleans()
)  # (status, parents_down, in_maintenance)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(STEP, min_size=1, max_size=60),
    max_attempts=st.integers(min_value=1, max_value=4),
    flap_detection=st.booleans(),
)
def test_alert_flips_form_a_consistent_story(steps, max_attempts, flap_detection):
    policy = CheckPolicy(
        interval=60, retry_interval=10, max_attempts=max_attempts,
        flap_detection=flap_detection, **HAND_FLAP,
    )
    state = CheckState.initial()
    heard: Status | None = None  # what the alert pipeline was last told
    for i, (status, parents_down, maintenance) in enumerate(steps):
        t = next_state(
            state, Result(status, "", started_at=at(i)), policy, at(i),
            parents_down=parents_down, in_maintenance=maintenance,
        )
        new = t.state
        for flip in t.flips:
            assert flip.muted_by == ("maintenance" if maintenance else None)
            if not flip.kind.is_alert:
                continue
            # Each alert continues from the previous one and tells something new.
            if heard is None:
                assert flip.old_status in (None, Status.OK)  # nothing or a silent first OK
            else:
                assert flip.old_status == heard
            assert flip.new_status != flip.old_status
            assert flip.kind is not FlipKind.RECOVERY or heard not in (None, Status.OK)
            assert not new.flapping
            if flip.kind is not FlipKind.RECOVERY:
                assert new.reachable
            heard = flip.new_status
        assert 1 <= new.attempt <= max_attempts
        assert status is not Status.OK or new.state_type is StateType.HARD
        delay = (t.next_run_at - at(i)).total_seconds()
        assert delay == (10 if new.state_type is StateType.SOFT else 60)
        state = new
    # Nothing silently lost: unless held back right now, the pipeline knows the hard status.
    if state.state_type is StateType.HARD and not state.flapping and (
        state.reachable or state.status is Status.OK
    ):
        assert state.notified_status == state.status


def test_flips_judged_while_the_poller_is_offline_reach_the_pipeline_muted_by_that_reason():
    now = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    policy = CheckPolicy(max_attempts=1)
    ok = next_state(CheckState.initial(), Result(Status.OK, "fine", now), policy, now)
    later = now + timedelta(minutes=1)
    blind = Result(Status.UNKNOWN, "poller offline: all reference targets unreachable", later)
    out = next_state(ok.state, blind, policy, later, muted_by="poller_offline")
    assert [(f.kind.value, f.muted_by) for f in out.flips] == [("problem", "poller_offline")]
    both = next_state(ok.state, blind, policy, later, muted_by="poller_offline",
                      in_maintenance=True)
    assert {f.muted_by for f in both.flips} == {"maintenance"}  # maintenance says more
