"""SLA clocks replayed from timelines: pause while pending, priority changes, reopen, thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.incidents.events import IncidentEvent
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.sla import (
    DEFAULT_TARGETS,
    ClockState,
    SlaError,
    SlaPolicy,
    SlaTargets,
    sla_clock,
    sla_events_due,
)

T0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def at(value: float) -> datetime:
    return T0 + minutes(value)


def maybe_at(value: float | None) -> datetime | None:
    return None if value is None else at(value)


# Round numbers so each expectation below can be checked by hand:
# P1 ack 10 / resolve 60, P2 ack 20 / resolve 120, P3 40 / 240, P4 80 / 480 (minutes).
POLICY = SlaPolicy.from_minutes(
    {
        "P1": {"acknowledge": 10, "resolve": 60},
        "P2": {"acknowledge": 20, "resolve": 120},
        "P3": {"acknowledge": 40, "resolve": 240},
        "P4": {"acknowledge": 80, "resolve": 480},
    }
)

TRIGGER = (0, "triggered", {"priority": "P2"})


def ack(m):
    return (m, "acknowledged", {})


def pending(m):
    return (m, "pending", {"reason": "vendor"})


def resumed(m, status):
    return (m, "resumed", {"status": status})


def resolved(m):
    return (m, "resolved", {"note": "fixed"})


def reopened(m):
    return (m, "reopened", {"reason": ""})


def priority(m, old, new):
    return (m, "priority_changed", {"from": old, "to": new})


def timeline(*entries) -> list[IncidentEvent]:
    return [IncidentEvent(kind, at(m), "someone", data) for m, kind, data in entries]


# (entries, now in minutes, expected ack (elapsed, state, paused, breached, target),
#  expected resolve (same))
CASES = [
    pytest.param(
        [TRIGGER],
        5,
        (5, "ok", False, False, 20),
        (5, "ok", False, False, 120),
        id="fresh-incident-both-clocks-run",
    ),
    pytest.param(
        [TRIGGER],
        15,
        (15, "warning", False, False, 20),
        (15, "ok", False, False, 120),
        id="ack-clock-warns-at-75-percent",
    ),
    pytest.param(
        [TRIGGER],
        20,
        (20, "breached", False, True, 20),
        (20, "ok", False, False, 120),
        id="ack-clock-breaches-at-100-percent",
    ),
    pytest.param(
        [TRIGGER, ack(8)],
        60,
        (8, "stopped", False, False, 20),
        (60, "ok", False, False, 120),
        id="ack-stops-ack-clock-only",
    ),
    pytest.param(
        [TRIGGER, ack(25)],
        30,
        (25, "stopped", False, True, 20),
        (30, "ok", False, False, 120),
        id="late-ack-stays-breached-when-stopped",
    ),
    pytest.param(
        [TRIGGER, pending(5)],
        50,
        (5, "ok", True, False, 20),
        (5, "ok", True, False, 120),
        id="pending-pauses-both-clocks",
    ),
    pytest.param(
        [TRIGGER, pending(5), resumed(65, "triggered")],
        70,
        (10, "ok", False, False, 20),
        (10, "ok", False, False, 120),
        id="resume-continues-without-the-paused-hour",
    ),
    pytest.param(
        [TRIGGER, ack(5), pending(10), resumed(70, "acknowledged")],
        100,
        (5, "stopped", False, False, 20),
        (40, "ok", False, False, 120),
        id="pending-after-ack-pauses-resolve-clock",
    ),
    pytest.param(
        [TRIGGER, ack(5), pending(10)],
        300,
        (5, "stopped", False, False, 20),
        (10, "ok", True, False, 120),
        id="a-long-pending-never-breaches",
    ),
    pytest.param(
        [TRIGGER, ack(5), resolved(50)],
        200,
        (5, "stopped", False, False, 20),
        (50, "stopped", False, False, 120),
        id="resolve-stops-resolve-clock",
    ),
    pytest.param(
        [TRIGGER, ack(5), resolved(50), reopened(100)],
        130,
        (5, "stopped", False, False, 20),
        (80, "ok", False, False, 120),
        id="reopen-resumes-resolve-clock-not-counting-resolved-time",
    ),
    pytest.param(
        [TRIGGER, resolved(10), reopened(30)],
        35,
        (15, "warning", False, False, 20),
        (15, "ok", False, False, 120),
        id="reopen-of-never-acked-incident-resumes-ack-clock",
    ),
    pytest.param(
        [TRIGGER, ack(5), (20, "unacknowledged", {"reason": "timeout"})],
        40,
        (5, "stopped", False, False, 20),
        (40, "ok", False, False, 120),
        id="ack-timeout-does-not-restart-the-ack-clock",
    ),
    pytest.param(
        [TRIGGER, priority(12, "P2", "P1")],
        12,
        (12, "breached", False, True, 10),
        (12, "ok", False, False, 60),
        id="raising-priority-applies-new-target-at-once",
    ),
    pytest.param(
        [TRIGGER, priority(16, "P2", "P3")],
        17,
        (17, "ok", False, False, 40),
        (17, "ok", False, False, 240),
        id="lowering-priority-gives-more-room",
    ),
    pytest.param(
        [TRIGGER, ack(15), priority(20, "P2", "P1")],
        30,
        (15, "stopped", False, False, 20),
        (30, "ok", False, False, 60),
        id="stopped-clock-keeps-the-target-it-stopped-under",
    ),
    pytest.param(
        [TRIGGER, ack(5), resolved(100), priority(110, "P2", "P1")],
        115,
        (5, "stopped", False, False, 20),
        (100, "stopped", False, False, 120),
        id="priority-change-after-resolve-does-not-rewrite-the-sla",
    ),
    pytest.param(
        [TRIGGER, ack(5), resolved(100), priority(110, "P2", "P1"), reopened(120)],
        121,
        (5, "stopped", False, False, 20),
        (101, "breached", False, True, 60),
        id="reopen-measures-against-the-current-priority",
    ),
]


@pytest.mark.parametrize(("entries", "now", "ack_expected", "resolve_expected"), CASES)
def test_clock_readings(entries, now, ack_expected, resolve_expected):
    status = sla_clock(POLICY, timeline(*entries), at(now))
    for reading, (elapsed, state, paused, breached, target) in (
        (status.acknowledge, ack_expected),
        (status.resolve, resolve_expected),
    ):
        assert (
            reading.elapsed,
            reading.state,
            reading.paused,
            reading.breached,
            reading.target,
        ) == (minutes(elapsed), ClockState(state), paused, breached, minutes(target)), reading.clock
        assert reading.remaining == minutes(target - elapsed)
        assert reading.percent == pytest.approx(elapsed / target * 100)


@pytest.mark.parametrize(
    ("entries", "now", "ack_next", "resolve_next", "next_check"),
    [
        pytest.param([TRIGGER], 5, 15, 90, 15, id="next-is-the-ack-warning"),
        pytest.param([TRIGGER], 16, 20, 90, 20, id="after-warning-next-is-the-breach"),
        pytest.param([TRIGGER], 25, None, 90, 90, id="breached-clock-has-no-next-threshold"),
        pytest.param([TRIGGER, ack(5)], 95, None, 120, 120, id="only-resolve-clock-left"),
        pytest.param([TRIGGER, pending(5)], 50, None, None, None, id="paused-clocks-wait"),
        pytest.param(
            [TRIGGER, pending(5), resumed(65, "triggered")],
            70,
            75,
            150,
            75,
            id="thresholds-move-by-the-pause",
        ),
        pytest.param([TRIGGER, ack(5), resolved(30)], 40, None, None, None, id="all-stopped"),
    ],
)
def test_the_worker_is_told_when_to_look_again(entries, now, ack_next, resolve_next, next_check):
    status = sla_clock(POLICY, timeline(*entries), at(now))
    assert status.acknowledge.next_threshold_at == maybe_at(ack_next)
    assert status.resolve.next_threshold_at == maybe_at(resolve_next)
    assert status.next_check_at == maybe_at(next_check)


def test_a_running_clock_has_a_deadline_and_a_paused_one_has_none():
    running = sla_clock(POLICY, timeline(TRIGGER), at(5))
    assert running.acknowledge.deadline == at(20) and running.resolve.deadline == at(120)
    paused = sla_clock(POLICY, timeline(TRIGGER, pending(5)), at(6))
    assert paused.acknowledge.deadline is None and paused.resolve.deadline is None


def test_events_after_now_do_not_count_so_the_past_can_be_asked():
    entries = timeline(TRIGGER, ack(30))
    assert sla_clock(POLICY, entries, at(10)).acknowledge.state is ClockState.OK
    assert sla_clock(POLICY, entries, at(10)).acknowledge.elapsed == minutes(10)


def test_event_order_in_the_list_does_not_matter():
    entries = timeline(TRIGGER, ack(5), pending(10), resumed(70, "acknowledged"))
    forward = sla_clock(POLICY, entries, at(100))
    backward = sla_clock(POLICY, list(reversed(entries)), at(100))
    assert forward == backward


def test_the_default_policy_covers_every_priority():
    policy = SlaPolicy()
    assert set(policy.targets) == set(Priority)
    assert policy.targets[Priority.P1] == DEFAULT_TARGETS[Priority.P1]
    assert policy.targets[Priority.P1].acknowledge < policy.targets[Priority.P4].acknowledge


class TestBadInput:
    @pytest.mark.parametrize(
        ("entries", "message"),
        [
            pytest.param([], "must start with a 'triggered' event", id="empty"),
            pytest.param([ack(0)], "must start with a 'triggered' event", id="starts-with-ack"),
            pytest.param(
                [(0, "triggered", {})],
                "triggered event .*P1, P2, P3, P4, got None",
                id="trigger-without-priority",
            ),
            pytest.param(
                [TRIGGER, (5, "triggered", {"priority": "P1"})],
                "a second 'triggered' event",
                id="two-triggers",
            ),
            pytest.param(
                [TRIGGER, (5, "priority_changed", {"to": "P7"})],
                "priority_changed event .*got 'P7'",
                id="bad-priority-change",
            ),
        ],
    )
    def test_unusable_timelines_are_refused(self, entries, message):
        with pytest.raises(SlaError, match=message):
            sla_clock(POLICY, timeline(*entries), at(10))

    def test_a_naive_now_is_refused(self):
        with pytest.raises(SlaError, match="now must be timezone-aware"):
            sla_clock(POLICY, timeline(TRIGGER), datetime(2024, 5, 1, 3))

    @pytest.mark.parametrize(
        ("make", "message"),
        [
            pytest.param(
                lambda: SlaPolicy(targets={Priority.P1: DEFAULT_TARGETS[Priority.P1]}),
                "no targets for P2, P3, P4",
                id="missing-priorities",
            ),
            pytest.param(
                lambda: SlaPolicy(warn_at=1.0),
                "warn_at must be between 0 and 1",
                id="warn-at-100-percent",
            ),
            pytest.param(
                lambda: SlaPolicy(
                    targets={
                        **DEFAULT_TARGETS,
                        Priority.P3: SlaTargets(timedelta(0), timedelta(hours=1)),
                    }
                ),
                "P3: time to acknowledge must be a positive",
                id="zero-target",
            ),
            pytest.param(
                lambda: SlaPolicy.from_minutes({"P1": {"acknowledge": 5}}),
                "P1: needs numeric 'acknowledge' and 'resolve' minutes",
                id="config-missing-resolve",
            ),
            pytest.param(
                lambda: SlaPolicy.from_minutes(
                    {p: {"acknowledge": 1, "resolve": 2} for p in ("P1", "P2", "P3", "P9")}
                ),
                "P1, P2, P3, P4, got 'P9'",
                id="config-unknown-priority",
            ),
        ],
    )
    def test_invalid_policies_are_refused(self, make, message):
        with pytest.raises(SlaError, match=message):
            make()


class TestSlaEventsDue:
    def kinds(self, events):
        return [(e.kind.value, e.data["clock"]) for e in events]

    def test_nothing_is_due_while_clocks_are_ok(self):
        assert sla_events_due(POLICY, timeline(TRIGGER), at(5)) == []

    def test_a_warning_is_due_once(self):
        entries = timeline(TRIGGER)
        due = sla_events_due(POLICY, entries, at(16))
        assert self.kinds(due) == [("sla_warning", "acknowledge")]
        assert due[0].at == at(16) and due[0].actor == "sla"
        assert due[0].data["elapsed_s"] == 16 * 60 and due[0].data["target_s"] == 20 * 60
        assert sla_events_due(POLICY, entries + due, at(17)) == []

    def test_a_clock_that_jumped_past_its_target_gets_warning_and_breach(self):
        entries = timeline(TRIGGER, priority(12, "P2", "P1"))
        assert self.kinds(sla_events_due(POLICY, entries, at(12))) == [
            ("sla_warning", "acknowledge"),
            ("sla_breached", "acknowledge"),
        ]

    def test_only_the_missing_breach_is_due_after_a_recorded_warning(self):
        entries = timeline(TRIGGER, (16, "sla_warning", {"clock": "acknowledge"}))
        assert self.kinds(sla_events_due(POLICY, entries, at(21))) == [
            ("sla_breached", "acknowledge")
        ]

    def test_a_stopped_clock_reports_nothing(self):
        entries = timeline(TRIGGER, ack(25))
        assert sla_events_due(POLICY, entries, at(30)) == []

    def test_both_clocks_report_independently(self):
        entries = timeline(
            TRIGGER,
            (16, "sla_warning", {"clock": "acknowledge"}),
            (20, "sla_breached", {"clock": "acknowledge"}),
        )
        assert self.kinds(sla_events_due(POLICY, entries, at(95))) == [("sla_warning", "resolve")]


def test_an_event_kind_that_changes_nothing_leaves_the_clocks_alone():
    plain = sla_clock(POLICY, timeline(TRIGGER), at(30))
    noisy = sla_clock(
        POLICY,
        timeline(
            TRIGGER,
            (3, "note", {"text": "hi"}),
            (4, "alert", {}),
            (5, "escalation_notified", {"cycle": 0, "position": 0}),
        ),
        at(30),
    )
    assert plain == noisy
