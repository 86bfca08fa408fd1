"""Who holds which open incidents: for handing them over when a person leaves (a directory
sync that takes someone's access away lists theirs for the shift lead)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.incidents.models import Incident


def open_assigned_to(session: Session, names: list[str]) -> list[tuple[int, str]]:
    """``(id, title)`` of open incidents whose assignee is any of ``names`` (case-insensitive:
    the assignee is typed as a name or an email), oldest first."""
    wanted = sorted({n.strip().lower() for n in names if n and n.strip()})
    if not wanted:
        return []
    rows = session.execute(
        select(Incident.id, Incident.title)
        .where(Incident.status != "resolved", func.lower(Incident.assignee).in_(wanted))
        .order_by(Incident.created_at)
    )
    return [(row.id, row.title) for row in rows]
