"""Notifications are never lost: outbox rows, retries with backoff, permanent failures, crashes."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.delivery import RetryPolicy
from dutydesk.core.notify.outbox import OutboxError, claim_due, enqueue
from dutydesk.core.notify.sender import deliver_due
from dutydesk.models import DeliveryAttempt, OutboxMessage, Role

from ...conftest import make_user
from .receivers import HttpReceiver, SmtpServer

FAST = RetryPolicy(max_attempts=4, base_delay=timedelta(seconds=1), max_delay=timedelta(seconds=4))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="duty@dc.example"
    )


def put(db: Database, key: str = "incident:1:opened", **kwargs: Any) -> None:
    fields = {
        "channel": "email",
        "target": "ivan@dc.example",
        "subject": "P1: UPS A on battery",
        "body_text": "UPS A switched to battery at 03:12.",
        "source_type": "incident",
        "source_id": 1,
        **kwargs,
    }
    with db.session() as s:
        enqueue(s, idempotency_key=key, **fields)


def run_until_quiet(db: Database, settings: Settings, rounds: int = 10, **kwargs: Any) -> None:
    """Drive the sender as the worker would, moving the clock past each backoff."""
    moment = utcnow()
    for _round in range(rounds):
        deliver_due(db, settings, now=moment, policy=FAST, rng=lambda: 0.0, **kwargs)
        moment += timedelta(seconds=5)


def test_an_email_reaches_the_smtp_server_with_a_stable_message_id(
    db: Database, mail_settings: Settings, smtp: SmtpServer
) -> None:
    put(db)
    assert deliver_due(db, mail_settings) == 1
    assert len(smtp.mailbox.messages) == 1
    mail = smtp.mailbox.messages[0]
    assert mail["Subject"] == "P1: UPS A on battery"
    assert mail["To"] == "ivan@dc.example"
    assert "UPS A switched to battery" in mail.get_content()
    assert mail["X-DutyDesk-Idempotency-Key"] == "incident:1:opened"
    with db.session() as s:
        message = s.scalar(select(OutboxMessage))
        assert message.status == "sent" and message.sent_at is not None
        assert s.scalar(select(func.count(DeliveryAttempt.id))) == 1


def test_the_same_reason_is_enqueued_only_once(db: Database) -> None:
    put(db, key="incident:9:opened")
    put(db, key="incident:9:opened")
    with db.session() as s:
        enqueue(
            s,
            channel="email",
            target="a@dc.example",
            subject="x",
            body_text="y",
            idempotency_key="same-tx",
            source_type="t",
            source_id=1,
        )
        again = enqueue(
            s,
            channel="email",
            target="a@dc.example",
            subject="x",
            body_text="y",
            idempotency_key="same-tx",
            source_type="t",
            source_id=1,
        )
        assert again is None
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 2


def test_enqueue_is_part_of_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        enqueue(
            s,
            channel="email",
            target="a@dc.example",
            subject="x",
            body_text="y",
            idempotency_key="rolled-back",
            source_type="t",
            source_id=1,
        )
        raise RuntimeError("the incident change failed")
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 0


def test_a_bad_channel_is_refused(db: Database) -> None:
    with pytest.raises(OutboxError, match="channel must be one of"), db.session() as s:
        enqueue(
            s,
            channel="pigeon",
            target="roof",
            subject="x",
            body_text="y",
            idempotency_key="k",
            source_type="t",
            source_id=1,
        )


def test_a_webhook_that_fails_for_a_while_gets_the_message_once_it_recovers(
    db: Database, settings: Settings
) -> None:
    receiver = HttpReceiver(fail_first=2, fail_status=503)
    url = receiver.start()
    try:
        put(
            db,
            channel="webhook",
            target=url + "/hook",
            payload={"incident": 7, "state": "open"},
            options={"signing_secret": "s3cret"},
        )
        run_until_quiet(db, settings)
    finally:
        receiver.stop()
    assert len(receiver.requests) == 3
    keys = {r["headers"]["Idempotency-Key"] for r in receiver.requests}
    assert keys == {"incident:1:opened"}  # every retry is recognisable as the same message
    last = receiver.requests[-1]
    assert last["body"] == {"incident": 7, "state": "open"}
    expected = hmac.new(b"s3cret", last["raw"], hashlib.sha256).hexdigest()
    assert last["headers"]["X-DutyDesk-Signature"] == f"sha256={expected}"
    with db.session() as s:
        message = s.scalar(select(OutboxMessage))
        attempts = list(s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.number)))
    assert message.status == "sent"
    assert [a.ok for a in attempts] == [False, False, True]
    assert "503" in attempts[0].detail


def test_a_permanent_refusal_stops_retrying_and_tells_the_admins(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ADMIN, email="chief@dc.example")
    receiver = HttpReceiver(fail_first=99, fail_status=404)
    url = receiver.start()
    disabled: list[str] = []
    try:
        put(db, channel="webhook", target=url, channel_ref="contact:5")
        run_until_quiet(db, settings, disablers={"contact": lambda _s, ref: disabled.append(ref)})
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1
    assert disabled == ["contact:5"]
    with db.session() as s:
        message = s.scalar(select(OutboxMessage).where(OutboxMessage.source_type == "incident"))
        alert = s.scalar(select(OutboxMessage).where(OutboxMessage.source_type == "admin_alert"))
    assert (message.status, message.failure_scope) == ("failed", "channel")
    assert alert.target == "chief@dc.example"
    assert "404" in alert.body_text and "disabled" in alert.body_text


def test_transient_failures_give_up_after_the_attempt_limit(
    db: Database, settings: Settings
) -> None:
    receiver = HttpReceiver(fail_first=99, fail_status=500)
    url = receiver.start()
    try:
        put(db, channel="webhook", target=url)
        run_until_quiet(db, settings, rounds=12)
    finally:
        receiver.stop()
    assert len(receiver.requests) == FAST.max_attempts
    with db.session() as s:
        message = s.scalar(select(OutboxMessage).where(OutboxMessage.source_type == "incident"))
    assert message.status == "failed"
    assert "gave up after 4 attempts" in message.last_error


def test_a_sender_killed_mid_send_does_not_lose_the_message(
    db: Database, mail_settings: Settings, smtp: SmtpServer
) -> None:
    put(db)
    with db.session() as s:
        crashed = claim_due(s, utcnow())  # claimed, then the process died before recording
    assert len(crashed) == 1
    assert deliver_due(db, mail_settings) == 0  # the lease still protects the claim
    later = utcnow() + timedelta(minutes=3)
    assert deliver_due(db, mail_settings, now=later) == 1
    assert len(smtp.mailbox.messages) == 1
    with db.session() as s:
        message = s.scalar(select(OutboxMessage))
    assert message.status == "sent" and message.attempts == 2


def test_two_senders_never_claim_the_same_message(db: Database) -> None:
    for n in range(20):
        put(db, key=f"k{n}")
    first_session, second_session = db.session_factory(), db.session_factory()
    try:
        first = claim_due(first_session, utcnow(), limit=15)
        second = claim_due(second_session, utcnow(), limit=15)
    finally:
        first_session.close()
        second_session.close()
    ids_first, ids_second = {m.id for m in first}, {m.id for m in second}
    assert not ids_first & ids_second
    assert len(ids_first | ids_second) == 20


def test_slack_and_telegram_messages_have_their_shapes(db: Database, settings: Settings) -> None:
    receiver = HttpReceiver()
    url = receiver.start()
    telegram = dataclasses.replace(settings, telegram_bot_token="123:ABC", telegram_api_url=url)
    try:
        put(db, key="s", channel="slack", target=url + "/slack")
        put(db, key="t", channel="telegram", target="-100200300")
        deliver_due(db, telegram)
    finally:
        receiver.stop()
    by_path = {r["path"]: r["body"] for r in receiver.requests}
    assert by_path["/slack"]["text"].startswith("*P1: UPS A on battery*")
    assert by_path["/bot123:ABC/sendMessage"]["chat_id"] == "-100200300"
