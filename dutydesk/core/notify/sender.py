"""The sender job: claim due outbox messages, deliver them, record every attempt, decide retries.

Assembled in ``dutydesk.jobs``; runs in the worker every second. ``deliver_due`` is safe to run in
several processes at once (claims are compare-and-set), and a crash between claim and record only
causes a redelivery after the lease, never a lost message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role, User
from dutydesk.core.models.notify import DeliveryAttempt, OutboxMessage
from dutydesk.core.notify.delivery import RetryPolicy, decide
from dutydesk.core.notify.outbox import claim_due, enqueue
from dutydesk.core.notify.transports import TRANSPORTS, Outcome, Transport

log = logging.getLogger("dutydesk.core.notify")

# channel_ref prefix ("subscriber", "contact") -> function that disables that channel for good.
ChannelDisabler = Callable[[Session, str], None]
# Called in the recording transaction after each attempt (e.g. to add an incident timeline event).
AttemptHook = Callable[[Session, OutboxMessage, Outcome], None]
DEFAULT_POLICY = RetryPolicy()


def deliver_due(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    transports: Mapping[str, Transport] = TRANSPORTS,
    policy: RetryPolicy | None = None,
    disablers: Mapping[str, ChannelDisabler] | None = None,
    rng: Callable[[], float] = random.random,
    limit: int = 50,
    on_recorded: AttemptHook | None = None,
) -> int:
    """Deliver what is due; returns how many messages were attempted."""
    policy = policy or DEFAULT_POLICY
    with db.session() as s:
        claimed = claim_due(s, now or utcnow(), limit)
    for message in claimed:
        started = time.perf_counter()
        try:
            outcome = transports[message.channel](message, settings)
        except Exception as exc:  # a transport bug must not lose the message
            from dutydesk.core.notify.delivery import classify_exception

            failure = classify_exception(exc)
            outcome = Outcome(False, failure.reason, failure)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        record_outcome(
            db,
            message,
            outcome,
            elapsed_ms,
            policy=policy,
            disablers=disablers or {},
            rng=rng,
            on_recorded=on_recorded,
        )
    return len(claimed)


def record_outcome(
    db: Database,
    message: OutboxMessage,
    outcome: Outcome,
    elapsed_ms: int,
    *,
    policy: RetryPolicy,
    disablers: Mapping[str, ChannelDisabler],
    rng: Callable[[], float],
    on_recorded: AttemptHook | None = None,
) -> None:
    now = utcnow()
    with db.session() as s:
        s.add(
            DeliveryAttempt(
                message_id=message.id,
                number=message.attempts,
                at=now,
                ok=outcome.ok,
                duration_ms=elapsed_ms,
                detail=outcome.detail[:1000],
                permanent=bool(outcome.failure and outcome.failure.permanent),
            )
        )
        values: dict[str, object]
        if outcome.ok:
            values = {"status": "sent", "sent_at": now, "lease_until": None, "last_error": None}
        else:
            assert outcome.failure is not None
            decision = decide(policy, message.attempts, outcome.failure, now, rng())
            if decision.retry:
                values = {
                    "status": "pending",
                    "next_attempt_at": decision.retry_at,
                    "lease_until": None,
                    "last_error": outcome.detail[:1000],
                }
            else:
                values = {
                    "status": "failed",
                    "lease_until": None,
                    "last_error": decision.reason[:1000],
                    "failure_scope": outcome.failure.scope.value,
                }
                _after_giving_up(
                    s,
                    message,
                    decision.reason,
                    decision.disable_channel,
                    decision.alert_admin,
                    disablers,
                )
        # Only our claim may record: if the lease ran out and another sender took the message,
        # its attempt number moved on and this update changes nothing.
        s.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == "sending",
                OutboxMessage.attempts == message.attempts,
            )
            .values(**values)
        )
        if on_recorded is not None:
            on_recorded(s, message, outcome)
    level = logging.INFO if outcome.ok else logging.WARNING
    log.log(
        level,
        "delivery",
        extra={
            "outbox_id": message.id,
            "channel": message.channel,
            "ok": outcome.ok,
            "detail": outcome.detail,
        },
    )


def _after_giving_up(
    s: Session,
    message: OutboxMessage,
    reason: str,
    disable_channel: bool,
    alert_admin: bool,
    disablers: Mapping[str, ChannelDisabler],
) -> None:
    if disable_channel and message.channel_ref:
        prefix = message.channel_ref.split(":", 1)[0]
        disabler = disablers.get(prefix)
        if disabler is not None:
            disabler(s, message.channel_ref)
    if alert_admin and message.source_type != "admin_alert":
        admins = s.scalars(select(User.email).where(User.role == Role.ADMIN, User.active))
        for email in admins:
            enqueue(
                s,
                channel="email",
                target=email,
                subject=f"DutyDesk could not deliver a {message.channel} notification",
                body_text=(
                    f"Message {message.id} to {message.target} ({message.subject!r}) was not "
                    f"delivered: {reason}.\n"
                    + ("The channel has been disabled.\n" if disable_channel else "")
                ),
                idempotency_key=f"admin-alert:{message.id}:{email}",
                source_type="admin_alert",
                source_id=message.id,
            )
