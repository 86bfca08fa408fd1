"""Escalation replayed from timelines: schedule, repeat, ack stops it, ack timeout, breach bumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.incidents.escalation import (
    EscalationError,
    EscalationPolicy,
    EscalationStep,
    escalation_due,
    notified_event,
)
from dutydesk.incidents.events import IncidentEvent

T0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# First line at 0, second line at 10, shift lead at 30; once more at 60, 70, 90.
POLICY = EscalationPolicy(
    steps=(
        EscalationStep(("first_line",), 10),
        EscalationStep(("second_line",), 20),
        EscalationStep(("shift_lead", "user:olena"), 30),
    ),
    repeat=1,
    ack_timeout_minutes=60,
)
TARGETS = {0: ("first_line",), 1: ("second_line",), 2: ("shift_lead", "user:olena")}

TRIGGER = (0, "triggered", {"priority": "P2"})


def sent(m, position, cycle=0):
    return (m, "escalation_notified", {"cycle": cycle, "position": position})


def timeline(*entries) -> list[IncidentEvent]:
    return [IncidentEvent(kind, at(m), "someone", data) for m, kind, data in entries]


def due_list(status):
    return [(n.cycle, n.position, n.due_at) for n in status.due]


SCHEDULE_CASES = [
    # (entries, now, due [(cycle, position, minute)], current position, next due minute, active)
    pytest.param([TRIGGER], 0, [(0, 0, 0)], 0, 10, True, id="first-line-at-once"),
    pytest.param([TRIGGER, sent(0, 0)], 9, [], 0, 10, True, id="waiting-on-first-line"),
    pytest.param(
        [TRIGGER, sent(0, 0)], 10, [(0, 1, 10)], 1, 30, True, id="second-line-after-10-min"
    ),
    pytest.param(
        [TRIGGER, sent(0, 0), sent(10, 1)],
        30,
        [(0, 2, 30)],
        2,
        60,
        True,
        id="shift-lead-after-20-more",
    ),
    pytest.param(
        [TRIGGER],
        35,
        [(0, 0, 0), (0, 1, 10), (0, 2, 30)],
        2,
        60,
        True,
        id="late-worker-gets-every-missed-step",
    ),
    pytest.param(
        [TRIGGER, sent(0, 0), sent(10, 1), sent(30, 2)],
        60,
        [(0, 3, 60)],
        3,
        70,
        True,
        id="repeat-starts-over-with-first-line",
    ),
    pytest.param(
        [TRIGGER, *[sent(m, p) for p, m in enumerate((0, 10, 30, 60, 70))]],
        90,
        [(0, 5, 90)],
        5,
        None,
        False,
        id="last-step-of-last-round",
    ),
    pytest.param(
        [TRIGGER, *[sent(m, p) for p, m in enumerate((0, 10, 30, 60, 70, 90))]],
        500,
        [],
        5,
        None,
        False,
        id="exhausted-nothing-more",
    ),
]


@pytest.mark.parametrize(("entries", "now", "due", "current", "next_due", "active"), SCHEDULE_CASES)
def test_unacknowledged_schedule(entries, now, due, current, next_due, active):
    status = escalation_due(POLICY, timeline(*entries), at(now))
    assert due_list(status) == [(c, p, at(m)) for c, p, m in due]
    assert status.current is not None and status.current.position == current
    assert status.current.targets == TARGETS[current % 3]
    assert status.next_due_at == (None if next_due is None else at(next_due))
    assert status.active is active
    assert status.retrigger_at is None and not status.retrigger_due


def test_due_notifications_say_which_step_and_round():
    status = escalation_due(POLICY, timeline(TRIGGER, sent(0, 0), sent(10, 1), sent(30, 2)), at(70))
    assert [(n.step, n.round, n.targets) for n in status.due] == [
        (0, 1, ("first_line",)),
        (1, 1, ("second_line",)),
    ]


class TestAcknowledgement:
    def test_acknowledgement_stops_escalation(self):
        status = escalation_due(
            POLICY, timeline(TRIGGER, sent(0, 0), (5, "acknowledged", {})), at(50)
        )
        assert status.due == () and not status.active
        assert status.current.position == 0  # second line was never due
        assert status.next_due_at == at(65)  # only the acknowledgement timeout is ahead

    def test_a_step_the_worker_missed_before_the_ack_is_not_sent_after_it(self):
        status = escalation_due(
            POLICY, timeline(TRIGGER, sent(0, 0), (12, "acknowledged", {})), at(13)
        )
        assert status.due == ()

    @pytest.mark.parametrize(
        ("now", "retrigger_due"),
        [
            pytest.param(71, False, id="before-the-timeout"),
            pytest.param(72, True, id="at-the-timeout"),
            pytest.param(100, True, id="after-the-timeout"),
        ],
    )
    def test_the_acknowledgement_timeout_asks_for_a_retrigger(self, now, retrigger_due):
        status = escalation_due(
            POLICY, timeline(TRIGGER, sent(0, 0), (12, "acknowledged", {})), at(now)
        )
        assert status.retrigger_at == at(72)
        assert status.retrigger_due is retrigger_due
        assert status.next_due_at == (None if retrigger_due else at(72))

    def test_a_retrigger_starts_a_new_cycle_from_the_first_step(self):
        entries = timeline(
            TRIGGER,
            sent(0, 0),
            (12, "acknowledged", {}),
            (72, "unacknowledged", {"reason": "acknowledgement timeout"}),
        )
        status = escalation_due(POLICY, entries, at(72))
        assert status.cycle == 1 and status.active
        assert due_list(status) == [(1, 0, at(72))]  # position 0 of cycle 0 was sent; not this
        assert status.next_due_at == at(82)
        assert status.retrigger_at is None

    def test_without_a_timeout_an_acknowledged_incident_stays_quiet(self):
        policy = EscalationPolicy(steps=POLICY.steps)
        status = escalation_due(policy, timeline(TRIGGER, (5, "acknowledged", {})), at(500))
        assert status.retrigger_at is None and status.next_due_at is None and status.due == ()

    def test_resuming_an_acknowledged_incident_restarts_the_timeout(self):
        entries = timeline(
            TRIGGER,
            (5, "acknowledged", {}),
            (10, "pending", {"reason": "v"}),
            (100, "resumed", {"status": "acknowledged"}),
        )
        status = escalation_due(POLICY, entries, at(120))
        assert status.retrigger_at == at(160) and status.due == ()


class TestBreachAndManualEscalation:
    def test_an_sla_breach_makes_the_next_step_due_at_once(self):
        entries = timeline(TRIGGER, sent(0, 0), (3, "sla_breached", {"clock": "acknowledge"}))
        status = escalation_due(POLICY, entries, at(3))
        assert due_list(status) == [(0, 1, at(3))]
        assert status.next_due_at == at(23)  # the schedule continues from the bump

    def test_two_manual_escalations_skip_two_steps(self):
        entries = timeline(
            TRIGGER, sent(0, 0), (3, "escalated", {}), sent(3, 1), (4, "escalated", {})
        )
        status = escalation_due(POLICY, entries, at(4))
        assert due_list(status) == [(0, 2, at(4))]
        assert status.next_due_at == at(34)

    def test_a_breach_on_an_acknowledged_incident_tells_the_next_line_once(self):
        entries = timeline(
            TRIGGER, sent(0, 0), (5, "acknowledged", {}), (40, "sla_breached", {"clock": "resolve"})
        )
        status = escalation_due(POLICY, entries, at(41))
        assert due_list(status) == [(0, 1, at(40))]
        assert not status.active
        after = escalation_due(POLICY, [*entries, notified_event(status.due[0], at(41))], at(50))
        assert after.due == ()

    def test_a_breach_after_the_last_step_has_nowhere_to_go(self):
        entries = timeline(
            TRIGGER,
            *[sent(m, p) for p, m in enumerate((0, 10, 30, 60, 70, 90))],
            (100, "sla_breached", {"clock": "resolve"}),
        )
        status = escalation_due(POLICY, entries, at(100))
        assert status.due == () and status.exhausted

    def test_a_breach_on_a_resolved_incident_changes_nothing(self):
        entries = timeline(
            TRIGGER,
            sent(0, 0),
            (5, "resolved", {"note": "x"}),
            (6, "sla_breached", {"clock": "acknowledge"}),
        )
        status = escalation_due(POLICY, entries, at(20))
        assert status.due == () and not status.active and status.retrigger_at is None


def changed(m, to="fast"):
    return (m, "escalation_policy_changed", {"from": "standard", "to": to, "reason": "r"})


# Every 5 minutes, three rounds: positions due at 0, 5, 10, ... 40 when run from the start.
FAST = EscalationPolicy(
    steps=(
        EscalationStep(("first_line",), 5),
        EscalationStep(("second_line",), 5),
        EscalationStep(("shift_lead",), 5),
    ),
    repeat=2,
)
SLOW = EscalationPolicy(
    steps=(EscalationStep(("first_line",), 60), EscalationStep(("second_line",), 60)),
    repeat=1,
)


class TestPolicyChange:
    """``policy`` is the one in force now; the timeline before the change ran under POLICY."""

    def test_a_faster_policy_pages_the_next_step_at_once_and_not_a_burst(self):
        # POLICY paged first line at 0 and second line at 10; at 25 someone picks FAST. Replayed
        # from the start FAST would owe positions 2..5; only the next one is due, at once.
        entries = timeline(TRIGGER, sent(0, 0), sent(10, 1), changed(25))
        status = escalation_due(FAST, entries, at(25))
        assert due_list(status) == [(0, 2, at(25))]
        assert status.next_due_at == at(30)  # then FAST's own rhythm

    def test_the_next_step_after_a_change_waits_the_new_delay_from_the_last_page(self):
        entries = timeline(TRIGGER, sent(0, 0), changed(2))
        status = escalation_due(FAST, entries, at(2))
        assert status.due == () and status.next_due_at == at(5)

    def test_a_slower_policy_postpones_the_next_step(self):
        # Two steps were paged under POLICY; SLOW's next step comes 60 min after the last page,
        # not when SLOW replayed from the start would have reached it (120).
        entries = timeline(TRIGGER, sent(0, 0), sent(10, 1), changed(15, "slow"))
        assert escalation_due(SLOW, entries, at(69)).due == ()
        status = escalation_due(SLOW, entries, at(70))
        assert due_list(status) == [(0, 2, at(70))]
        assert status.current is not None and status.current.targets == ("first_line",)

    def test_a_change_before_the_first_page_keeps_the_first_step_due(self):
        entries = timeline(TRIGGER, changed(0))
        status = escalation_due(FAST, entries, at(0))
        assert due_list(status) == [(0, 0, at(0))]
        assert status.next_due_at == at(5)

    def test_a_policy_with_fewer_steps_than_were_paged_has_nothing_left(self):
        one_step = EscalationPolicy(steps=(EscalationStep(("first_line",), 5),))
        entries = timeline(TRIGGER, sent(0, 0), sent(10, 1), sent(30, 2), changed(31))
        status = escalation_due(one_step, entries, at(90))
        assert status.due == () and status.exhausted and not status.active

    def test_a_cycle_after_the_change_runs_the_new_policy_from_its_first_step(self):
        entries = timeline(
            TRIGGER, sent(0, 0), changed(2), (3, "acknowledged", {}),
            (4, "unacknowledged", {"reason": "r"}),
        )
        status = escalation_due(FAST, entries, at(9))
        assert due_list(status) == [(1, 0, at(4)), (1, 1, at(9))]


class TestNewCycles:
    @pytest.mark.parametrize(
        "restart",
        [
            pytest.param(
                [(5, "resolved", {"note": "x"}), (50, "reopened", {"reason": ""})], id="reopen"
            ),
            pytest.param(
                [(5, "pending", {"reason": "v"}), (50, "resumed", {"status": "triggered"})],
                id="resume-unowned",
            ),
            pytest.param(
                [(5, "acknowledged", {}), (50, "unacknowledged", {"reason": "r"})],
                id="ack-withdrawn",
            ),
        ],
    )
    def test_re_entering_triggered_starts_from_the_first_step(self, restart):
        entries = timeline(TRIGGER, sent(0, 0), *restart)
        status = escalation_due(POLICY, entries, at(55))
        assert status.cycle == 1 and status.active
        assert due_list(status) == [(1, 0, at(50))]
        assert status.next_due_at == at(60)

    def test_notified_event_round_trips_through_the_timeline(self):
        status = escalation_due(POLICY, timeline(TRIGGER), at(0))
        event = notified_event(status.due[0], at(0))
        assert event.kind.value == "escalation_notified" and event.actor == "escalation"
        assert event.data["targets"] == ["first_line"]
        assert escalation_due(POLICY, [*timeline(TRIGGER), event], at(1)).due == ()


class TestBadInput:
    @pytest.mark.parametrize(
        ("make", "message"),
        [
            pytest.param(lambda: EscalationPolicy(steps=()), "at least one step", id="no-steps"),
            pytest.param(lambda: EscalationStep((), 5), "at least one target", id="no-targets"),
            pytest.param(
                lambda: EscalationStep(("night_shift",), 5),
                "first_line, second_line, shift_lead or user:<login>, got 'night_shift'",
                id="unknown-role",
            ),
            pytest.param(lambda: EscalationStep(("user:",), 5), "got 'user:'", id="user-no-name"),
            pytest.param(
                lambda: EscalationStep(("first_line", "first_line"), 5),
                "twice",
                id="duplicate-target",
            ),
            pytest.param(
                lambda: EscalationStep(("first_line",), 0), "minutes >= 1, got 0", id="zero-delay"
            ),
            pytest.param(
                lambda: EscalationStep(("first_line",), 2.5), "got 2.5", id="fractional-delay"
            ),
            pytest.param(
                lambda: EscalationPolicy(steps=POLICY.steps, repeat=10),
                "between 0 and 9, got 10",
                id="too-many-repeats",
            ),
            pytest.param(
                lambda: EscalationPolicy(steps=POLICY.steps, ack_timeout_minutes=0),
                "acknowledgement timeout .* got 0",
                id="zero-ack-timeout",
            ),
        ],
    )
    def test_invalid_policies_are_refused(self, make, message):
        with pytest.raises(EscalationError, match=message):
            make()

    def test_a_single_target_string_is_accepted(self):
        assert EscalationStep("shift_lead", 5).targets == ("shift_lead",)

    @pytest.mark.parametrize(
        ("entries", "message"),
        [
            pytest.param([], "must start with a 'triggered' event", id="empty"),
            pytest.param(
                [(0, "acknowledged", {})], "must start with a 'triggered'", id="starts-with-ack"
            ),
            pytest.param(
                [TRIGGER, (1, "escalation_notified", {"cycle": "x"})],
                "needs integer 'cycle' and 'position'",
                id="bad-notified-record",
            ),
        ],
    )
    def test_unusable_timelines_are_refused(self, entries, message):
        with pytest.raises(EscalationError, match=message):
            escalation_due(POLICY, timeline(*entries), at(5))

    def test_a_naive_now_is_refused(self):
        with pytest.raises(EscalationError, match="now must be timezone-aware"):
            escalation_due(POLICY, timeline(TRIGGER), datetime(2024, 5, 1, 3))
