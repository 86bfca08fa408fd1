"""Who gets told: when a person acknowledges or resolves an incident, whoever was paged hears it.

Each person who was paged for the incident gets one short message on each channel they were
actually paged on (the outbox rows of the incident's escalation pages that went out or were
tried), so the second line is not woken for what the first line already has in hand. The
person who acted is not told about their own action.

The escalation policy says when (``EscalationPolicyRow.tell_paged``): ``ack_resolve`` (default:
on acknowledge and on resolve), ``resolve`` (only when it is over) or ``none``. Incidents
resolved automatically are told by ``paging.notify_resolved`` instead.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.outbox import enqueue
from dutydesk.incidents.lifecycle import Action
from dutydesk.incidents.models import ContactMethod, EscalationPolicyRow, Incident
from dutydesk.incidents.priority import Priority

TELL_PAGED_CHOICES = ("ack_resolve", "resolve", "none")
DEFAULT_TELL_PAGED = "ack_resolve"


def tells(setting: str | None, action: Action | str) -> bool:
    """Does a policy with ``setting`` tell the paged people about ``action``? (pure)"""
    setting = setting if setting in TELL_PAGED_CHOICES else DEFAULT_TELL_PAGED
    action = Action(action)
    if action is Action.RESOLVE:
        return setting in ("ack_resolve", "resolve")
    if action is Action.ACKNOWLEDGE:
        return setting == "ack_resolve"
    return False


def short_message(incident: Incident, action: Action, actor: str, base_url: str) -> tuple[str, str]:
    """Subject and body of the short news (pure). English, like the pages themselves."""
    verb = "acknowledged" if action is Action.ACKNOWLEDGE else "resolved"
    tag = "ACK" if action is Action.ACKNOWLEDGE else "RESOLVED"
    subject = f"[{tag}] #{incident.id} {incident.title}"[:500]
    body = (
        f"#{incident.id} {incident.title}\n"
        f"{verb.capitalize()} by {actor}. No action needed from you.\n"
        f"{base_url.rstrip('/')}/incidents/{incident.id}\n"
    )
    return subject, body


def _policy_setting(session: Session, incident: Incident) -> str:
    row = None
    if incident.escalation_policy_id is not None:
        row = session.get(EscalationPolicyRow, incident.escalation_policy_id)
    if row is None:
        row = session.scalar(
            select(EscalationPolicyRow).where(EscalationPolicyRow.is_default).limit(1))
    return row.tell_paged if row is not None else DEFAULT_TELL_PAGED


def tell_paged_people(
    session: Session,
    settings: Settings,
    incident: Incident,
    action: Action | str,
    *,
    actor: str,
    actor_user_id: int | None,
    now: datetime,
) -> int:
    """Enqueue the short news of ``action`` to everyone paged for ``incident``, once per channel
    they were paged on; returns rows enqueued. Idempotent per action and resolution round."""
    action = Action(action)
    if not tells(_policy_setting(session, incident), action):
        return 0
    pages = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.source_type == "incident",
            OutboxMessage.source_id == str(incident.id),
            OutboxMessage.idempotency_key.like(f"incident:{incident.id}:esc:%"),
            or_(OutboxMessage.status == "sent", OutboxMessage.attempts > 0),
        )
        .order_by(OutboxMessage.id)
    )
    own_methods: set[str] = set()
    if actor_user_id is not None:
        own_methods = {
            f"contact:{i}"
            for i in session.scalars(
                select(ContactMethod.id).where(ContactMethod.user_id == actor_user_id))
        }
    subject, body = short_message(incident, action, actor, settings.base_url)
    round_ = incident.reopen_count or 0
    told: set[tuple[str, str]] = set()
    count = 0
    for page in pages:
        if (page.channel, page.target) in told:
            continue
        own_account = page.idempotency_key.endswith(f":user:{actor_user_id}:0")
        if page.channel_ref in own_methods or (actor_user_id is not None and own_account):
            continue
        told.add((page.channel, page.target))
        digest = hashlib.sha256(f"{page.channel}:{page.target}".encode()).hexdigest()[:16]
        message = enqueue(
            session,
            channel=page.channel,
            target=page.target,
            subject=subject,
            body_text=body,
            payload={
                "incident_id": incident.id,
                "title": incident.title,
                "event": action.value,
                "by": actor,
                "status": incident.status,
                "url": f"{settings.base_url.rstrip('/')}/incidents/{incident.id}",
            },
            # the news carries no buttons: the page itself is edited (chat.refresh)
            options={k: v for k, v in (page.options or {}).items()
                     if k not in ("telegram", "slack", "chat_page")} or None,
            idempotency_key=f"incident:{incident.id}:told:{action.value}:{round_}:{digest}",
            source_type="incident",
            source_id=incident.id,
            channel_ref=page.channel_ref,
            priority=int(Priority.parse(incident.priority)),
        )
        count += message is not None
    return count
