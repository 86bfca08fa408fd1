"""Requests stored: registered with a number and a mail, answered, linked to an outage, and
resolved with it — on SQLite and PostgreSQL, mail through the outbox to a real SMTP server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.sender import deliver_due
from dutydesk.core.security import Principal
from dutydesk.incidents.lifecycle import TransitionRefused
from dutydesk.incidents.service import report_manually
from dutydesk.incidents.store import act as incident_act
from dutydesk.requests import service as req
from dutydesk.requests.jobs import (
    close_quiet_requests,
    follow_resolved_incidents,
    record_sla_events,
)
from dutydesk.requests.mail import BadRequesterToken, read_requester_token
from dutydesk.requests.models import RequestEventRow, ServiceRequest
from dutydesk.requests.rules import RequestInputError
from dutydesk.requests.store import RequestNotFound

from ..notify.receivers import SmtpServer

OLGA = Principal(kind="user", role=Role.ENGINEER, label="olga")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def new(db: Database, settings: Settings, email: str = "anna@corp.example", **extra: object
        ) -> int:
    with db.session() as s:
        fields = {"service": "mail", "description": "Outlook says: cannot connect"} | extra
        row = req.create_request(s, settings, email, req.Requester(email, "Anna"),
                                 now=utcnow(), **fields)  # type: ignore[arg-type]
        return row.id


def outage(db: Database, settings: Settings) -> int:
    with db.session() as s:
        return report_manually(s, OLGA, title="Mail is down", service="mail",
                               severity="critical", details="", settings=settings, now=utcnow())


def mails_to(db: Database, email: str) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.target == email)
                              .order_by(OutboxMessage.id)))


def test_a_request_gets_a_number_and_the_requester_a_mail_with_their_status_link(
    db: Database, settings: Settings, smtp: SmtpServer
) -> None:
    request_id = new(db, settings)
    deliver_due(db, dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port))
    [mail] = smtp.mailbox.messages
    assert mail["Subject"].startswith(f"[REQ-{request_id}] We received your request")
    link = next(w for w in mail.get_content().split() if "/help/my/" in w)
    assert read_requester_token(settings.secret_key, link.rsplit("/", 1)[1]) == \
        "anna@corp.example"
    with db.session() as s:
        row = s.get(ServiceRequest, request_id)
        assert (row.status, row.priority, row.line) == ("new", "P4", "first_line")


def test_a_forged_status_link_is_refused() -> None:
    with pytest.raises(BadRequesterToken):
        read_requester_token("secret", "eyJhbm5hQGNvcnAuZXhhbXBsZSJ9.forged.sig")


@pytest.mark.parametrize(("fields", "message"), [
    ({"service": ""}, "service is required"),
    ({"description": "x" * 100_000}, "characters long"),
    ({"impact": 7}, "impact must be"),
    ({"channel": "pigeon"}, "channel must be"),
])
def test_bad_input_is_refused_and_stores_nothing(
    db: Database, settings: Settings, fields: dict, message: str
) -> None:
    with pytest.raises(RequestInputError, match=message):
        new(db, settings, **fields)
    with db.session() as s:
        assert s.scalars(select(ServiceRequest)).all() == []
        assert s.scalars(select(OutboxMessage)).all() == []


def test_a_reply_is_mailed_and_a_note_is_not(db: Database, settings: Settings) -> None:
    request_id = new(db, settings)
    with db.session() as s:
        req.perform(s, settings, OLGA, request_id, "note", utcnow(), text="**user** error")
        row = req.perform(s, settings, OLGA, request_id, "reply", utcnow(),
                          text="Please restart Outlook")
        assert row.status == "in_progress" and row.responded
    bodies = [m.body_text for m in mails_to(db, "anna@corp.example")]
    assert len(bodies) == 2 and "Please restart Outlook" in bodies[1]
    assert not any("user** error" in b for b in bodies)


def test_a_missing_request_is_not_found_even_beyond_64_bits(
    db: Database, settings: Settings
) -> None:
    with db.session() as s, pytest.raises(RequestNotFound):
        req.perform(s, settings, OLGA, 2**70, "start", utcnow())


def test_linking_needs_an_open_incident(db: Database, settings: Settings) -> None:
    request_id = new(db, settings)
    with db.session() as s, pytest.raises(req.IncidentMissing):
        req.perform(s, settings, OLGA, request_id, "link", utcnow(), incident_id=999)
    incident_id = outage(db, settings)
    with db.session() as s:
        incident_act(s, incident_id, "resolve", "olga", utcnow(), note="fixed")
    with db.session() as s, pytest.raises(TransitionRefused, match="already resolved"):
        req.perform(s, settings, OLGA, request_id, "link", utcnow(), incident_id=incident_id)


def test_an_outage_counts_people_affected_and_tells_each_of_them_once(
    db: Database, settings: Settings
) -> None:
    incident_id = outage(db, settings)
    ids = [new(db, settings, f"user{n}@corp.example", incident_id=incident_id) for n in range(3)]
    new(db, settings, "user0@corp.example", incident_id=incident_id)  # the same person twice
    with db.session() as s:
        assert req.follow_incident(s, incident_id, req.Requester("boris@corp.example"),
                                   utcnow())
        assert not req.follow_incident(s, incident_id, req.Requester("BORIS@corp.example"),
                                       utcnow())
        assert req.affected_count(s, incident_id) == 4
        assert req.deflection_count(s) == 1
        sent = req.notify_incident_update(s, settings, incident_id, "Fix expected at 12:00",
                                          "u1", utcnow(), OLGA)
        again = req.notify_incident_update(s, settings, incident_id, "Fix expected at 12:00",
                                           "u1", utcnow(), OLGA)
    assert (sent, again) == (4, 0)
    assert sum("12:00" in m.body_text for m in mails_to(db, "user0@corp.example")) == 1
    with db.session() as s:
        kinds = s.scalars(select(RequestEventRow.kind)
                          .where(RequestEventRow.request_id == ids[1])).all()
        assert "incident_update" in kinds


def test_resolving_the_incident_resolves_its_requests_with_the_resolution_mailed(
    db: Database, settings: Settings
) -> None:
    incident_id = outage(db, settings)
    request_id = new(db, settings, incident_id=incident_id)
    with db.session() as s:
        req.follow_incident(s, incident_id, req.Requester("boris@corp.example"), utcnow())
        assert follow_resolved_incidents(s, settings, utcnow()) == 0  # still open
        incident_act(s, incident_id, "resolve", "olga", utcnow(), note="Mail server restarted")
    with db.session() as s:
        assert follow_resolved_incidents(s, settings, utcnow()) == 1
        assert follow_resolved_incidents(s, settings, utcnow()) == 0
        assert s.get(ServiceRequest, request_id).status == "resolved"
    assert "Mail server restarted" in mails_to(db, "anna@corp.example")[-1].body_text
    assert "Mail server restarted" in mails_to(db, "boris@corp.example")[-1].body_text


def test_followers_of_an_incident_without_requests_hear_of_its_resolution_once(
    db: Database, settings: Settings
) -> None:
    incident_id = outage(db, settings)
    with db.session() as s:
        req.follow_incident(s, incident_id, req.Requester("boris@corp.example", language="ru"),
                            utcnow())
        incident_act(s, incident_id, "resolve", "olga", utcnow(), note="Сервер перезапущен")
    for _ in range(2):
        with db.session() as s:
            follow_resolved_incidents(s, settings, utcnow())
    [message] = mails_to(db, "boris@corp.example")
    assert message.subject == "Решено: «Mail is down»"
    assert "Сервер перезапущен" in message.body_text


def test_a_resolved_request_closes_itself_after_quiet_days(
    db: Database, settings: Settings
) -> None:
    request_id = new(db, settings)
    with db.session() as s:
        req.perform(s, settings, OLGA, request_id, "resolve", utcnow(), note="done")
        assert close_quiet_requests(s, settings, utcnow() + timedelta(days=6)) == 0
        assert close_quiet_requests(s, settings, utcnow() + timedelta(days=7, minutes=1)) == 1
        assert s.get(ServiceRequest, request_id).status == "closed"


def test_an_unanswered_request_gets_its_sla_breach_recorded_once(
    db: Database, settings: Settings
) -> None:
    request_id = new(db, settings, impact=1, urgency=1)  # P1: first response in 30 min
    with db.session() as s:
        assert record_sla_events(s, utcnow() + timedelta(minutes=31)) == 2
        assert record_sla_events(s, utcnow() + timedelta(minutes=32)) == 0
        kinds = s.scalars(select(RequestEventRow.kind)
                          .where(RequestEventRow.request_id == request_id)).all()
        assert kinds.count("sla_breached") == 1


def test_the_requester_reads_their_mails_in_their_language(
    db: Database, settings: Settings
) -> None:
    with db.session() as s:
        row = req.create_request(s, settings, "olga", req.Requester("oleg@corp.example", "Олег",
                                                                    "uk"),
                                 service="mail", description="Пошта не працює", now=utcnow())
        req.perform(s, settings, OLGA, row.id, "resolve", utcnow(), note="Перезапустили сервер")
    received, resolved = mails_to(db, "oleg@corp.example")
    assert received.subject.startswith(f"[REQ-{row.id}] Ми отримали ваше звернення")
    assert "Ваше звернення вирішено" in resolved.body_text


def test_a_breached_time_to_resolve_escalates_the_request_to_the_second_line_once(
    db: Database, settings: Settings
) -> None:
    request_id = new(db, settings, impact=1, urgency=1)  # P1: resolve within 4 h
    with db.session() as s:
        req.perform(s, settings, OLGA, request_id, "reply", utcnow(), text="on it")
        record_sla_events(s, utcnow() + timedelta(hours=3, minutes=30))
        assert s.get(ServiceRequest, request_id).line == "first_line"  # a warning only
        record_sla_events(s, utcnow() + timedelta(hours=4, minutes=1))
        record_sla_events(s, utcnow() + timedelta(hours=4, minutes=2))
        row = s.get(ServiceRequest, request_id)
        assert (row.line, row.ping_pong_count) == ("second_line", 0)
        kinds = s.scalars(select(RequestEventRow.kind)
                          .where(RequestEventRow.request_id == request_id)).all()
        assert kinds.count("reassigned") == 1


def test_sla_breaches_are_recorded_on_every_open_request_however_many_there_are(
    db: Database, settings: Settings
) -> None:
    """The clock job reads open requests a chunk at a time: none past the first chunk is
    forgotten (it read only the first 1,000 before)."""
    ids = [new(db, settings, impact=1, urgency=1) for _ in range(5)]
    with db.session() as s:
        assert record_sla_events(s, utcnow() + timedelta(minutes=31), chunk=2) == 2 * 5
        breached = s.scalars(select(RequestEventRow.request_id)
                             .where(RequestEventRow.kind == "sla_breached")).all()
    assert sorted(breached) == ids
