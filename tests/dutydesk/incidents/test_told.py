"""Who gets told: a person acknowledges or resolves, and everybody who was paged hears it once,
on the channel they were paged on, as the escalation policy says."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.lifecycle import Action
from dutydesk.incidents.models import ContactMethod, EscalationPolicyRow
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.told import tells
from dutydesk.models import OutboxMessage, Role
from tests.conftest import form_token
from tests.dutydesk.notify.receivers import HttpReceiver, SmtpServer

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.url = receiver.start()  # type: ignore[attr-defined]
    yield receiver
    receiver.stop()


def page_everybody(db: Database, settings: Settings) -> int:
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:ups-a",
                  status=AlertStatus.FIRING, starts_at=NOW, summary="UPS A on battery",
                  severity=Severity.CRITICAL, labels={"alertname": "UpsOnBattery"})
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert], settings=settings, now=NOW).opened
    deliver_due(db, settings)  # the pages go out
    return incident_id


def news(db: Database, tag: str) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage)
                              .where(OutboxMessage.subject.startswith(f"[{tag}]"))
                              .order_by(OutboxMessage.id)))


def act(client: Any, incident_id: int, name: str) -> None:
    token = form_token(client, f"/incidents/{incident_id}")
    data = {"csrf_token": token, "note": "fuse replaced"}
    answer = client.post(f"/incidents/{incident_id}/{name}", data=data)
    assert answer.status_code == 302


@pytest.fixture
def paged(app: Any, db: Database, settings: Settings, smtp: SmtpServer,
          hook: HttpReceiver, signed_in: Any) -> dict[str, Any]:
    """Olena acts; Taras was paged by e-mail (no contact methods), Ivan on his webhook."""
    settings = dataclasses.replace(app.extensions["dutydesk"].settings, smtp_host="127.0.0.1",
                                   smtp_port=smtp.port)
    app.extensions["dutydesk"].settings = settings
    olena = signed_in(Role.ENGINEER)
    taras = signed_in(Role.ENGINEER)
    ivan = signed_in(Role.ENGINEER)
    with db.session() as s:
        s.add(ContactMethod(user_id=ivan.user.id, kind="webhook", target=hook.url + "/ivan"))
    incident_id = page_everybody(db, settings)
    return {"olena": olena, "taras": taras.user, "ivan": ivan.user, "incident": incident_id,
            "settings": settings}


def test_an_acknowledgement_tells_the_others_who_were_paged_on_their_channel(
    db: Database, paged: dict[str, Any], smtp: SmtpServer, hook: HttpReceiver
) -> None:
    act(paged["olena"], paged["incident"], "ack")
    act(paged["olena"], paged["incident"], "ack")  # a second click tells nobody again
    told = news(db, "ACK")
    assert sorted((m.channel, m.target) for m in told) == sorted(
        [("email", paged["taras"].email), ("webhook", hook.url + "/ivan")])
    assert all(paged["olena"].user.email != m.target for m in told)  # not told of her own act
    deliver_due(db, paged["settings"])
    assert any(m["Subject"].startswith("[ACK]") and m["To"] == paged["taras"].email
               for m in smtp.mailbox.messages)
    webhook_news = [r["body"] for r in hook.requests if r["body"].get("event") == "acknowledge"]
    assert len(webhook_news) == 1 and "olena" not in webhook_news[0]["title"]


def test_a_resolution_tells_them_too(db: Database, paged: dict[str, Any]) -> None:
    act(paged["olena"], paged["incident"], "resolve")
    told = news(db, "RESOLVED")
    assert {m.target for m in told} >= {paged["taras"].email}
    assert "No action needed from you" in told[0].body_text


def test_a_policy_that_tells_only_on_resolve_keeps_quiet_on_acknowledge(
    db: Database, paged: dict[str, Any]
) -> None:
    with db.session() as s:
        s.add(EscalationPolicyRow(name="quiet acks", steps=[], is_default=True,
                                  tell_paged="resolve"))
    act(paged["olena"], paged["incident"], "ack")
    assert news(db, "ACK") == []
    act(paged["olena"], paged["incident"], "resolve")
    assert len(news(db, "RESOLVED")) == 2


@pytest.mark.parametrize(
    ("setting", "action", "told"),
    [
        ("ack_resolve", Action.ACKNOWLEDGE, True),
        ("ack_resolve", Action.RESOLVE, True),
        ("resolve", Action.ACKNOWLEDGE, False),
        ("resolve", Action.RESOLVE, True),
        ("none", Action.RESOLVE, False),
        ("ack_resolve", Action.NOTE, False),  # a note is no news worth a message
        (None, Action.ACKNOWLEDGE, True),  # no policy: the default
    ],
)
def test_the_policy_decides_which_actions_are_told(
    setting: str | None, action: Action, told: bool
) -> None:
    assert tells(setting, action) is told


def test_nobody_is_told_about_pages_that_never_went_out(
    app: Any, db: Database, signed_in: Any
) -> None:
    olena = signed_in(Role.ENGINEER)
    signed_in(Role.ENGINEER)
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:ups-b",
                  status=AlertStatus.FIRING, starts_at=NOW, summary="UPS B on battery",
                  severity=Severity.CRITICAL, labels={"alertname": "UpsOnBattery"})
    with db.session() as s:  # paged, but the sender has not run yet: nobody was woken
        [incident_id] = process_alerts(s, [alert], settings=app.extensions["dutydesk"].settings,
                                       now=NOW - timedelta(minutes=1)).opened
    act(olena, incident_id, "ack")
    assert news(db, "ACK") == []
