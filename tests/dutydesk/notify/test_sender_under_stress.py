"""Pages under stress: a dead receiver delays only its own messages, two senders never page
twice, a killed sender's messages come back within the lease, a stopping sender hands back."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.dispatcher import Dispatcher, lease_for
from dutydesk.core.notify.lanes import Limits
from dutydesk.core.notify.outbox import claim_due, enqueue
from dutydesk.core.notify.sender import deliver_due
from dutydesk.core.notify.transports import Outcome
from dutydesk.models import OutboxMessage

from .receivers import HttpReceiver, SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def put(db: Database, key: str, channel: str, target: str, priority: int = 3) -> None:
    with db.session() as s:
        enqueue(s, channel=channel, target=target, subject=f"[P{priority}] #{key} UPS on battery",
                body_text="UPS A switched to battery.", idempotency_key=key,
                source_type="incident", source_id=key, priority=priority)  # one incident each


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Poll until ``condition`` holds; a generous bound so a loaded machine does not flake."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def statuses(db: Database) -> Counter[str]:
    with db.session() as s:
        return Counter(s.scalars(select(OutboxMessage.status)))


def test_an_email_page_arrives_while_a_dead_webhook_still_hangs(
    db: Database, settings: Settings, smtp: SmtpServer
) -> None:
    dead = HttpReceiver(hold=threading.Event())
    url = dead.start()
    mail = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port,
                               webhook_timeout=60.0)
    sender = Dispatcher(db, mail, limits=Limits(per_lane=2, per_channel=8, total=8))
    try:
        for n in range(15):  # a storm: every incident pages the dead webhook first
            put(db, f"storm:{n}:hook", "webhook", url + "/hook")
        for n in range(15):
            put(db, f"storm:{n}:mail", "email", "ivan@dc.example")
        sender.start()
        assert wait_for(lambda: len(smtp.mailbox.messages) == 15)
        assert not dead.hold.is_set()  # nobody answered the webhook meanwhile
        assert len(dead.requests) == 2  # its lane holds two, the rest wait their turn
    finally:
        sender.stop(grace=0.1)
        dead.stop()
    assert statuses(db) == Counter({"sent": 15, "pending": 15})


def test_a_p1_page_starts_even_when_the_lane_is_full_of_lower_priority_news(
    db: Database, settings: Settings
) -> None:
    slow = HttpReceiver(hold=threading.Event())
    url = slow.start()
    sender = Dispatcher(db, dataclasses.replace(settings, webhook_timeout=60.0),
                        limits=Limits(per_lane=2, per_channel=2, total=2, p1_reserve=1))
    try:
        for n in range(5):
            put(db, f"news:{n}", "webhook", url + "/news")
        sender.start()
        assert wait_for(lambda: len(slow.requests) == 2)
        put(db, "page:p1", "webhook", url + "/page", priority=1)
        assert wait_for(lambda: "page:p1" in slow.idempotency_keys())
        assert len(slow.requests) == 3  # the page went past three queued pieces of news
    finally:
        sender.stop(grace=0.1)
        slow.stop()


@pytest.mark.parametrize("sender_count", [2])
def test_two_senders_on_their_own_connections_deliver_each_page_exactly_once(
    database_url: str, settings: Settings, sender_count: int
) -> None:
    receiver = HttpReceiver(delay=0.4)
    url = receiver.start()
    databases = [Database(database_url, pool_size=4) for _ in range(sender_count)]
    senders = [Dispatcher(d, settings, limits=Limits(per_lane=4, per_channel=8, total=8))
               for d in databases]
    try:
        for n in range(40):
            put(databases[0], f"page:{n}", "webhook", url + "/hook")
        for sender in senders:
            sender.start()
        assert wait_for(lambda: statuses(databases[0]) == Counter({"sent": 40}), 60)
    finally:
        for sender in senders:
            sender.stop(grace=1)
        receiver.stop()
        for d in databases:
            d.dispose()
    received = Counter(receiver.idempotency_keys())
    assert set(received) == {f"page:{n}" for n in range(40)}
    assert max(received.values()) == 1


def test_a_killed_senders_messages_are_sent_again_once_its_lease_runs_out(
    db: Database, settings: Settings
) -> None:
    receiver = HttpReceiver()
    url = receiver.start()
    quick = dataclasses.replace(settings, webhook_timeout=2.0, smtp_timeout=2.0)
    put(db, "page:1", "webhook", url)
    killed_at = utcnow()
    with db.session() as s:  # claimed by a sender that was then killed -9 before sending
        assert len(claim_due(s, killed_at, owner="killed", lease=lease_for(quick))) == 1
    try:
        assert deliver_due(db, quick, now=killed_at + timedelta(seconds=1)) == 0
        # transport timeout (2 s) + margin: the message is due again, not minutes later
        assert deliver_due(db, quick, now=killed_at + timedelta(seconds=7.5)) == 1
    finally:
        receiver.stop()
    assert receiver.idempotency_keys() == ["page:1"]
    assert lease_for(quick) <= timedelta(seconds=2 + 10)


def test_a_burst_of_pages_to_one_receiver_shares_a_few_kept_alive_connections(
    db: Database, settings: Settings
) -> None:
    receiver = HttpReceiver(keep_alive=True)
    url = receiver.start()
    sender = Dispatcher(db, settings, limits=Limits(per_lane=2, per_channel=8, total=8))
    try:
        for n in range(30):
            put(db, f"burst:{n}", "webhook", url + "/hook")
        sender.start()
        assert wait_for(lambda: statuses(db) == Counter({"sent": 30}))
    finally:
        sender.stop(grace=1)
        receiver.stop()
    assert sorted(receiver.idempotency_keys()) == sorted(f"burst:{n}" for n in range(30))
    assert receiver.connections <= 2  # at most the lane's two at once, each kept for the next


def test_a_failing_record_hook_costs_neither_the_next_claim_nor_the_other_records(
    db: Database, settings: Settings
) -> None:
    """Records of finished pages share a transaction with the claim of the next ones; a hook
    that fails for one page makes them separate again, and the pages behind it still go."""
    delivered: list[str] = []

    def instant(message: OutboxMessage, _settings: Settings) -> Outcome:
        delivered.append(message.idempotency_key)
        return Outcome(True, "HTTP 200")

    def hook(_s: Session, message: OutboxMessage, _outcome: Outcome) -> None:
        if message.idempotency_key == "page:0":
            raise RuntimeError("the timeline is away")

    for n in range(3):
        put(db, f"page:{n}", "webhook", "https://hooks.dc.example/x")
    sender = Dispatcher(db, settings, transports={"webhook": instant}, on_recorded=hook,
                        limits=Limits(per_lane=1, per_channel=1, total=1, p1_reserve=0))
    sender.start()
    try:
        assert wait_for(lambda: statuses(db)["sent"] == 2)
    finally:
        sender.stop(grace=1)
    assert delivered == ["page:0", "page:1", "page:2"]  # one at a time: each claim followed
    with db.session() as s:
        sent = set(s.scalars(select(OutboxMessage.idempotency_key)
                             .where(OutboxMessage.status == "sent")))
    assert sent == {"page:1", "page:2"}


def test_a_stopping_sender_hands_back_what_it_could_not_finish(
    db: Database, settings: Settings
) -> None:
    stuck = HttpReceiver(hold=threading.Event())
    url = stuck.start()
    sender = Dispatcher(db, dataclasses.replace(settings, webhook_timeout=60.0),
                        limits=Limits(per_lane=3, per_channel=3, total=3))
    try:
        for n in range(3):
            put(db, f"page:{n}", "webhook", url)
        sender.start()
        assert wait_for(lambda: len(stuck.requests) == 3)
        assert sender.stop(grace=0.2) == 3
        assert sender.step() == 0  # a stopped sender takes no new work
        with db.session() as s:
            rows = list(s.scalars(select(OutboxMessage)))
        assert {(m.status, m.lease_owner) for m in rows} == {("pending", None)}
        stuck.hold.set()  # the receiver recovers; another sender takes the messages at once
        assert deliver_due(db, settings) == 3
    finally:
        stuck.stop()
    assert statuses(db) == Counter({"sent": 3})


def test_a_message_whose_lease_ran_out_is_taken_over_and_recorded_once(
    db: Database, settings: Settings
) -> None:
    receiver = HttpReceiver()
    url = receiver.start()
    put(db, "page:1", "webhook", url)
    try:
        with db.session() as s:
            claim_due(s, utcnow(), owner="first", lease=timedelta(seconds=1))
        later = utcnow() + timedelta(seconds=5)
        assert deliver_due(db, settings, now=later) == 1  # the lease ran out: taken over
    finally:
        receiver.stop()
    with db.session() as s:
        message = s.scalar(select(OutboxMessage))
    assert (message.status, message.attempts, message.lease_owner) == ("sent", 2, None)


def test_the_worker_runs_the_sender_and_hands_back_on_stop(
    db: Database, settings: Settings, smtp: SmtpServer
) -> None:
    from dutydesk.worker import Worker

    stuck = HttpReceiver(hold=threading.Event())
    url = stuck.start()
    mail = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port,
                               webhook_timeout=60.0)
    worker = Worker(mail, db)
    try:
        put(db, "page:mail", "email", "ivan@dc.example")
        put(db, "page:hook", "webhook", url)
        worker.start()
        assert wait_for(lambda: len(smtp.mailbox.messages) == 1 and len(stuck.requests) == 1)
    finally:
        worker.stop()  # the hung webhook gets a few seconds, then goes back to the queue
        stuck.stop()
    with db.session() as s:
        hook = s.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
    assert (hook.status, hook.lease_owner) == ("pending", None)
