"""Mail to the intake mailbox, read from a real Dovecot over TLS: each mail from a person becomes
a request or a reply on its request, exactly once, and machines' mail never starts a loop."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.mailin.imap import ImapConfig, ImapMailbox, MailboxUnavailable, poll_once
from dutydesk.core.models.mailin import MailIntakeRow
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.transports import message_id_for
from dutydesk.jobs import mail_handlers
from dutydesk.requests import service as req
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import RequestEventRow, ServiceRequest

HELP = "help@corp.example"


def mail(body: str = "Outlook says: cannot connect", *, sender: str = "Anna <anna@corp.example>",
         subject: str = "Mail does not work", message_id: str = "<m1@corp.example>",
         **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = HELP
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def config(server: Any, **change: Any) -> ImapConfig:
    return dataclasses.replace(ImapConfig(
        host=server.host, port=server.tls_port, username=server.user,
        password=server.password, ca_file=server.ca_file), **change)


@pytest.fixture
def intake_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, smtp_from=HELP, request_intake_service="Service desk")


def poll(db: Database, server: Any, settings: Settings, handlers: list[Any] | None = None,
         mailbox: Callable[[ImapConfig], ImapMailbox] = ImapMailbox, **change: Any) -> Any:
    return poll_once(db, config(server, **change),
                     mail_handlers(settings) if handlers is None else handlers, utcnow,
                     (HELP,), mailbox=mailbox)


def requests_of(db: Database) -> list[ServiceRequest]:
    with db.session() as s:
        rows = list(s.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))
        s.expunge_all()
        return rows


def kinds(db: Database, request_id: int) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(RequestEventRow.kind)
                              .where(RequestEventRow.request_id == request_id)
                              .order_by(RequestEventRow.id)))


def test_a_persons_mail_becomes_a_request_acknowledged_and_moved_out_of_the_inbox(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    result = poll(db, dovecot, intake_settings)
    assert [o.status for o in result.outcomes] == ["handled"]
    [row] = requests_of(db)
    assert (row.channel, row.requester_email, row.requester_name) == (
        "email", "anna@corp.example", "Anna")
    assert (row.subject, row.description, row.service) == (
        "Mail does not work", "Outlook says: cannot connect", "Service desk")
    with db.session() as s:
        [ack] = s.scalars(select(OutboxMessage).where(OutboxMessage.target == row.requester_email))
        assert ack.subject.startswith(f"[REQ-{row.id}]")
        # RFC 3834: our answer is automatic, so the sender's robots do not answer it
        assert ack.options["headers"] == {"Auto-Submitted": "auto-replied"}
    assert dovecot.uids("INBOX") == []
    assert len(dovecot.uids("DutyDesk/Processed")) == 1
    assert poll(db, dovecot, intake_settings).outcomes == []  # nothing processed twice


def test_the_same_mail_delivered_twice_is_one_request(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    dovecot.deliver(mail())
    result = poll(db, dovecot, intake_settings)
    assert [o.status for o in result.outcomes] == ["handled", "duplicate"]
    assert len(requests_of(db)) == 1
    assert dovecot.uids("INBOX") == []


def test_a_reply_to_our_mail_threads_by_in_reply_to_and_reopens_the_resolved_request(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    poll(db, dovecot, intake_settings)
    [row] = requests_of(db)
    with db.session() as s:
        req.perform(s, intake_settings, "olga", row.id, Action.RESOLVE, utcnow(),
                    note="restarted the mail server")
        resolved = s.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key.like(f"request:{row.id}:%:resolve"))).one()
        our_id = message_id_for(resolved, intake_settings)
    dovecot.deliver(mail("Still broken here.\n\nOn Monday Help wrote:\n> restarted",
                         subject="Re: something else entirely", message_id="<m2@corp.example>",
                         In_Reply_To=our_id, References=our_id))
    poll(db, dovecot, intake_settings)
    [row] = requests_of(db)
    assert row.status == "in_progress"
    assert kinds(db, row.id)[-2:] == ["requester_replied", "reopened"] or \
        "requester_replied" in kinds(db, row.id)
    with db.session() as s:
        text = s.scalars(select(RequestEventRow.data).where(
            RequestEventRow.kind == "requester_replied")).one()["text"]
    assert text == "Still broken here."  # the quoted history is not repeated


def test_a_reply_threads_by_the_number_in_the_subject_and_a_stranger_only_adds_a_note(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    poll(db, dovecot, intake_settings)
    [row] = requests_of(db)
    dovecot.deliver(mail("me too", sender="Boris <boris@corp.example>",
                         subject=f"Re: [REQ-{row.id}] Mail does not work",
                         message_id="<m3@corp.example>"))
    poll(db, dovecot, intake_settings)
    assert len(requests_of(db)) == 1
    assert kinds(db, row.id)[-1] == "note"
    assert "requester_replied" not in kinds(db, row.id)


def test_a_reply_to_a_closed_request_opens_a_new_one_that_names_it(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    poll(db, dovecot, intake_settings)
    [old] = requests_of(db)
    with db.session() as s:
        req.perform(s, intake_settings, "olga", old.id, Action.RESOLVE, utcnow(), note="done")
        req.perform(s, intake_settings, "olga", old.id, Action.CLOSE, utcnow(), reason="ok")
    dovecot.deliver(mail("It is broken again", subject=f"Re: [REQ-{old.id}] Mail does not work",
                         message_id="<m4@corp.example>"))
    poll(db, dovecot, intake_settings)
    old_row, new_row = requests_of(db)
    assert old_row.status == "closed"
    assert f"a reply to REQ-{old.id}, which is closed" in new_row.description
    assert new_row.subject == "Re: Mail does not work" or "Mail does not work" in new_row.subject


@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"},
    {"Precedence": "bulk"},
    {"X_Autoreply": "yes"},
])
def test_auto_replies_make_no_request_and_get_no_answer(
        db: Database, intake_settings: Settings, dovecot: Any,
        headers: dict[str, str]) -> None:
    dovecot.deliver(mail("I am out of office", **headers))
    dovecot.deliver(mail("Delivery failed", sender="MAILER-DAEMON@mx.corp.example",
                         message_id="<bounce@mx>"))
    dovecot.deliver(mail("our own", sender=HELP, message_id="<own@x>"))
    result = poll(db, dovecot, intake_settings)
    assert [o.status for o in result.outcomes] == ["ignored"] * 3
    assert requests_of(db) == []
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 0
        assert s.scalar(select(func.count(MailIntakeRow.id)).where(
            MailIntakeRow.status == "ignored")) == 3
    assert dovecot.uids("INBOX") == []


def test_a_worker_killed_after_storing_but_before_moving_stores_nothing_twice(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    class DiesOnMove(ImapMailbox):
        def move(self, uid: int, folder: str) -> None:
            raise OSError("worker killed")

    dovecot.deliver(mail())
    with pytest.raises(MailboxUnavailable):
        poll(db, dovecot, intake_settings, mailbox=DiesOnMove)
    assert len(requests_of(db)) == 1 and len(dovecot.uids("INBOX")) == 1
    result = poll(db, dovecot, intake_settings)
    assert [o.status for o in result.outcomes] == ["duplicate"]
    assert len(requests_of(db)) == 1
    assert dovecot.uids("INBOX") == []


def test_the_first_handler_that_consumes_wins_and_the_requests_come_last(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    seen: list[str] = []

    def page_reply(session: Any, message: Any, now: Any) -> bool:
        seen.append(message.subject)
        return message.subject.startswith("Re: [PAGE")

    dovecot.deliver(mail(subject="Re: [PAGE-7] disk full", message_id="<p@x>"))
    dovecot.deliver(mail(subject="VPN question", message_id="<q@x>"))
    result = poll(db, dovecot, intake_settings,
                  handlers=[page_reply, *mail_handlers(intake_settings)])
    assert [(o.status, o.handler) for o in result.outcomes] == [
        ("handled", "page_reply"), ("handled", "handle_request_mail")]
    assert [r.subject for r in requests_of(db)] == ["VPN question"]
    assert seen == ["Re: [PAGE-7] disk full", "VPN question"]


def test_a_handler_that_fails_leaves_the_mail_for_a_retry_then_sets_it_aside(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    def broken(session: Any, message: Any, now: Any) -> bool:
        raise RuntimeError("bug")

    dovecot.deliver(mail())
    for attempt in (1, 2):
        result = poll(db, dovecot, intake_settings, handlers=[broken])
        assert [(o.status, o.attempts) for o in result.outcomes] == [("failed", attempt)]
        assert len(dovecot.uids("INBOX")) == 1
    poll(db, dovecot, intake_settings, handlers=[broken])
    assert dovecot.uids("INBOX") == [] and len(dovecot.uids("DutyDesk/Failed")) == 1
    assert requests_of(db) == []


def test_a_mail_over_the_size_limit_is_a_request_with_a_warning_not_a_lost_mail(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail("x" * 50_000))
    poll(db, dovecot, intake_settings, max_bytes=10_000)
    [row] = requests_of(db)
    assert row.description == "(the mail had no text)"
    with db.session() as s:
        note = s.scalars(select(RequestEventRow.data).where(
            RequestEventRow.kind == "note")).one()["text"]
    assert "over the intake's limit" in note


def test_a_sender_gets_a_few_acknowledgements_an_hour_at_most(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    settings = dataclasses.replace(intake_settings, request_ack_per_hour=2)
    for n in range(4):
        dovecot.deliver(mail(f"problem {n}", subject=f"problem {n}",
                             message_id=f"<n{n}@corp.example>"))
    poll(db, dovecot, settings)
    assert len(requests_of(db)) == 4
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 2


def test_starttls_works_and_a_certificate_from_an_unknown_ca_is_refused_without_the_password(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    with pytest.raises(MailboxUnavailable) as refused:
        poll(db, dovecot, intake_settings, ca_file=dovecot.other_ca_file)
    assert "certificate" in str(refused.value).lower()
    assert dovecot.password not in str(refused.value)
    with pytest.raises(MailboxUnavailable) as wrong:
        poll(db, dovecot, intake_settings, password="wrong-secret-123")
    assert "wrong-secret-123" not in str(wrong.value)
    result = poll(db, dovecot, intake_settings, port=dovecot.port, security="starttls")
    assert [o.status for o in result.outcomes] == ["handled"]


def test_the_mailbox_down_is_a_clear_error_and_the_mail_waits(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    port = dovecot.tls_port
    dovecot.stop()
    with pytest.raises(MailboxUnavailable, match="IMAP server"):
        poll_once(db, config(dovecot, port=port, timeout=3), mail_handlers(intake_settings),
                  utcnow, (HELP,))
    assert requests_of(db) == []


def test_the_received_at_of_the_ledger_is_the_processing_time(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    dovecot.deliver(mail())
    before = utcnow() - timedelta(seconds=1)
    poll(db, dovecot, intake_settings)
    with db.session() as s:
        row = s.scalars(select(MailIntakeRow)).one()
        assert (row.status, row.handler, row.from_email) == (
            "handled", "handle_request_mail", "anna@corp.example")
        assert row.received_at >= before


def test_the_worker_job_reads_the_mailbox_the_settings_name(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    from dutydesk.jobs import mail_intake_jobs

    assert mail_intake_jobs(intake_settings, db) == []  # no DUTYDESK_IMAP_HOST: no job
    settings = dataclasses.replace(
        intake_settings, imap_host=dovecot.host, imap_port=dovecot.tls_port,
        imap_username=dovecot.user, imap_password=dovecot.password,
        imap_ca_file=dovecot.ca_file, imap_poll_seconds=5)  # 5 s: no time left to IDLE
    [job] = mail_intake_jobs(settings, db)
    assert dovecot.password not in job.name
    dovecot.deliver(mail())
    job.func()
    assert [r.channel for r in requests_of(db)] == ["email"]
    dovecot.stop()
    job.func()  # the server is gone: logged, nothing raised, nothing lost


def test_with_idle_a_mail_is_taken_in_as_it_arrives_not_at_the_next_poll(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    import threading

    results: list[Any] = []
    watcher = threading.Thread(target=lambda: results.append(poll_once(
        db, config(dovecot), mail_handlers(intake_settings), utcnow, (HELP,),
        idle_seconds=8)))
    watcher.start()
    time.sleep(2)  # the watcher has read the empty inbox and waits (IDLE)
    dovecot.deliver(mail())
    watcher.join(timeout=30)
    [result] = results
    assert [o.status for o in result.outcomes] == ["handled"]
    assert len(requests_of(db)) == 1 and dovecot.uids("INBOX") == []


def test_a_stopping_worker_ends_the_idle_wait_at_once(
        db: Database, intake_settings: Settings, dovecot: Any) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    poll_once(db, config(dovecot), mail_handlers(intake_settings), utcnow, (HELP,),
              idle_seconds=60, stop=stop)
    assert time.monotonic() - started < 30  # not the minute it would otherwise wait
