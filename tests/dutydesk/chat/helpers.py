"""Shared steps of the chat tests: page everybody, deliver with the real sender hook."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.chat.models import ChatMessage
from dutydesk.incidents.models import Incident
from dutydesk.incidents.notify_timeline import record_notification_attempt
from dutydesk.incidents.pipeline import process_alerts
from tests.conftest import form_token

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def page_everybody(db: Database, settings: Settings, key: str = "ups-a") -> int:
    """An Alertmanager P1 opens an incident; its first step pages every engineer (no
    schedules stored), and the pages are delivered."""
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key=f"alertmanager:{key}",
                  status=AlertStatus.FIRING, starts_at=utcnow(), summary="UPS A on battery",
                  severity=Severity.CRITICAL, labels={"alertname": "UpsOnBattery"})
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert], settings=settings, now=utcnow()).opened
    deliver(db, settings)
    return incident_id


def deliver(db: Database, settings: Settings) -> int:
    return deliver_due(db, settings, on_recorded=record_notification_attempt)


def incident(db: Database, incident_id: int) -> Incident:
    with db.session() as s:
        row = s.get(Incident, incident_id)
        assert row is not None
        s.expunge(row)
        return row


def chat_messages(db: Database, incident_id: int) -> list[ChatMessage]:
    with db.session() as s:
        rows = list(s.scalars(select(ChatMessage).where(ChatMessage.incident_id == incident_id)
                              .order_by(ChatMessage.id)))
        for row in rows:
            s.expunge(row)
        return rows


def link_code(client: Any) -> str:
    """The person asks for a link code on their chat accounts page."""
    token = form_token(client, "/account/chat")
    page = client.post("/account/chat/code", data={"csrf_token": token})
    assert page.status_code == 200
    match = re.search(r"data-link-code>([A-Z0-9-]+)<", page.get_data(as_text=True))
    assert match, "the page shows no code"
    return match.group(1)
