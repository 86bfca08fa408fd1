"""The incident list ordered by urgency: open incidents whose SLA is breached first (the most
overdue first), then the least time left, then clocks that are paused or stopped, then open
incidents without a clock; resolved incidents after them, newest first.

Time left depends on each incident's timeline (pauses, acknowledgement), so it is not a column
SQL can sort by: the open incidents matching the filters (hundreds at most, unlike the resolved
history) are read with their events in two queries and ordered here; the resolved ones are
paged by the database.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.pagination import Page
from dutydesk.wall.rows import IncidentRow
from dutydesk.wall.snapshot import SlaView, sla_view
from dutydesk.wall.sources import sla_reading

OPEN = ("triggered", "acknowledged", "pending")
_PRIORITY = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}


def urgency_key(sla: SlaView | None, incident: Incident) -> tuple[Any, ...]:
    """Sort key of an open incident: running or breached clocks by time left (negative once
    breached, so the most overdue come first), then paused/stopped clocks, then no clock."""
    if sla is None:
        group, left = 2, 0.0
    elif sla.state in ("paused", "stopped"):
        group, left = 1, sla.left.total_seconds()
    else:
        group, left = 0, sla.left.total_seconds()
    return (group, left, _PRIORITY.get(incident.priority, 9), incident.created_at, incident.id)


def open_clocks(session: Session, incidents: list[Incident], now: datetime) -> dict[int, SlaView]:
    """The SLA clock that matters now per open incident (one query for all their events)."""
    if not incidents:
        return {}
    events: dict[int, list[Any]] = defaultdict(list)
    for ev in session.execute(
        select(
            IncidentEventRow.incident_id,
            IncidentEventRow.kind,
            IncidentEventRow.at,
            IncidentEventRow.actor,
            IncidentEventRow.data,
        )
        .where(IncidentEventRow.incident_id.in_([i.id for i in incidents]))
        .order_by(IncidentEventRow.at, IncidentEventRow.id)
    ):
        events[ev.incident_id].append(ev)
    policies: dict[str, Any] = {}
    clocks: dict[int, SlaView] = {}
    for incident in incidents:
        reading = sla_reading(incident, events.get(incident.id, []), now, policies)
        if reading is None:
            continue
        row = IncidentRow(
            id=incident.id,
            title=incident.title,
            priority=incident.priority if incident.priority in _PRIORITY else "P3",
            status=incident.status,
            opened_at=incident.created_at,
            sla=reading,
        )
        view = sla_view(row, now, 0.75)
        if view is not None:
            clocks[incident.id] = view
    return clocks


def urgency_page(
    session: Session, query: Any, page: int, per_page: int, now: datetime
) -> tuple[Page, dict[int, SlaView]]:
    """Page ``page`` of ``query``'s incidents in urgency order, with the open ones' clocks."""
    open_incidents = list(session.scalars(query.where(Incident.status.in_(OPEN))))
    clocks = open_clocks(session, open_incidents, now)
    open_incidents.sort(key=lambda i: urgency_key(clocks.get(i.id), i))
    closed = query.where(Incident.status.not_in(OPEN))
    count = select(func.count()).select_from(closed.order_by(None).subquery())
    closed_total = session.scalar(count)
    start = (page - 1) * per_page
    items = open_incidents[start : start + per_page]
    if len(items) < per_page:
        offset = max(start - len(open_incidents), 0)
        items += list(session.scalars(closed.limit(per_page - len(items)).offset(offset)))
    total = len(open_incidents) + (closed_total or 0)
    return Page(items=items, page=page, per_page=per_page, total=total), clocks
