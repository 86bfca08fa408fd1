"""Request SLA clocks: first response and resolve, paused while waiting for the requester."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.core.stopwatch import ClockState
from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.sla import (
    RequestSlaError,
    RequestSlaPolicy,
    request_clocks,
    sla_events_due,
)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
POLICY = RequestSlaPolicy()  # P3: first response 4 h, resolve 24 h


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(kind: EventKind, minutes: float, **data: object) -> RequestEvent:
    return RequestEvent(kind, at(minutes), "olga", data)


CREATED = ev(EventKind.CREATED, 0, priority="P3")


def test_a_new_request_runs_both_clocks() -> None:
    clocks = request_clocks(POLICY, [CREATED], at(60))
    assert clocks.first_response.elapsed == timedelta(minutes=60)
    assert clocks.first_response.state is ClockState.OK
    assert clocks.resolve.deadline == at(24 * 60)


def test_the_first_reply_stops_the_first_response_clock_for_good() -> None:
    events = [CREATED, ev(EventKind.REPLIED, 30, text="hi", first_response=True)]
    clocks = request_clocks(POLICY, events, at(600))
    assert clocks.first_response.state is ClockState.STOPPED
    assert clocks.first_response.elapsed == timedelta(minutes=30)
    assert clocks.resolve.elapsed == timedelta(minutes=600)


def test_waiting_for_the_requester_pauses_the_resolve_clock() -> None:
    events = [CREATED, ev(EventKind.REPLIED, 10, text="?", first_response=True),
              ev(EventKind.WAITING, 60, reason="asked for a screenshot"),
              ev(EventKind.RESUMED, 60 * 20, by="requester")]
    paused = request_clocks(POLICY, events[:3], at(60 * 19))
    assert paused.resolve.paused and paused.resolve.elapsed == timedelta(minutes=60)
    resumed = request_clocks(POLICY, events, at(60 * 21))
    assert resumed.resolve.elapsed == timedelta(minutes=120)


def test_raising_the_priority_measures_the_time_so_far_against_the_new_target() -> None:
    events = [CREATED, ev(EventKind.PRIORITY_CHANGED, 40, **{"from": "P3", "to": "P1"})]
    clocks = request_clocks(POLICY, events, at(40))  # P1 first response: 30 min
    assert clocks.first_response.state is ClockState.BREACHED


def test_warnings_and_breaches_are_recorded_once_per_clock() -> None:
    due = sla_events_due(POLICY, [CREATED], at(5 * 60))  # 5 h > 4 h first response target
    kinds = [(e.kind, e.data["clock"]) for e in due]
    assert kinds == [(EventKind.SLA_WARNING, "first_response"),
                     (EventKind.SLA_BREACHED, "first_response")]
    assert sla_events_due(POLICY, [CREATED, *due], at(5 * 60 + 1)) == []


def test_a_policy_missing_a_target_or_with_a_bad_ratio_is_refused() -> None:
    with pytest.raises(RequestSlaError, match="P2"):
        RequestSlaPolicy.from_minutes({"P1": {"first_response": 30, "resolve": 240}})
    with pytest.raises(RequestSlaError, match="warn_at"):
        RequestSlaPolicy(warn_at=2)


def test_the_timeline_must_start_with_its_creation() -> None:
    with pytest.raises(RequestSlaError, match="created"):
        request_clocks(POLICY, [ev(EventKind.NOTE, 0, text="x")], at(1))


def test_a_request_reopened_after_a_resolution_without_a_reply_keeps_its_first_response() -> None:
    """The resolution mail answered the requester: reopening restarts work, not the clock of
    the first answer (it would otherwise run on and breach hours later)."""
    events = [CREATED, ev(EventKind.RESOLVED, 50, note="restarted the service"),
              ev(EventKind.REOPENED, 120, by="requester")]
    clocks = request_clocks(POLICY, events, at(60 * 10))
    assert clocks.first_response.state is ClockState.STOPPED
    assert clocks.first_response.elapsed == timedelta(minutes=50)
    assert clocks.resolve.elapsed == timedelta(minutes=50 + 60 * 10 - 120)
