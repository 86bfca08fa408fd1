"""Delivery attempts of incident notifications show up on the incident's timeline and page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.models import IncidentEventRow
from dutydesk.incidents.notify_timeline import record_notification_attempt
from dutydesk.jobs import scheduled_jobs
from tests.dutydesk.notify.receivers import HttpReceiver
from tests.dutydesk.test_incidents_web import open_incident


def notification_events(db: Database, incident_id: int, url: str) -> list[IncidentEventRow]:
    with db.session() as s:
        rows = s.scalars(
            select(IncidentEventRow)
            .where(
                IncidentEventRow.incident_id == incident_id,
                IncidentEventRow.kind.like("notification_%"),
            )
            .order_by(IncidentEventRow.id)
        )
        return [r for r in rows if r.data.get("target") == url]


def put_webhook(db: Database, url: str, source_type: str, source_id: int, key: str) -> None:
    with db.session() as s:
        enqueue(
            s,
            channel="webhook",
            target=url,
            subject="P2: UPS A on battery",
            body_text="UPS A on battery",
            payload={"incident": source_id},
            idempotency_key=key,
            source_type=source_type,
            source_id=source_id,
        )


def test_failed_then_sent_webhook_attempts_appear_on_the_incident_page(
    app: Any, db: Database, settings: Any, signed_in: Any
) -> None:
    incident_id = open_incident(db, app, key="ups-n")
    receiver = HttpReceiver(fail_first=1, fail_status=503)
    url = receiver.start() + "/hook"
    try:
        put_webhook(db, url, "incident", incident_id, f"incident:{incident_id}:test")
        [outbox_job] = [j for j in scheduled_jobs(settings, db) if j.id == "outbox"]
        outbox_job.func()  # the worker's job, as wired: first attempt gets 503
        deliver_due(
            db, settings, now=utcnow() + timedelta(hours=1), on_recorded=record_notification_attempt
        )
    finally:
        receiver.stop()
    assert len(receiver.requests) == 2
    events = notification_events(db, incident_id, url)
    assert [e.kind for e in events] == ["notification_failed", "notification_sent"]
    assert [e.data["attempt"] for e in events] == [1, 2]
    assert events[0].data["channel"] == "webhook"
    assert "503" in events[0].data["detail"]

    page = signed_in("viewer").get(f"/incidents/{incident_id}").get_data(as_text=True)
    host = url.split("/")[2]
    assert "notification_failed" in page and "notification_sent" in page
    assert f"Notification by webhook to {host} failed: HTTP 503" in page
    assert f"Notification sent by webhook to {host} (attempt 2)" in page
    assert url not in page  # a webhook's path may hold its secret: the timeline shows the host


def test_notifications_of_other_sources_leave_incident_timelines_alone(
    app: Any, db: Database, settings: Any
) -> None:
    incident_id = open_incident(db, app, key="ups-m")
    receiver = HttpReceiver()
    url = receiver.start() + "/hook"
    try:
        put_webhook(db, url, "notice", incident_id, "notice:1:test")  # same id, other source
        deliver_due(db, settings, on_recorded=record_notification_attempt)
    finally:
        receiver.stop()
    assert len(receiver.requests) == 1
    assert notification_events(db, incident_id, url) == []
