"""Incident storage: read an incident as an ``IncidentState``, apply a lifecycle action with
compare-and-set, append timeline events.

The decisions are the pure ``lifecycle.apply``; this module only moves values between rows and
the value objects, and makes the write safe under concurrency:

``UPDATE incidents SET ..., version = version + 1 WHERE id = :id AND version = :seen``

If no row changed, somebody else changed the incident in between: we reload and decide again,
so the second of two concurrent acknowledgements is refused by the lifecycle with
"already acknowledged by <first>" (HTTP 409) instead of silently overwriting it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.incidents.events import EventKind, IncidentEvent, IncidentStatus
from dutydesk.incidents.lifecycle import Action, IncidentState, Line, TransitionRefused, apply
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.summary import policy_of_snapshot, summarise, summary_columns

MAX_CAS_RETRIES = 5


class IncidentNotFound(LookupError):
    def __init__(self, incident_id: int) -> None:
        super().__init__(f"no incident with id {incident_id}")
        self.incident_id = incident_id


class ConcurrentUpdate(TransitionRefused):
    """The incident kept changing under us (or changed since the caller looked at it)."""

    code = "concurrent_update"


def state_of(incident: Incident) -> IncidentState:
    """The lifecycle view of a stored incident."""
    seen = tuple(Line(line) for line in (incident.lines_seen or [incident.line]))
    return IncidentState(
        status=IncidentStatus(incident.status),
        priority=Priority.parse(incident.priority),
        line=Line(incident.line),
        assignee=incident.assignee,
        acknowledged_by=incident.acknowledged_by,
        acknowledged_at=incident.acknowledged_at,
        pending_reason=incident.pending_reason,
        resolved_by=incident.resolved_by,
        resolved_at=incident.resolved_at,
        resolution_note=incident.resolution_note,
        lines_seen=seen,
        ping_pong_count=incident.ping_pong_count,
        reopen_count=incident.reopen_count,
    )


def state_columns(state: IncidentState, dedup_key: str) -> dict[str, Any]:
    """Column values for ``state`` (``open_key`` follows the status: NULL once resolved)."""
    return {
        "status": state.status.value,
        "priority": str(state.priority),
        "line": state.line.value,
        "lines_seen": [line.value for line in state.lines_seen],
        "assignee": state.assignee,
        "acknowledged_by": state.acknowledged_by,
        "acknowledged_at": state.acknowledged_at,
        "pending_reason": state.pending_reason,
        "resolved_by": state.resolved_by,
        "resolved_at": state.resolved_at,
        "resolution_note": state.resolution_note,
        "ping_pong_count": state.ping_pong_count,
        "reopen_count": state.reopen_count,
        "open_key": None if state.status is IncidentStatus.RESOLVED else dedup_key,
    }


def add_events(
    session: Session, incident_id: int, events: Iterable[IncidentEvent]
) -> list[IncidentEventRow]:
    rows = [
        IncidentEventRow(
            incident_id=incident_id,
            kind=event.kind.value,
            at=event.at,
            actor=event.actor[:200],
            data=dict(event.data),
        )
        for event in events
    ]
    session.add_all(rows)
    return rows


def timeline(session: Session, incident_id: int) -> list[IncidentEvent]:
    """The incident's timeline as value objects, oldest first."""
    rows = session.scalars(
        select(IncidentEventRow)
        .where(IncidentEventRow.incident_id == incident_id)
        .order_by(IncidentEventRow.at, IncidentEventRow.id)
    )
    return [IncidentEvent(EventKind(r.kind), r.at, r.actor, r.data or {}) for r in rows]


def act(
    session: Session,
    incident_id: int,
    action: Action | str,
    actor: str,
    now: datetime,
    *,
    expected_version: int | None = None,
    **fields: Any,
) -> tuple[Incident, list[IncidentEvent]]:
    """Apply ``action`` to the stored incident with compare-and-set; flush, do not commit.

    ``expected_version`` (optional) makes the call fail with ``ConcurrentUpdate`` when the
    incident changed since the caller read it (a form that was open for a while). Raises
    ``IncidentNotFound``, ``InvalidAction`` (400) or ``TransitionRefused`` (409).
    """
    for _attempt in range(MAX_CAS_RETRIES):
        incident = session.get(Incident, incident_id, populate_existing=True)
        if incident is None:
            raise IncidentNotFound(incident_id)
        if expected_version is not None and incident.version != expected_version:
            raise ConcurrentUpdate(
                f"the incident changed since you opened it (version {expected_version}, now "
                f"{incident.version}); reload and try again"
            )
        new_state, events = apply(state_of(incident), action, actor, now, **fields)
        seen = incident.version
        result = session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.version == seen)
            .values(
                **state_columns(new_state, incident.dedup_key),
                updated_at=now,
                version=seen + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            add_events(session, incident_id, events)
            session.flush()
            if action in (Action.RESOLVE, Action.REOPEN):
                _store_summary(session, incident_id, incident.sla_targets,
                               resolved=action == Action.RESOLVE, now=now)
            refreshed = session.get(Incident, incident_id, populate_existing=True)
            assert refreshed is not None
            return refreshed, events
        session.expire_all()  # lost the race: read the winner's state and decide again
    raise ConcurrentUpdate("the incident is changing too fast; try again")


def _store_summary(session: Session, incident_id: int, sla_targets: dict[str, Any] | None, *,
                   resolved: bool, now: datetime) -> None:
    """Keep the timeline's summary on a resolved incident for the reports; clear it on reopen."""
    values = summary_columns(None)
    policy = policy_of_snapshot(sla_targets)
    if resolved and policy is not None:
        values = summary_columns(summarise(timeline(session, incident_id), policy, now))
    session.execute(
        update(Incident).where(Incident.id == incident_id).values(**values)
        .execution_options(synchronize_session=False)
    )


def apply_to_row(incident: Incident, state: IncidentState, now: datetime) -> None:
    """Copy ``state`` onto a row this session owns (a new incident, not yet flushed)."""
    for name, value in state_columns(state, incident.dedup_key).items():
        setattr(incident, name, value)
    incident.updated_at = now
