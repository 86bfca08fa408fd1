"""Pages that must reach someone: a person whose only contact method is disabled is skipped.

Real parts: a webhook receiver on a loopback port answering 404 (the sender disables the method
after that permanent failure), the outbox sender, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import ContactMethod, EscalationPolicyRow, Incident
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.recipients import Contact, disable_contact, is_reachable
from dutydesk.incidents.store import timeline
from dutydesk.models import Role
from tests.conftest import make_user
from tests.dutydesk.notify.receivers import HttpReceiver

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def alert(key: str) -> Alert:
    return Alert(source=AlertSource.ALERTMANAGER, dedup_key=f"alertmanager:{key}",
                 status=AlertStatus.FIRING, starts_at=NOW, summary=f"{key} down",
                 severity=Severity.CRITICAL)


def method(enabled: bool) -> ContactMethod:
    return ContactMethod(id=1, user_id=1, kind="webhook", target="http://x", enabled=enabled)


def test_one_definition_of_reachable() -> None:
    user = object()
    # (contact, reachable) — one line per case
    cases = [
        (None, False),  # unknown or deactivated login
        (Contact(user, (), ()), True),  # no methods at all: their account's email address
        (Contact(user, (method(True),), ()), True),
        (Contact(user, (method(False),), ()), False),  # the only method was switched off
        (Contact(user, (method(False), method(True)), ()), True),
    ]
    for contact, expected in cases:
        assert is_reachable(contact) is expected, contact


def test_a_person_whose_webhook_answered_404_is_skipped_and_the_next_step_paged_at_once(
    db: Database, settings: Settings
) -> None:
    receiver = HttpReceiver(fail_first=100, fail_status=404)
    url = receiver.start()
    try:
        ivan = make_user(db, Role.ENGINEER, email="ivan@dc.example")
        make_user(db, Role.SHIFT_LEAD, email="lead@dc.example")
        make_user(db, Role.ADMIN, email="admin@dc.example")
        with db.session() as s:
            s.add(ContactMethod(user_id=ivan.id, kind="webhook", target=url + "/hook"))
            s.add(EscalationPolicyRow(
                name="night", is_default=True,
                steps=[{"targets": ["user:ivan@dc.example"], "delay_minutes": 15},
                       {"targets": ["user:lead@dc.example"], "delay_minutes": 15}]))
        with db.session() as s:
            process_alerts(s, [alert("ups-a")], settings=settings, now=NOW)
        deliver_due(db, settings, disablers={"contact": disable_contact})
        with db.session() as s:
            assert s.scalar(select(ContactMethod.enabled)) is False  # 404: the URL is gone

        with db.session() as s:
            [second] = process_alerts(s, [alert("ups-b")], settings=settings, now=NOW).opened
        with db.session() as s:
            kinds = [(e.kind, e.data.get("person")) for e in timeline(s, second)]
            to_lead = s.scalars(select(OutboxMessage.subject).where(
                OutboxMessage.target == "lead@dc.example",
                OutboxMessage.source_id == str(second))).all()
            to_admin = s.scalars(select(OutboxMessage.subject).where(
                OutboxMessage.target == "admin@dc.example",
                OutboxMessage.source_type == "admin_alert",
                OutboxMessage.source_id == str(second))).all()
            incident = s.get(Incident, second)
        assert ("person_unreachable", "ivan@dc.example") in kinds
        assert len(to_lead) == 1  # paged at once, not 15 minutes later
        assert any("ivan@dc.example cannot be paged" in subject for subject in to_admin)
        assert incident.status == "triggered"
    finally:
        receiver.stop()
