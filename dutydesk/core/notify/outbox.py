"""Writing to the outbox, and claiming due messages for delivery (compare-and-set).

``enqueue`` is called inside the transaction that makes the change worth telling (an incident
opens, a notice is published), so a message exists if and only if the change was committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from dutydesk.core.db import utcnow
from dutydesk.core.models.notify import OutboxMessage

CHANNELS = ("email", "webhook", "slack", "telegram")
LEASE = timedelta(minutes=2)


class OutboxError(ValueError):
    pass


def enqueue(
    session: Session,
    *,
    channel: str,
    target: str,
    subject: str,
    body_text: str,
    idempotency_key: str,
    source_type: str,
    source_id: str | int,
    body_html: str | None = None,
    payload: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    channel_ref: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Add a message to the caller's transaction; ``None`` if the key was already enqueued.

    ``idempotency_key`` names the *reason* for the message (e.g. ``incident:42:opened:user:7``),
    so a retried request or a re-run job never sends the same news twice.
    """
    if channel not in CHANNELS:
        raise OutboxError(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
    if not target.strip():
        raise OutboxError("target (address, URL or chat id) is empty")
    if not idempotency_key:
        raise OutboxError("idempotency_key is required")
    existing = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == idempotency_key)
    )
    if existing is not None:
        return None
    for pending in session.new:  # enqueued earlier in this same transaction
        if isinstance(pending, OutboxMessage) and pending.idempotency_key == idempotency_key:
            return None
    now = utcnow()
    message = OutboxMessage(
        channel=channel,
        target=target.strip(),
        subject=subject[:500],
        body_text=body_text,
        body_html=body_html,
        payload=payload,
        options=options,
        idempotency_key=idempotency_key[:200],
        source_type=source_type,
        source_id=str(source_id),
        channel_ref=channel_ref,
        status="pending",
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
    )
    session.add(message)
    return message


def due_filter(now: datetime) -> Any:
    """Pending and due, or stuck in ``sending`` past its lease (the sender died mid-send)."""
    return or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
    )


def claim_due(session: Session, now: datetime, limit: int = 50) -> list[OutboxMessage]:
    """Claim up to ``limit`` due messages for this process and commit the claim.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets several senders take disjoint batches. Everywhere:
    each row is claimed with ``UPDATE … WHERE id = :id AND status = :seen AND attempts = :seen``,
    and only rows where exactly one row changed are ours.
    """
    query = select(OutboxMessage).where(due_filter(now)).order_by(OutboxMessage.next_attempt_at)
    query = query.limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(session.scalars(query))
    claimed_ids: list[int] = []
    for message in candidates:
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == message.status,
                OutboxMessage.attempts == message.attempts,
            )
            .values(status="sending", lease_until=now + LEASE, attempts=message.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed_ids.append(message.id)
    session.commit()
    if not claimed_ids:
        return []
    session.expire_all()
    messages = list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(claimed_ids))))
    session.commit()  # end the read too: on SQLite an open transaction holds the write lock
    return messages
