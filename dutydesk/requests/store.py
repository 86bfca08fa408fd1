"""Storing requests: state ↔ columns, the timeline, and compare-and-set changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.incidents.lifecycle import Line, TransitionRefused
from dutydesk.incidents.priority import Priority
from dutydesk.requests.due import refresh_due
from dutydesk.requests.events import EventKind, RequestEvent, RequestStatus
from dutydesk.requests.lifecycle import Action, RequestState, apply
from dutydesk.requests.models import RequestEventRow, ServiceRequest
from dutydesk.requests.summary import policy_of_snapshot, summarise_request, summary_columns

MAX_CAS_RETRIES = 5


class RequestNotFound(LookupError):
    """No request with that number (HTTP 404)."""


class ConcurrentRequestUpdate(TransitionRefused):
    code = "concurrent_update"


def state_of(row: ServiceRequest) -> RequestState:
    return RequestState(
        status=RequestStatus(row.status), priority=Priority.parse(row.priority),
        line=Line(row.line), assignee=row.assignee, responded=row.responded,
        waiting_reason=row.waiting_reason, incident_id=row.incident_id,
        lines_seen=tuple(Line(v) for v in (row.lines_seen or [row.line])),
        ping_pong_count=row.ping_pong_count, reopen_count=row.reopen_count)


def state_columns(state: RequestState) -> dict[str, Any]:
    return {
        "status": state.status.value, "priority": str(state.priority), "line": state.line.value,
        "assignee": state.assignee, "responded": state.responded,
        "waiting_reason": state.waiting_reason, "incident_id": state.incident_id,
        "lines_seen": [line.value for line in state.lines_seen],
        "ping_pong_count": state.ping_pong_count, "reopen_count": state.reopen_count,
    }


def add_events(session: Session, request_id: int, events: Iterable[RequestEvent]) -> None:
    session.add_all(RequestEventRow(request_id=request_id, kind=e.kind.value, at=e.at,
                                    actor=e.actor[:200], data=dict(e.data)) for e in events)


def timeline(session: Session, request_id: int) -> list[RequestEvent]:
    """The request's timeline as value objects, oldest first."""
    rows = session.scalars(select(RequestEventRow).where(RequestEventRow.request_id == request_id)
                           .order_by(RequestEventRow.at, RequestEventRow.id))
    return [RequestEvent(EventKind(r.kind), r.at, r.actor, r.data or {}) for r in rows]


def timelines_of(session: Session, request_ids: Sequence[int]) -> dict[int, list[RequestEvent]]:
    """The timelines of several requests in one query: request id -> events, oldest first."""
    found: dict[int, list[RequestEvent]] = {}
    if not request_ids:
        return found
    rows = session.scalars(select(RequestEventRow)
                           .where(RequestEventRow.request_id.in_(list(request_ids)))
                           .order_by(RequestEventRow.request_id, RequestEventRow.at,
                                     RequestEventRow.id))
    for r in rows:
        found.setdefault(r.request_id, []).append(
            RequestEvent(EventKind(r.kind), r.at, r.actor, r.data or {}))
    return found


def get_request(session: Session, request_id: int) -> ServiceRequest:
    """The request, or ``RequestNotFound`` (also for ids beyond 64 bits)."""
    row = session.get(ServiceRequest, request_id) if 0 < request_id < 2**63 else None
    if row is None:
        raise RequestNotFound(f"there is no request REQ-{request_id}")
    return row


def act(session: Session, request_id: int, action: Action | str, actor: str, now: datetime,
        *, expected_version: int | None = None,
        **fields: Any) -> tuple[ServiceRequest, list[RequestEvent]]:
    """Apply ``action`` with compare-and-set; flush, do not commit."""
    for _attempt in range(MAX_CAS_RETRIES):
        row = get_request(session, request_id)
        session.refresh(row)
        if expected_version is not None and row.version != expected_version:
            raise ConcurrentRequestUpdate(
                f"the request changed since you opened it (version {expected_version}, now "
                f"{row.version}); reload and try again")
        new, events = apply(state_of(row), action, actor, now, **fields)
        seen = row.version
        extra: dict[str, Any] = {}
        if new.status is RequestStatus.RESOLVED and row.status != "resolved":
            extra["resolved_at"] = now
            # Both clocks stop here: keep what the timeline adds up to for the reports.
            extra.update(summary_columns(summarise_request(
                [*timeline(session, request_id), *events], policy_of_snapshot(row.sla_targets),
                now)))
        if new.status is RequestStatus.CLOSED:
            extra["closed_at"] = now
        if new.status in (RequestStatus.IN_PROGRESS, RequestStatus.WAITING):
            extra["resolved_at"] = None
            if row.status in ("resolved", "closed"):
                extra.update(summary_columns(None))
        result = session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == request_id, ServiceRequest.version == seen)
            .values(**state_columns(new), **extra, updated_at=now, version=seen + 1)
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            add_events(session, request_id, events)
            session.flush()
            session.refresh(row)
            refresh_due(session, row, now)
            return row, events
        session.expire_all()
    raise ConcurrentRequestUpdate("the request is changing too fast; try again")
