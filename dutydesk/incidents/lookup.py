"""What other domains may know about incidents: a small read-only view, not the tables.

Requests link to incidents and show people the open ones for a service; they ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.incidents.models import Incident


@dataclass(frozen=True, slots=True)
class IncidentBrief:
    id: int
    title: str
    service: str | None
    status: str
    priority: str
    created_at: datetime
    resolution_note: str | None

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"


def _brief(row: Incident) -> IncidentBrief:
    return IncidentBrief(row.id, row.title, row.service, row.status, row.priority,
                         row.created_at, row.resolution_note)


def incident_brief(session: Session, incident_id: int) -> IncidentBrief | None:
    """The incident ``incident_id`` (``None`` if there is none, including ids out of range)."""
    if not 0 < incident_id < 2**63:
        return None
    row = session.get(Incident, incident_id)
    return _brief(row) if row is not None else None


def open_incidents_for_service(session: Session, service: str | None,
                               limit: int = 10) -> list[IncidentBrief]:
    """Open incidents about ``service`` (all open ones when ``service`` is empty), newest first."""
    query = select(Incident).where(Incident.status != "resolved")
    if service:
        query = query.where(Incident.service == service)
    rows = session.scalars(query.order_by(Incident.created_at.desc()).limit(limit))
    return [_brief(row) for row in rows]


def resolved_among(session: Session, incident_ids: set[int] | list[int]) -> list[int]:
    """Which of ``incident_ids`` are resolved, ascending."""
    if not incident_ids:
        return []
    return list(session.scalars(select(Incident.id).where(
        Incident.id.in_(list(incident_ids)), Incident.status == "resolved").order_by(Incident.id)))
