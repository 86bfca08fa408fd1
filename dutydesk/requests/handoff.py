"""What the requests area contributes to a shift handoff report (``shifts.handoff``): the open
requests most urgent first with their SLA time left, how many wait for their requesters, and
how many came in and were resolved during the outgoing shift."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.requests.models import ServiceRequest
from dutydesk.requests.queue import QueueFilters, queue

SHOWN = 20  # the report lists the most urgent; the counts cover the rest


def request_sections(session: Session, settings: Settings, since: datetime, until: datetime,
                     now: datetime) -> dict[str, Any]:
    """``open_requests`` (most urgent first, at most 20), ``requests_open``,
    ``requests_waiting``, ``requests_opened`` and ``requests_resolved`` in ``[since, until)``,
    as JSON-ready values (a ``shifts.handoff.HandoffSection``)."""
    entries, total = queue(session, QueueFilters(), now, 1, SHOWN)
    shown = [{
        "id": e.request.id, "number": e.request.number, "subject": e.request.subject,
        "priority": e.request.priority, "status": e.request.status,
        "service": e.request.service, "incident_id": e.request.incident_id,
        "time_left_s": int(e.time_left.total_seconds()) if e.time_left is not None else None,
        "breached": bool(e.urgent and e.urgent.breached),
    } for e in entries]

    def count(*where: Any) -> int:
        return int(session.scalar(select(func.count(ServiceRequest.id)).where(*where)) or 0)

    return {
        "open_requests": shown,
        "requests_open": total,
        "requests_waiting": count(ServiceRequest.status == "waiting"),
        "requests_opened": count(ServiceRequest.created_at >= since,
                                 ServiceRequest.created_at < until),
        "requests_resolved": count(ServiceRequest.resolved_at >= since,
                                   ServiceRequest.resolved_at < until),
    }


HANDOFF_SECTIONS = (request_sections,)
