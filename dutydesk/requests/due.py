"""When a request's most urgent running SLA clock runs out (``service_requests.sla_due_at``).

A running clock's deadline stays put until the request's next event (clocks only pause, resume
or stop on events), so the deadline is stored with every change and the queue sorts by it in
SQL: time left = ``sla_due_at - now``. No running clock (waiting for the requester, resolved,
closed): NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.models import RequestEventRow, ServiceRequest
from dutydesk.requests.sla import RequestSlaError, RequestSlaPolicy, request_clocks


def policy_of(row: ServiceRequest) -> RequestSlaPolicy:
    """The SLA policy stored on the request when it came in (defaults for older rows)."""
    if not row.sla_targets:
        return RequestSlaPolicy()
    try:
        return RequestSlaPolicy.from_minutes(row.sla_targets)
    except RequestSlaError:
        return RequestSlaPolicy()


def due_at(policy: RequestSlaPolicy, events: Sequence[RequestEvent],
           now: datetime) -> datetime | None:
    """The earliest deadline of the clocks running at ``now`` (None: none runs)."""
    try:
        clocks = request_clocks(policy, events, now)
    except RequestSlaError:
        return None
    return min((r.deadline for _, r in clocks.items() if r.deadline is not None), default=None)


def refresh_due(session: Session, row: ServiceRequest, now: datetime) -> datetime | None:
    """Recompute and store ``row.sla_due_at`` from its timeline (after a change)."""
    session.flush()
    events = [RequestEvent(EventKind(r.kind), r.at, r.actor, r.data or {}) for r in
              session.scalars(select(RequestEventRow)
                              .where(RequestEventRow.request_id == row.id)
                              .order_by(RequestEventRow.at, RequestEventRow.id))]
    due = due_at(policy_of(row), events, now)
    if row.sla_due_at != due:
        session.execute(update(ServiceRequest).where(ServiceRequest.id == row.id)
                        .values(sla_due_at=due).execution_options(synchronize_session=False))
        session.refresh(row, ["sla_due_at"])
    return due
