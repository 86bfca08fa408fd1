"""Incident lifecycle: allowed and refused transitions, the events they leave, ping-pong counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.incidents.events import EventKind, IncidentEvent, IncidentStatus, replay_status
from dutydesk.incidents.lifecycle import (
    IncidentState,
    InvalidAction,
    Line,
    TransitionRefused,
    apply,
    open_incident,
)
from dutydesk.incidents.priority import Priority

T0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def opened() -> IncidentState:
    state, _ = open_incident(priority="P2", actor="check:ups-a", now=T0)
    return state


def run(*steps: tuple) -> tuple[IncidentState, list[IncidentEvent]]:
    """Apply (action, actor, minute, fields) steps to a fresh incident; return state + timeline."""
    state, timeline = open_incident(priority="P2", actor="check:ups-a", now=T0)
    for action, actor, minute, fields in steps:
        state, events = apply(state, action, actor, at(minute), **fields)
        timeline.extend(events)
    return state, timeline


ACK = ("acknowledge", "olena", 5, {})
PEND = ("pending", "olena", 10, {"reason": "waiting for the UPS vendor"})
RESUME = ("resume", "olena", 30, {})
RESOLVE = ("resolve", "olena", 40, {"note": "replaced the battery string"})
REOPEN = ("reopen", "alertmanager", 50, {"reason": "fired again"})


class TestOpening:
    def test_a_new_incident_is_triggered_on_first_line_with_one_event(self):
        state, events = open_incident(priority=2, actor="check:ups-a", now=T0, assignee="ivan")
        assert state.status is IncidentStatus.TRIGGERED
        assert state.priority is Priority.P2 and state.line is Line.FIRST
        assert state.assignee == "ivan" and state.lines_seen == (Line.FIRST,)
        assert [(e.kind, e.at, e.actor) for e in events] == [
            (EventKind.TRIGGERED, T0, "check:ups-a")
        ]
        assert events[0].data == {"priority": "P2", "line": "first_line", "assignee": "ivan"}

    def test_a_naive_time_is_refused(self):
        with pytest.raises(InvalidAction, match="now must be timezone-aware"):
            open_incident(priority="P2", actor="x", now=datetime(2024, 5, 1))


class TestAllowedTransitions:
    @pytest.mark.parametrize(
        ("steps", "status", "last_kind"),
        [
            pytest.param(
                [ACK], IncidentStatus.ACKNOWLEDGED, EventKind.ACKNOWLEDGED, id="triggered-ack"
            ),
            pytest.param([PEND], IncidentStatus.PENDING, EventKind.PENDING, id="triggered-pending"),
            pytest.param(
                [ACK, PEND], IncidentStatus.PENDING, EventKind.PENDING, id="acked-pending"
            ),
            pytest.param(
                [ACK, PEND, RESUME],
                IncidentStatus.ACKNOWLEDGED,
                EventKind.RESUMED,
                id="resume-returns-to-acknowledged",
            ),
            pytest.param(
                [PEND, RESUME],
                IncidentStatus.TRIGGERED,
                EventKind.RESUMED,
                id="resume-unowned-returns-to-triggered",
            ),
            pytest.param(
                [RESOLVE],
                IncidentStatus.RESOLVED,
                EventKind.RESOLVED,
                id="resolve-straight-from-triggered",
            ),
            pytest.param(
                [PEND, RESOLVE],
                IncidentStatus.RESOLVED,
                EventKind.RESOLVED,
                id="resolve-from-pending",
            ),
            pytest.param(
                [ACK, RESOLVE, REOPEN],
                IncidentStatus.TRIGGERED,
                EventKind.REOPENED,
                id="reopen-goes-back-to-triggered",
            ),
            pytest.param(
                [ACK, ("unacknowledge", "escalation", 20, {"reason": "acknowledgement timeout"})],
                IncidentStatus.TRIGGERED,
                EventKind.UNACKNOWLEDGED,
                id="ack-timeout-retriggers",
            ),
        ],
    )
    def test_the_incident_moves_and_leaves_an_event(self, steps, status, last_kind):
        state, timeline = run(*steps)
        assert state.status is status
        assert timeline[-1].kind is last_kind
        assert replay_status(timeline) is status  # events tell the same story as the state

    def test_acknowledging_records_who_and_when(self):
        state, _ = run(ACK)
        assert (state.acknowledged_by, state.acknowledged_at) == ("olena", at(5))

    def test_resolving_keeps_the_note_and_clears_the_pending_reason(self):
        state, timeline = run(PEND, RESOLVE)
        assert state.resolution_note == "replaced the battery string"
        assert state.pending_reason is None and state.resolved_by == "olena"
        assert timeline[-1].data == {"note": "replaced the battery string"}

    def test_reopening_clears_acknowledgement_and_resolution_and_counts(self):
        state, _ = run(ACK, RESOLVE, REOPEN)
        assert state.acknowledged_by is None and state.resolved_at is None
        assert state.resolution_note is None and state.reopen_count == 1

    def test_a_note_and_an_escalation_only_add_events(self):
        before = opened()
        after, events = apply(before, "note", "olena", at(1), text="  called the vendor  ")
        assert after == before and events[0].data == {"text": "called the vendor"}
        after, events = apply(before, "escalate", "olena", at(2), reason="need DC manager")
        assert after == before and events[0].kind is EventKind.ESCALATED

    def test_changing_priority_records_old_and_new(self):
        state, events = apply(
            opened(),
            "change_priority",
            "lead",
            at(3),
            priority="P1",
            reason="whole hall B affected",
        )
        assert state.priority is Priority.P1
        assert events[0].data == {"from": "P2", "to": "P1", "reason": "whole hall B affected"}


class TestRefusedTransitions:
    @pytest.mark.parametrize(
        ("steps", "action", "fields", "code", "message"),
        [
            pytest.param(
                [RESOLVE],
                "acknowledge",
                {},
                "resolved",
                "cannot acknowledge: the incident was resolved by olena at "
                "2024-05-01 02:40 UTC; reopen it first",
                id="ack-on-resolved",
            ),
            pytest.param(
                [ACK],
                "acknowledge",
                {},
                "already_acknowledged",
                "already acknowledged by olena at 2024-05-01 02:05 UTC",
                id="second-ack-is-told-who-won",
            ),
            pytest.param(
                [PEND],
                "acknowledge",
                {},
                "pending",
                r"the incident is pending \(waiting for the UPS vendor\); resume it",
                id="ack-on-pending",
            ),
            pytest.param(
                [PEND],
                "pending",
                {"reason": "again"},
                "already_pending",
                "already pending",
                id="pending-twice",
            ),
            pytest.param(
                [RESOLVE],
                "pending",
                {"reason": "x"},
                "resolved",
                "cannot set pending: the incident was resolved",
                id="pending-resolved",
            ),
            pytest.param([], "resume", {}, "not_pending", "not pending", id="resume-triggered"),
            pytest.param(
                [RESOLVE],
                "resolve",
                {"note": "again"},
                "already_resolved",
                "already resolved by olena",
                id="resolve-twice",
            ),
            pytest.param(
                [ACK],
                "reopen",
                {},
                "not_resolved",
                "is acknowledged, not resolved",
                id="reopen-open",
            ),
            pytest.param(
                [],
                "unacknowledge",
                {"reason": "x"},
                "not_acknowledged",
                "the incident is triggered",
                id="unack-unacked",
            ),
            pytest.param(
                [RESOLVE],
                "reassign",
                {"line": "second_line", "reason": "x"},
                "resolved",
                "cannot reassign",
                id="reassign-resolved",
            ),
            pytest.param(
                [RESOLVE], "escalate", {}, "resolved", "cannot escalate", id="escalate-resolved"
            ),
            pytest.param(
                [],
                "reassign",
                {"line": "first_line", "reason": "x"},
                "already_assigned",
                "already assigned to first_line",
                id="reassign-to-same-line",
            ),
            pytest.param(
                [],
                "change_priority",
                {"priority": "P2"},
                "same_priority",
                "already P2",
                id="same-priority",
            ),
        ],
    )
    def test_the_state_forbids_it_and_says_why(self, steps, action, fields, code, message):
        state, _ = run(*steps)
        with pytest.raises(TransitionRefused, match=message) as caught:
            apply(state, action, "olena", at(60), **fields)
        assert caught.value.code == code

    @pytest.mark.parametrize(
        ("action", "fields", "message"),
        [
            pytest.param(
                "pending",
                {},
                "a reason is required to set an incident pending",
                id="pending-without-reason",
            ),
            pytest.param(
                "pending", {"reason": "   "}, "a reason is required", id="pending-blank-reason"
            ),
            pytest.param("resolve", {}, "a resolution note is required", id="resolve-no-note"),
            pytest.param(
                "resolve", {"note": ""}, "a resolution note is required", id="resolve-empty-note"
            ),
            pytest.param(
                "reassign",
                {"line": "second_line"},
                "a reason is required to reassign",
                id="reassign-no-reason",
            ),
            pytest.param(
                "reassign", {"reason": "x"}, "needs a line .* or an assignee", id="reassign-nowhere"
            ),
            pytest.param(
                "reassign",
                {"line": "third_line", "reason": "x"},
                "line must be first_line or second_line, got 'third_line'",
                id="reassign-unknown-line",
            ),
            pytest.param("note", {"text": ""}, "a note must not be empty", id="empty-note"),
            pytest.param(
                "change_priority", {"priority": "P9"}, "P1, P2, P3, P4, got 'P9'", id="bad-priority"
            ),
            pytest.param(
                "resolve",
                {"note": "ok", "colour": "red"},
                "unknown field 'colour' for action 'resolve'; allowed: note",
                id="unknown-field",
            ),
            pytest.param("resolve", {"note": 5}, "note must be text", id="note-not-text"),
            pytest.param("close", {}, "unknown action 'close'", id="unknown-action"),
        ],
    )
    def test_a_bad_request_is_refused_before_looking_at_the_state(self, action, fields, message):
        with pytest.raises(InvalidAction, match=message):
            apply(opened(), action, "olena", at(1), **fields)

    def test_an_action_needs_an_actor(self):
        with pytest.raises(InvalidAction, match="an actor"):
            apply(opened(), "acknowledge", " ", at(1))

    def test_one_of_two_concurrent_acks_wins_and_the_state_is_unchanged_for_the_loser(self):
        start = opened()
        winner, _ = apply(start, "acknowledge", "olena", at(1))
        with pytest.raises(TransitionRefused, match="already acknowledged by olena"):
            apply(winner, "acknowledge", "ivan", at(1))
        assert winner.acknowledged_by == "olena"


class TestReassignmentAndPingPong:
    @pytest.mark.parametrize(
        ("moves", "lines_seen", "ping_pong"),
        [
            pytest.param(
                ["second_line"],
                ("first_line", "second_line"),
                0,
                id="first-hand-over-is-not-ping-pong",
            ),
            pytest.param(
                ["second_line", "first_line"],
                ("first_line", "second_line"),
                1,
                id="handed-back-once",
            ),
            pytest.param(
                ["second_line", "first_line", "second_line"],
                ("first_line", "second_line"),
                2,
                id="back-and-forth-twice",
            ),
            pytest.param(
                ["second_line", "first_line", "second_line", "first_line"],
                ("first_line", "second_line"),
                3,
                id="three-hand-backs",
            ),
        ],
    )
    def test_hand_backs_to_a_line_seen_before_are_counted(self, moves, lines_seen, ping_pong):
        state = opened()
        for minute, line in enumerate(moves, start=1):
            state, events = apply(
                state, "reassign", "olena", at(minute), line=line, reason="needs a network engineer"
            )
        assert state.line.value == moves[-1]
        assert tuple(line.value for line in state.lines_seen) == lines_seen
        assert state.ping_pong_count == ping_pong
        assert events[0].data["hand_back"] is (ping_pong > 0)

    def test_reassigning_to_a_person_on_the_same_line_is_not_a_hand_back(self):
        state, events = apply(
            opened(), "reassign", "lead", at(1), assignee="ivan", reason="ivan knows this UPS"
        )
        assert state.assignee == "ivan" and state.line is Line.FIRST
        assert state.ping_pong_count == 0
        assert events[0].data == {
            "from_line": "first_line",
            "to_line": "first_line",
            "from_assignee": "",
            "to_assignee": "ivan",
            "reason": "ivan knows this UPS",
            "hand_back": False,
        }

    def test_changing_line_without_a_person_leaves_it_to_the_router(self):
        state, _ = apply(opened(), "reassign", "lead", at(1), assignee="ivan", reason="r")
        state, _ = apply(state, "reassign", "ivan", at(2), line="second_line", reason="r")
        assert state.assignee is None and state.line is Line.SECOND

    def test_reassigning_keeps_the_status(self):
        state, _ = run(ACK)
        state, _ = apply(state, "reassign", "olena", at(6), line="second_line", reason="r")
        assert state.status is IncidentStatus.ACKNOWLEDGED
