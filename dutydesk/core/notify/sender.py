"""Delivering outbox messages: one attempt (``attempt``), one choke point recording it
(``record_in``: the attempt log, retry or give up, disable a dead channel, tell the admins).

The worker runs a ``dutydesk.core.notify.dispatcher.Dispatcher`` (concurrent, bounded per lane);
``deliver_due`` is one round of the same machinery. Safe in several processes at once (claims are
compare-and-set); a crash between claim and record only causes a redelivery once the lease runs
out (transport timeout plus a margin), never a lost message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role, User
from dutydesk.core.models.notify import DeliveryAttempt, OutboxMessage
from dutydesk.core.notify.delivery import RetryPolicy, classify_exception, decide
from dutydesk.core.notify.outbox import enqueue
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
    """Deliver what is due now (up to ``limit`` messages, within the lane bounds, concurrently,
    in rounds until nothing more is due), record every attempt; returns how many messages
    were attempted.

    The worker runs a long-lived ``Dispatcher`` instead; this is the same machinery for one
    round (tests, the demo, a CLI flush)."""
    from dutydesk.core.notify.dispatcher import Dispatcher

    dispatcher = Dispatcher(
        db,
        settings,
        transports=transports,
        policy=policy,
        disablers=disablers,
        rng=rng,
        on_recorded=on_recorded,
        batch=limit,
    )
    started = 0
    try:
        while started < limit:  # rounds, so news held back for order goes out after its elder
            dispatcher.batch = limit - started
            count = dispatcher.step(now)
            dispatcher.drain()
            if not count:
                break
            started += count
        dispatcher.record_finished()
    finally:
        dispatcher.close()
    return started


def attempt(message: OutboxMessage, settings: Settings,
            transports: Mapping[str, Transport] = TRANSPORTS) -> tuple[Outcome, int]:
    """Try one delivery (the one place a transport is called); never raises.

    Returns the outcome and how long it took in milliseconds."""
    started = time.perf_counter()
    try:
        outcome = transports[message.channel](message, settings)
    except Exception as exc:  # a transport bug must not lose the message
        failure = classify_exception(exc)
        outcome = Outcome(False, failure.reason, failure)
    return outcome, int((time.perf_counter() - started) * 1000)


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
    """Record one attempt in its own transaction (see ``record_in``)."""
    with db.session() as s:
        record_in(s, message, outcome, elapsed_ms, policy=policy, disablers=disablers, rng=rng,
                  on_recorded=on_recorded, now=utcnow())


def record_in(
    s: Session,
    message: OutboxMessage,
    outcome: Outcome,
    elapsed_ms: int,
    *,
    policy: RetryPolicy,
    disablers: Mapping[str, ChannelDisabler],
    rng: Callable[[], float],
    now: datetime,
    on_recorded: AttemptHook | None = None,
) -> bool:
    """The choke point: record one attempt and decide what happens to the message.

    Only the claim that made the attempt may record it: the update is a compare-and-set on
    (``sending``, attempt number), so when the lease ran out or was released and another sender
    took the message, this changes nothing and returns ``False``."""
    values: dict[str, object]
    decision = None
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
    values["lease_owner"] = None
    result = s.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status == "sending",
            OutboxMessage.attempts == message.attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    ours = result.rowcount == 1
    # The attempt happened whoever holds the message now: it is always in the log.
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
    if ours and decision is not None and not decision.retry:
        assert outcome.failure is not None
        _after_giving_up(s, message, decision.reason, decision.disable_channel,
                         decision.alert_admin, disablers)
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
            "ms": elapsed_ms,
        },
    )
    return ours


def record_delivered(
    s: Session,
    delivered: list[tuple[OutboxMessage, Outcome, int]],
    *,
    now: datetime,
    on_recorded: AttemptHook | None = None,
) -> int:
    """``record_in`` for many successful attempts at once (one UPDATE, one INSERT): the same
    compare-and-set on (``sending``, attempt number) and the same attempt log. Returns how many
    messages were still ours."""
    if not delivered:
        return 0
    claims = [(m.id, m.attempts) for m, _o, _ms in delivered]
    result = s.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending",
               tuple_(OutboxMessage.id, OutboxMessage.attempts).in_(claims))
        .values(status="sent", sent_at=now, lease_until=None, lease_owner=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    s.execute(insert(DeliveryAttempt), [
        {"message_id": m.id, "number": m.attempts, "at": now, "ok": True, "duration_ms": ms,
         "detail": outcome.detail[:1000], "permanent": False}
        for m, outcome, ms in delivered
    ])
    for message, outcome, elapsed_ms in delivered:
        if on_recorded is not None:
            on_recorded(s, message, outcome)
        log.info("delivery", extra={"outbox_id": message.id, "channel": message.channel,
                                    "ok": True, "detail": outcome.detail, "ms": elapsed_ms})
    return int(result.rowcount or 0)


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
