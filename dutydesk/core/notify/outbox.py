"""Writing to the outbox, and claiming due messages for delivery (compare-and-set).

``enqueue`` is called inside the transaction that makes the change worth telling (an incident
opens, a notice is published), so a message exists if and only if the change was committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, or_, select, true, update
from sqlalchemy.orm import Session

from dutydesk.core.db import utcnow
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.lanes import InFlight, Limits, choose, full, lane_of

CHANNELS = ("email", "webhook", "slack", "telegram")
#: Default lease of a claimed message. Senders lease for their transport timeout plus a margin
#: and renew while they work (``renew_leases``), so a killed sender's messages come back soon.
LEASE = timedelta(seconds=15)


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
    priority: int = 3,
) -> OutboxMessage | None:
    """Add a message to the caller's transaction; ``None`` if the key was already enqueued.

    ``idempotency_key`` names the *reason* for the message (e.g. ``incident:42:opened:user:7``),
    so a retried request or a re-run job never sends the same news twice. ``priority`` (1 = P1
    ... 4) orders delivery: due P1 messages go out before anything else.
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
        priority=min(max(int(priority), 1), 4),
        lane=lane_of(channel, target),
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


def _room_filter(busy: InFlight, limits: Limits) -> Any:
    """Leave out what could not start anyway (its lane or channel is full), so a queue of
    messages to a dead receiver never hides the ones behind it from the query."""
    lanes, channels, p1_lanes = full(busy, limits)
    lane = OutboxMessage.lane
    p1 = and_(OutboxMessage.priority <= 1,
              or_(lane.is_(None), lane.notin_(p1_lanes)) if p1_lanes else true())
    rest = [OutboxMessage.priority > 1]
    if lanes:
        rest.append(or_(lane.is_(None), lane.notin_(lanes)))
    if channels:
        rest.append(OutboxMessage.channel.notin_(channels))
    if busy.total >= limits.total:
        rest.append(false())
    return or_(p1, and_(*rest))


_CANDIDATE_COLUMNS = (OutboxMessage.id, OutboxMessage.channel, OutboxMessage.priority,
                      OutboxMessage.lane, OutboxMessage.target, OutboxMessage.source_type,
                      OutboxMessage.source_id)


def claim_due(
    session: Session,
    now: datetime,
    limit: int = 50,
    *,
    owner: str | None = None,
    lease: timedelta = LEASE,
    busy: InFlight | None = None,
    limits: Limits | None = None,
) -> list[OutboxMessage]:
    """Claim due messages that may start now and commit the claim; P1 first, then by due time.

    At most ``limit`` messages, and only as many as fit ``limits`` beside what this sender has
    in flight (``busy``), so a claimed message starts at once and its lease (``now + lease``,
    held by ``owner``) covers one delivery, not a queue. PostgreSQL: ``FOR UPDATE SKIP LOCKED``
    lets several senders take disjoint sets. Everywhere: the claim is a compare-and-set
    (``UPDATE … WHERE id IN … AND <still due>``), and only the rows it changed are ours;
    each claim counts one attempt, so a later record can tell whose claim it was.
    """
    busy = busy or InFlight()
    limits = limits or Limits(per_lane=limit, per_channel=limit, total=limit, p1_reserve=0)
    # The candidates as plain rows of the columns ``choose`` reads: a few times more rows are
    # looked at than taken (the lanes decide), and none of them needs its body or JSON decoded.
    query = (
        select(*_CANDIDATE_COLUMNS)
        .where(due_filter(now), _room_filter(busy, limits))
        .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(max(limit, 1) * 4)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxMessage, skip_locked=True)
    candidates = session.execute(query).all()
    chosen_ids = [m.id for m in choose(candidates, busy, limits)][:limit]
    messages: list[OutboxMessage] = []
    if chosen_ids:
        messages = list(
            session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(chosen_ids), due_filter(now))
                .values(
                    status="sending",
                    lease_until=now + lease,
                    lease_owner=owner,
                    attempts=OutboxMessage.attempts + 1,
                )
                .returning(OutboxMessage)  # the claimed rows as they are now, in one trip
                .execution_options(populate_existing=True, synchronize_session=False)
            )
        )
    session.commit()
    for message in messages:
        session.expunge(message)  # handed to other threads; they must not touch this session
    order = {message_id: n for n, message_id in enumerate(chosen_ids)}
    return sorted(messages, key=lambda m: order[m.id])  # P1 first, then by due time


def renew_leases(session: Session, owner: str, ids: list[int], until: datetime) -> int:
    """Extend this sender's leases on the messages it is still delivering; returns rows renewed."""
    if not ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending",
               OutboxMessage.lease_owner == owner)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def release_leases(session: Session, owner: str, now: datetime) -> int:
    """Hand back every message ``owner`` holds (a sender shutting down): due again at ``now``
    for any other sender. The claim's attempt stays counted (it may have reached the receiver;
    the idempotency key lets the receiver drop a repeat). Returns rows released."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.lease_owner == owner)
        .values(status="pending", lease_until=None, lease_owner=None, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def retry_now(session: Session, message_id: int, now: datetime) -> bool:
    """Make a failed or waiting message due at once (an admin's "retry"); ``False`` when it is
    already sent or being sent. Compare-and-set, so a sender's claim and the retry never mix."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(("failed", "pending")))
        .values(status="pending", next_attempt_at=now, lease_until=None, lease_owner=None,
                last_error=None, failure_scope=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
