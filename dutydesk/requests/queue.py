"""The first-line queue: filtered requests, most urgent first by SLA time left.

Urgency is the smaller time left of the two clocks that still run (a breached clock has negative
time left, so breaches come first); requests waiting for their requester (clocks paused) follow,
then the rest by age. The database sorts and pages by the stored deadline of the most urgent
running clock (``dutydesk.requests.due``: time left = deadline - now), so the queue costs the
same with 100 or 100,000 requests; only the page's timelines are read (one query) to show
their clocks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dutydesk.core.stopwatch import Reading
from dutydesk.requests.due import policy_of
from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.models import REQUEST_STATUSES, RequestEventRow, ServiceRequest
from dutydesk.requests.rules import RequestInputError, parse_request_number
from dutydesk.requests.sla import RequestClocks, RequestSlaError, request_clocks

OPEN_STATUSES = ("new", "in_progress", "waiting")


@dataclass(frozen=True, slots=True)
class QueueFilters:
    status: tuple[str, ...] = OPEN_STATUSES
    service: str = ""
    line: str = ""
    assignee: str = ""
    q: str = ""
    incident_id: int | None = None

    @classmethod
    def from_args(cls, args: Any) -> QueueFilters:
        """From query args (``status`` may repeat, ``all`` for every state); bad values raise
        ``RequestInputError``."""
        statuses = tuple(v for v in args.getlist("status") if v) or OPEN_STATUSES
        if statuses == ("all",):
            statuses = REQUEST_STATUSES
        unknown = [v for v in statuses if v not in REQUEST_STATUSES]
        if unknown:
            raise RequestInputError(f"status must be one of {', '.join(REQUEST_STATUSES)} "
                                    f"or all, got {', '.join(unknown)}")
        line = args.get("line", "")
        if line not in ("", "first_line", "second_line"):
            raise RequestInputError("line must be first_line or second_line")
        incident = args.get("incident", "")
        if incident and (not incident.isdigit() or not 0 < int(incident) < 2**63):
            raise RequestInputError("incident must be an incident number")
        return cls(statuses, args.get("service", "").strip()[:200], line,
                   args.get("assignee", "").strip()[:200], args.get("q", "").strip()[:200],
                   int(incident) if incident else None)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    request: ServiceRequest
    clocks: RequestClocks | None
    urgent: Reading | None = field(default=None)  # the running clock with least time left

    @property
    def time_left(self) -> timedelta | None:
        return self.urgent.target - self.urgent.elapsed if self.urgent else None


def _query(filters: QueueFilters, *, by_deadline: bool = False) -> Any:
    # ``by_deadline``: the status test must not pick the index (SQLite without statistics
    # would read by status and sort the running requests in a temporary tree); the deadline
    # index reads them in order instead
    status = ServiceRequest.status.concat("") if by_deadline else ServiceRequest.status
    query = select(ServiceRequest).where(status.in_(filters.status))
    if filters.service:
        query = query.where(ServiceRequest.service == filters.service)
    if filters.line:
        query = query.where(ServiceRequest.line == filters.line)
    if filters.assignee:
        query = query.where(ServiceRequest.assignee == filters.assignee)
    if filters.incident_id is not None:
        query = query.where(ServiceRequest.incident_id == filters.incident_id)
    if filters.q:
        like = f"%{filters.q}%"
        clauses = [ServiceRequest.subject.ilike(like), ServiceRequest.requester_email.ilike(like),
                   ServiceRequest.requester_name.ilike(like)]
        number = parse_request_number(filters.q)
        if number is not None:
            clauses.append(ServiceRequest.id == number)
        query = query.where(or_(*clauses))
    return query


def _timelines(session: Session, ids: list[int]) -> dict[int, list[RequestEvent]]:
    found: dict[int, list[RequestEvent]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        rows = session.scalars(select(RequestEventRow)
                               .where(RequestEventRow.request_id.in_(ids[start:start + 500]))
                               .order_by(RequestEventRow.at, RequestEventRow.id))
        for r in rows:
            found[r.request_id].append(RequestEvent(EventKind(r.kind), r.at, r.actor,
                                                    r.data or {}))
    return found


def entry_for(row: ServiceRequest, events: list[RequestEvent], now: datetime) -> QueueEntry:
    try:
        clocks = request_clocks(policy_of(row), events, now)
    except RequestSlaError:
        return QueueEntry(row, None)
    running = [r for _, r in clocks.items() if r.running_now]
    urgent = min(running, key=lambda r: r.target - r.elapsed, default=None)
    return QueueEntry(row, clocks, urgent)


def _segments(filters: QueueFilters) -> list[tuple[Any, tuple[Any, ...]]]:
    """The queue's three ranks, each a query the database answers from an index in order:
    running clocks by deadline, then waiting for the requester, then the rest, by age."""
    due = ServiceRequest.sla_due_at
    by_age = (ServiceRequest.created_at, ServiceRequest.id)
    query = _query(filters)
    running = _query(filters, by_deadline=True).where(due.is_not(None))
    return [
        (running, (due, *by_age)),
        (query.where(due.is_(None), ServiceRequest.status == "waiting"), by_age),
        (query.where(due.is_(None), ServiceRequest.status != "waiting"), by_age),
    ]


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(
        query.with_only_columns(ServiceRequest.id).order_by(None).subquery())) or 0)


SMALL = 2000  # a filtered set this small is read once (a search) and sorted here


def _rank(key: Any) -> tuple[int, float, datetime, int]:
    if key.sla_due_at is not None:
        return (0, key.sla_due_at.timestamp(), key.created_at, key.id)
    return (1 if key.status == "waiting" else 2, 0.0, key.created_at, key.id)


def queue(session: Session, filters: QueueFilters, now: datetime, page: int,
          per_page: int) -> tuple[list[QueueEntry], int]:
    """One page of the queue and the total, most urgent first."""
    query = _query(filters)
    skip, need = (page - 1) * per_page, per_page
    keys = session.execute(query.with_only_columns(
        ServiceRequest.id, ServiceRequest.sla_due_at, ServiceRequest.status,
        ServiceRequest.created_at).order_by(None).limit(SMALL + 1)).all()
    rows: list[ServiceRequest] = []
    if len(keys) <= SMALL:  # a search or a narrow filter: one pass, sorted here
        total = len(keys)
        ids = [k.id for k in sorted(keys, key=_rank)[skip:skip + need]]
        found = {r.id: r for r in session.scalars(
            select(ServiceRequest).where(ServiceRequest.id.in_(ids)))} if ids else {}
        rows = [found[i] for i in ids if i in found]
    else:  # walk the ranks in index order, counting a rank only when the page lies past it
        total = _count(session, query)
        for ranked, order in _segments(filters):
            if not need:
                break
            found_rows = list(session.scalars(ranked.order_by(*order).offset(skip)
                                              .limit(need)))
            if found_rows:
                rows.extend(found_rows)
                need -= len(found_rows)
                skip = 0
            elif skip:
                skip -= _count(session, ranked)
    events = _timelines(session, [r.id for r in rows])
    return [entry_for(r, events.get(r.id, []), now) for r in rows], total
