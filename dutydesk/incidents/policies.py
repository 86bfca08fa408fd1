"""Which escalation policy an incident follows: choose one per incident, delete a policy.

``incidents.escalation_policy_id`` NULL means "the default policy" (``recipients.policy_for`` reads
the stored default, else the built-in one). Both changes here:

- bump ``incidents.version`` with compare-and-set, like every incident write, so a worker that
  planned pages under the old policy loses its claim and plans again;
- write an ``escalation_policy_changed`` timeline event, which ``escalation_due`` uses to carry
  the running cycle over to the new policy (see its module docstring);
- are audited, in the caller's transaction (nothing is committed here).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.security import Principal
from dutydesk.incidents.events import (
    DEFAULT_POLICY_NAME,
    EventKind,
    IncidentEvent,
    policy_deleted_reason,
)
from dutydesk.incidents.lifecycle import InvalidAction, TransitionRefused
from dutydesk.incidents.models import EscalationPolicyRow, Incident
from dutydesk.incidents.store import (
    MAX_CAS_RETRIES,
    ConcurrentUpdate,
    IncidentNotFound,
    add_events,
)

DEFAULT_LABEL = DEFAULT_POLICY_NAME  # what the timeline calls "no policy of its own"


class PolicyDeleteRefused(ValueError):
    """The policy cannot be deleted (it is the default); the message says what to do instead."""


def policy_as_dict(row: EscalationPolicyRow) -> dict[str, Any]:
    """The policy as the audit log records it."""
    return {
        "name": row.name,
        "steps": list(row.steps),
        "repeat": row.repeat,
        "ack_timeout_minutes": row.ack_timeout_minutes,
        "repage_minutes": row.repage_minutes,
        "is_default": row.is_default,
        "tell_paged": row.tell_paged,
    }


def policy_changed_event(
    now: datetime,
    actor: str,
    *,
    from_row: EscalationPolicyRow | None,
    to_row: EscalationPolicyRow | None,
    reason: str,
) -> IncidentEvent:
    """The timeline entry for a change of policy (``None``: the default policy)."""
    return IncidentEvent(
        EventKind.ESCALATION_POLICY_CHANGED,
        now,
        actor,
        {
            "from": from_row.name if from_row is not None else DEFAULT_LABEL,
            "to": to_row.name if to_row is not None else DEFAULT_LABEL,
            "from_id": from_row.id if from_row is not None else None,
            "to_id": to_row.id if to_row is not None else None,
            "reason": reason,
        },
    )


def choose_policy(
    session: Session,
    who: Principal,
    incident_id: int,
    policy_id: int | None,
    now: datetime,
    *,
    reason: str = "",
) -> Incident:
    """Make the incident follow policy ``policy_id`` (``None``: the default); flush, no commit.

    Raises ``IncidentNotFound``; ``InvalidAction`` (400) for an unknown policy id;
    ``TransitionRefused`` (409) when the incident is resolved or already follows that policy;
    ``ConcurrentUpdate`` (409) when the incident keeps changing under us.
    """
    reason = (reason or "").strip()
    target = None
    if policy_id is not None:
        target = session.get(EscalationPolicyRow, policy_id)
        if target is None:
            raise InvalidAction(f"no escalation policy with id {policy_id}", "unknown_policy")
    for _attempt in range(MAX_CAS_RETRIES):
        incident = session.get(Incident, incident_id, populate_existing=True)
        if incident is None:
            raise IncidentNotFound(incident_id)
        if incident.status == "resolved":
            raise TransitionRefused(
                "cannot change the escalation policy: the incident was resolved; reopen it first",
                "resolved",
            )
        if incident.escalation_policy_id == policy_id:
            name = target.name if target is not None else DEFAULT_LABEL
            raise TransitionRefused(
                f"the incident already follows the {name!r} escalation policy", "same_policy"
            )
        current = (
            session.get(EscalationPolicyRow, incident.escalation_policy_id)
            if incident.escalation_policy_id is not None
            else None
        )
        seen = incident.version
        result = session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.version == seen)
            .values(escalation_policy_id=policy_id, updated_at=now, version=seen + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            event = policy_changed_event(
                now, who.label, from_row=current, to_row=target, reason=reason
            )
            add_events(session, incident_id, [event])
            audit.record(
                session,
                who,
                "incident.escalation_policy",
                "incident",
                incident_id,
                summary=f"incident #{incident_id} follows escalation policy {event.data['to']!r}",
                before={"escalation_policy": event.data["from"]},
                after={"escalation_policy": event.data["to"], "reason": reason},
            )
            session.flush()
            refreshed = session.get(Incident, incident_id, populate_existing=True)
            assert refreshed is not None
            return refreshed
        session.expire_all()  # lost the race: look again
    raise ConcurrentUpdate("the incident is changing too fast; try again")


def delete_policy(
    session: Session, who: Principal, row: EscalationPolicyRow, now: datetime
) -> list[int]:
    """Delete a policy that is not the default; returns the open incidents moved to the default.

    Open incidents that followed it get the default policy with a timeline event (and a version
    bump); resolved ones are left to the foreign key (``ON DELETE SET NULL``). Raises
    ``PolicyDeleteRefused`` for the default policy. Flushes, does not commit.
    """
    if row.is_default:
        raise PolicyDeleteRefused(
            f"policy {row.name!r} is the default escalation policy and cannot be deleted; "
            "mark another policy as the default first"
        )
    open_ids = list(
        session.scalars(
            select(Incident.id)
            .where(Incident.escalation_policy_id == row.id, Incident.status != "resolved")
            .order_by(Incident.id)
        )
    )
    if open_ids:
        session.execute(
            update(Incident)
            .where(Incident.id.in_(open_ids), Incident.escalation_policy_id == row.id)
            .values(escalation_policy_id=None, updated_at=now, version=Incident.version + 1)
            .execution_options(synchronize_session=False)
        )
        reason = policy_deleted_reason(row.name)
        for incident_id in open_ids:
            event = policy_changed_event(now, who.label, from_row=row, to_row=None, reason=reason)
            add_events(session, incident_id, [event])
    before = policy_as_dict(row)
    policy_id, name = row.id, row.name
    session.delete(row)
    session.flush()
    session.expire_all()  # incidents in this session may still hold the deleted id
    audit.record(
        session,
        who,
        "escalation_policy.delete",
        "escalation_policy",
        policy_id,
        summary=f"deleted escalation policy {name!r}; {len(open_ids)} open incident(s) "
        "now follow the default",
        before=before,
        after={"open_incidents_moved_to_default": open_ids},
    )
    return open_ids
