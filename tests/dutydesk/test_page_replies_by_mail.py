"""Taras answers a page from his phone: the reply lands in the intake mailbox (a real Dovecot),
the worker's intake reads it, and the incident is acknowledged as Taras — no request is opened.
A forged reply in the same mailbox changes nothing and opens no request either."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database, utcnow
from dutydesk.core.mailin.imap import ImapConfig, poll_once
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import Incident
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.jobs import mail_handlers
from dutydesk.models import Role
from dutydesk.requests.models import ServiceRequest
from tests.conftest import make_user
from tests.dutydesk.incidents.test_replies import reply
from tests.dutydesk.notify.receivers import SmtpServer

INTAKE = "duty@dc.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def paged(app: Any, db: Database, smtp: SmtpServer) -> dict[str, Any]:
    settings = dataclasses.replace(app.extensions["dutydesk"].settings, smtp_host="127.0.0.1",
                                   smtp_port=smtp.port, page_reply_to=INTAKE, smtp_from=INTAKE,
                                   request_intake_service="Service desk")
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:ups-a",
                  status=AlertStatus.FIRING, starts_at=utcnow(), summary="UPS A on battery",
                  severity=Severity.CRITICAL, details={"impact": 1, "urgency": 1})
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert], settings=settings, now=utcnow()).opened
    deliver_due(db, settings)
    [page] = [m for m in smtp.mailbox.messages if m["To"] == "taras@dc.example"]
    return {"settings": settings, "incident": incident_id, "page": page}


def _poll(db: Database, dovecot: Any, settings: Any) -> list[str]:
    config = ImapConfig(host=dovecot.host, port=dovecot.tls_port, username=dovecot.user,
                        password=dovecot.password, ca_file=dovecot.ca_file)
    result = poll_once(db, config, mail_handlers(settings), utcnow, (INTAKE,))
    return [o.status for o in result.outcomes]


def _incident(db: Database, incident_id: int) -> tuple[str, str | None]:
    with db.session() as s:
        row = s.get(Incident, incident_id)
        return row.status, row.acknowledged_by


def _requests(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ServiceRequest)) or 0


def test_a_reply_read_from_the_intake_mailbox_acknowledges_as_the_paged_person(
        db: Database, dovecot: Any, paged: dict[str, Any]) -> None:
    dovecot.deliver(reply(paged["page"], "taras@dc.example", "ack").as_bytes())
    assert _poll(db, dovecot, paged["settings"]) == ["handled"]
    assert _incident(db, paged["incident"]) == ("acknowledged", "taras@dc.example")
    assert _requests(db) == 0  # a reply to a page is not a request
    # read again (the mailbox re-delivered it): nothing happens twice
    dovecot.deliver(reply(paged["page"], "taras@dc.example", "ack").as_bytes())
    _poll(db, dovecot, paged["settings"])
    assert _incident(db, paged["incident"]) == ("acknowledged", "taras@dc.example")
    assert _requests(db) == 0


def test_a_forged_reply_in_the_intake_mailbox_changes_nothing_and_opens_no_request(
        db: Database, dovecot: Any, paged: dict[str, Any]) -> None:
    forged = reply(paged["page"], "mallory@evil.example", "resolve: all fine")
    dovecot.deliver(forged.as_bytes())
    assert _poll(db, dovecot, paged["settings"]) == ["handled"]  # consumed, refused, logged
    assert _incident(db, paged["incident"]) == ("triggered", None)
    assert _requests(db) == 0
