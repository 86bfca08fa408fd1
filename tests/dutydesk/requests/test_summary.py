"""What a request's timeline adds up to: kept on the row when it is resolved, cleared when it is
reopened — the same first response and SLA outcomes the request page shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.requests import service as req
from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import ServiceRequest
from dutydesk.requests.sla import RequestSlaPolicy
from dutydesk.requests.summary import (
    Outcome,
    summarise_request,
    summary_columns,
    summary_from_columns,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(kind: EventKind, minutes: float, actor: str = "Olga", **data: object) -> RequestEvent:
    return RequestEvent(kind, at(minutes), actor, data)


def test_a_p3_request_answered_late_and_resolved_after_waiting_for_the_requester() -> None:
    # P3: first response 4 h, resolve 24 h. Reply at 5 h (breached by 1 h); waiting 10 h (paused);
    # resolved at 30 h wall clock = 20 h on the resolve clock (met).
    events = [ev(EventKind.CREATED, 0, "anna", priority="P3", line="first_line"),
              ev(EventKind.REPLIED, 300, text="Which error?", first_response=True),
              ev(EventKind.WAITING, 360, reason="asked for the error"),
              ev(EventKind.RESUMED, 960, by="requester"),
              ev(EventKind.RESOLVED, 1800, "Petro", note="fixed")]
    summary = summarise_request(events, RequestSlaPolicy(), at(3000))
    assert (summary.first_response_at, summary.first_response_by) == (at(300), "olga")
    assert (summary.resolved_at, summary.resolved_by) == (at(1800), "petro")
    assert summary.response is not None and summary.resolve is not None
    assert (summary.response.outcome, summary.response.elapsed_s,
            summary.response.target_s) == (Outcome.BREACHED, 300 * 60, 240 * 60)
    assert (summary.resolve.outcome, summary.resolve.elapsed_s,
            summary.resolve.target_s) == (Outcome.MET, 1200 * 60, 1440 * 60)
    stored = summary_columns(summary) | {"resolved_at": at(1800)}
    assert summary_from_columns(stored) == summary


def test_an_open_request_has_open_clocks_and_a_reopen_forgets_the_resolution() -> None:
    events = [ev(EventKind.CREATED, 0, "anna", priority="P2"),
              ev(EventKind.REPLIED, 10, text="On it", first_response=True),
              ev(EventKind.RESOLVED, 30, note="done"),
              ev(EventKind.REOPENED, 60, "anna", reason="still broken")]
    summary = summarise_request(events, RequestSlaPolicy(), at(90))
    assert summary.resolved_at is None and summary.first_response_at == at(10)
    assert summary.response is not None and summary.response.outcome is Outcome.MET
    assert summary.resolve is not None and summary.resolve.outcome is Outcome.OPEN
    assert summary.resolve.elapsed_s == 60 * 60  # 30 min before resolution + 30 after reopen


def test_resolving_stores_the_summary_and_reopening_clears_it(
    db: Database, settings: Settings
) -> None:
    with db.session() as s:
        row = req.create_request(s, settings, "anna@corp.example",
                                 req.Requester("anna@corp.example"), service="mail",
                                 description="No mail", now=T0)
        req.perform(s, settings, "olga@dc.example", row.id, Action.REPLY, at(10), text="Looking")
        req.perform(s, settings, "olga@dc.example", row.id, Action.RESOLVE, at(20), note="ok")
        s.commit()
        row = s.get(ServiceRequest, row.id)
        assert (row.first_response_at, row.first_response_by, row.resolved_by) == (
            at(10), "olga@dc.example", "olga@dc.example")
        assert (row.sla_response_breached, row.sla_resolve_breached) == (False, False)
        assert (row.sla_response_seconds, row.sla_resolve_seconds) == (600.0, 1200.0)
        req.perform(s, settings, "olga@dc.example", row.id, Action.REOPEN, at(30))
        s.commit()
        row = s.get(ServiceRequest, row.id)
        assert row.sla_resolve_target_seconds is None and row.resolved_by is None
