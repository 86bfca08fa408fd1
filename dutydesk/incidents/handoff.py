"""What the incidents area contributes to a shift handoff report (``shifts.handoff``): open
incidents with their SLA time left, incidents opened and resolved during the outgoing shift, and
the silences active now. The shell passes :data:`HANDOFF_SECTIONS` to the shifts area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.incidents.models import Incident, SilenceRow
from dutydesk.incidents.service import sla_as_dict
from dutydesk.incidents.store import timeline

OPEN_STATUSES = ("triggered", "acknowledged", "pending")


def incident_sections(
    session: Session, settings: Settings, since: datetime, until: datetime, now: datetime
) -> dict[str, Any]:
    """``open_incidents``, ``opened`` and ``resolved`` in ``[since, until)``, ``silences`` active
    at ``now``, as JSON-ready values (a ``shifts.handoff.HandoffSection``)."""
    open_incidents = []
    for incident in session.scalars(
        select(Incident).where(Incident.status.in_(OPEN_STATUSES)).order_by(Incident.id)
    ):
        sla = sla_as_dict(incident, timeline(session, incident.id), settings, now)
        open_incidents.append({
            **_incident(incident),
            "acknowledged_by": incident.acknowledged_by,
            "ack_remaining_s": sla.get("acknowledge", {}).get("remaining_s"),
            "resolve_remaining_s": sla.get("resolve", {}).get("remaining_s"),
            "resolve_breached": sla.get("resolve", {}).get("breached", False),
        })
    opened = [_incident(i) for i in session.scalars(
        select(Incident).where(Incident.created_at >= since, Incident.created_at < until)
        .order_by(Incident.created_at))]
    resolved = [_incident(i) for i in session.scalars(
        select(Incident).where(Incident.resolved_at >= since, Incident.resolved_at < until)
        .order_by(Incident.resolved_at))]
    silences = [
        {"id": s.id, "matchers": s.matchers, "ends_at": s.ends_at.isoformat(),
         "comment": s.comment, "by": s.created_by}
        for s in session.scalars(select(SilenceRow).where(
            SilenceRow.starts_at <= now, SilenceRow.ends_at > now).order_by(SilenceRow.ends_at))
    ]
    return {"open_incidents": open_incidents, "opened": opened, "resolved": resolved,
            "silences": silences}


def _incident(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "title": incident.title, "priority": incident.priority,
            "status": incident.status, "service": incident.service,
            "created_at": incident.created_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None}


HANDOFF_SECTIONS = (incident_sections,)
