"""A person manages their own contact methods and notification rules on /account/notifications."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import ContactMethod, Incident, NotificationRule
from dutydesk.incidents.paging import notify_people
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.models import AuditEntry, OutboxMessage
from tests.conftest import form_token

PAGE = "/account/notifications"


def add_method(client: Any, kind: str, target: str, **extra: str) -> Any:
    token = form_token(client, PAGE)
    return client.post(
        PAGE + "/methods", data={"kind": kind, "target": target, "csrf_token": token, **extra}
    )


def methods_of(db: Database, user_id: int) -> list[ContactMethod]:
    with db.session() as s:
        return list(
            s.scalars(
                select(ContactMethod)
                .where(ContactMethod.user_id == user_id)
                .order_by(ContactMethod.id)
            )
        )


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("email", "night-shift@dc.example"),
        ("webhook", "https://hooks.dc.example/page"),
        ("slack", "http://chat.dc.example/hooks/abc"),
        ("telegram", "-100123456789"),  # a group chat id is negative
    ],
)
def test_engineer_adds_a_valid_contact_method_and_sees_it_listed(
    signed_in: Any, db: Database, kind: str, target: str
) -> None:
    client = signed_in("engineer")
    answer = add_method(client, kind, target)
    assert answer.status_code == 302
    stored = methods_of(db, client.user.id)
    assert [(m.kind, m.target, m.enabled) for m in stored] == [(kind, target, True)]
    assert target in client.get(PAGE).get_data(as_text=True)
    with db.session() as s:
        actions = list(s.scalars(select(AuditEntry.action)))
    assert "contact_method.add" in actions


@pytest.mark.parametrize(
    ("kind", "target", "complaint"),
    [
        ("email", "not-an-address", "email address"),
        ("email", "", "needs an address"),
        ("webhook", "ftp://hooks.dc.example/x", "http(s)"),
        ("webhook", "hooks.dc.example/x", "http(s)"),  # no scheme
        ("slack", "https://", "http(s)"),  # no host
        ("telegram", "@night_shift", "numeric"),  # a username is not a chat id
        ("sms", "+380501234567", "must be one of"),  # not a channel we have
    ],
)
def test_bad_contact_input_is_refused_with_a_reason_and_stores_nothing(
    signed_in: Any, db: Database, kind: str, target: str, complaint: str
) -> None:
    client = signed_in("engineer")
    answer = add_method(client, kind, target)
    assert answer.status_code == 302
    assert methods_of(db, client.user.id) == []
    page = client.get(PAGE).get_data(as_text=True)
    assert complaint in page.replace("&#39;", "'").replace("&amp;", "&")
    with db.session() as s:
        assert s.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action.like("contact_method.%"))) == 0


@pytest.mark.parametrize(
    ("priority", "delay", "stored"),
    [
        ("P1", "0", True),
        ("P4", "15", True),
        ("P5", "0", False),  # no such priority
        ("P2", "-1", False),  # negative delay
        ("P2", "soon", False),  # not a number
    ],
)
def test_rules_accept_p1_to_p4_and_a_non_negative_delay_only(
    signed_in: Any, db: Database, priority: str, delay: str, stored: bool
) -> None:
    client = signed_in("engineer")
    add_method(client, "email", "me@dc.example")
    method = methods_of(db, client.user.id)[0]
    token = form_token(client, PAGE)
    client.post(PAGE + "/rules", data={
        "contact_method_id": str(method.id), "min_priority": priority,
        "delay_minutes": delay, "csrf_token": token,
    })
    with db.session() as s:
        rules = list(s.scalars(select(NotificationRule)))
    if stored:
        assert [(r.min_priority, r.delay_minutes) for r in rules] == [(priority, int(delay))]
    else:
        assert rules == []


def test_someone_elses_method_cannot_be_disabled_or_deleted(
    signed_in: Any, db: Database
) -> None:
    owner, other = signed_in("engineer"), signed_in("engineer")
    add_method(owner, "email", "owner@dc.example")
    method = methods_of(db, owner.user.id)[0]
    token = form_token(other, PAGE)
    for action in ("toggle", "delete", "test"):
        answer = other.post(f"{PAGE}/methods/{method.id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 404
    assert [(m.id, m.enabled) for m in methods_of(db, owner.user.id)] == [(method.id, True)]


def open_incident(db: Database, app: Any) -> int:
    alert = Alert(
        source=AlertSource.ALERTMANAGER,
        dedup_key="alertmanager:ups-b",
        status=AlertStatus.FIRING,
        starts_at=utcnow(),
        summary="ups-b on battery",
        severity=Severity.CRITICAL,
    )
    with db.session() as s:
        result = process_alerts(
            s, [alert], settings=app.extensions["dutydesk"].settings, now=utcnow()
        )
        s.commit()
    return result.opened[0]


def test_a_disabled_method_receives_nothing_when_its_owner_is_paged(
    app: Any, signed_in: Any, db: Database
) -> None:
    client = signed_in("engineer")
    add_method(client, "email", "pager@dc.example")
    add_method(client, "webhook", "https://hooks.dc.example/page")
    email, webhook = methods_of(db, client.user.id)
    token = form_token(client, PAGE)
    assert client.post(f"{PAGE}/methods/{webhook.id}/toggle",
                       data={"csrf_token": token}).status_code == 302
    assert not methods_of(db, client.user.id)[1].enabled

    incident_id = open_incident(db, app)
    with db.session() as s:
        incident = s.get(Incident, incident_id)
        notify_people(
            s, app.extensions["dutydesk"].settings, incident, (client.user.email,),
            reason_key="test-page", why="test", now=utcnow(),
        )
        s.commit()
        refs = list(s.scalars(select(OutboxMessage.channel_ref).where(
            OutboxMessage.source_type == "incident")))
    assert f"contact:{email.id}" in refs
    assert f"contact:{webhook.id}" not in refs


def test_send_test_puts_a_message_for_that_method_in_the_outbox(
    signed_in: Any, db: Database
) -> None:
    client = signed_in("engineer")
    add_method(client, "telegram", "123456789")
    method = methods_of(db, client.user.id)[0]
    token = form_token(client, PAGE)
    for _press in range(2):  # each press is a new message, not deduplicated away
        answer = client.post(f"{PAGE}/methods/{method.id}/test", data={"csrf_token": token})
        assert answer.status_code == 302
    with db.session() as s:
        messages = list(s.scalars(select(OutboxMessage).where(
            OutboxMessage.source_type == "contact_test")))
    assert [(m.channel, m.target, m.status) for m in messages] == [
        ("telegram", "123456789", "pending")
    ] * 2


def test_deleting_a_method_removes_its_rules(signed_in: Any, db: Database) -> None:
    client = signed_in("engineer")
    add_method(client, "email", "me@dc.example")
    method = methods_of(db, client.user.id)[0]
    token = form_token(client, PAGE)
    client.post(PAGE + "/rules", data={"contact_method_id": str(method.id),
                                       "min_priority": "P2", "delay_minutes": "0",
                                       "csrf_token": token})
    client.post(f"{PAGE}/methods/{method.id}/delete", data={"csrf_token": token})
    assert methods_of(db, client.user.id) == []
    with db.session() as s:
        assert list(s.scalars(select(NotificationRule))) == []
