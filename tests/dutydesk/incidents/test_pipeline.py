"""The assembled alert pipeline against a real database: open, attach, mute, notify, race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity, check_alert
from dutydesk.incidents.jobs import run_clocks
from dutydesk.incidents.models import AlertReceived, Incident, IncidentEventRow, SilenceRow
from dutydesk.incidents.pipeline import metrics_for, process_alerts
from dutydesk.models import Role
from tests.conftest import make_user
from tests.dutydesk.notify.receivers import SmtpServer

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def alert(key: str = "ups-a", status: str = "firing", **labels: str) -> Alert:
    return Alert(
        source=AlertSource.ALERTMANAGER,
        dedup_key=f"alertmanager:{key}",
        status=AlertStatus(status),
        starts_at=NOW,
        summary=f"{key} on battery",
        severity=Severity.CRITICAL,
        labels={"alertname": "UpsOnBattery", **labels},
        service=labels.get("service"),
    )


def test_silence_mutes_a_matching_alert_and_counts_the_reason(
    db: Database, settings: Settings
) -> None:
    registry = CollectorRegistry()
    metrics = metrics_for(registry)
    with db.session() as s:
        s.add(
            SilenceRow(
                matchers='service="cooling"',
                starts_at=NOW - timedelta(hours=1),
                ends_at=NOW + timedelta(hours=1),
                created_by="olena",
                comment="chiller swap",
            )
        )
    with db.session() as s:
        result = process_alerts(
            s,
            [alert("crac-1", service="cooling"), alert("ups-a", service="power")],
            settings=settings,
            now=NOW,
            metrics=metrics,
        )
    assert [key for key, _ in result.muted] == ["alertmanager:crac-1"]
    assert len(result.opened) == 1
    assert registry.get_sample_value("dutydesk_alerts_suppressed_total", {"reason": "silence"}) == 1
    with db.session() as s:
        muted = s.scalar(select(AlertReceived).where(AlertReceived.muted_reason.is_not(None)))
        assert muted.dedup_key == "alertmanager:crac-1"
        assert muted.muted_reason.startswith("silence:")


def test_an_expired_silence_mutes_nothing(db: Database, settings: Settings) -> None:
    with db.session() as s:
        s.add(
            SilenceRow(
                matchers='service="cooling"',
                starts_at=NOW - timedelta(hours=2),
                ends_at=NOW - timedelta(hours=1),
                created_by="olena",
                comment="done",
            )
        )
    with db.session() as s:
        result = process_alerts(s, [alert("crac-1", service="cooling")], settings=settings, now=NOW)
    assert result.muted == [] and len(result.opened) == 1


def test_a_recovery_is_never_muted_so_an_open_incident_can_close(
    db: Database, settings: Settings
) -> None:
    with db.session() as s:
        process_alerts(s, [alert("crac-1", service="cooling")], settings=settings, now=NOW)
    with db.session() as s:
        s.add(
            SilenceRow(
                matchers='service="cooling"',
                starts_at=NOW,
                ends_at=NOW + timedelta(hours=1),
                created_by="olena",
                comment="later silence",
            )
        )
    with db.session() as s:
        result = process_alerts(
            s,
            [alert("crac-1", "resolved", service="cooling")],
            settings=settings,
            now=NOW + timedelta(minutes=5),
        )
    assert len(result.resolved) == 1


def test_engine_maintenance_verdict_mutes_a_check_alert(db: Database, settings: Settings) -> None:
    import dataclasses

    registry = CollectorRegistry()
    flip = check_alert(
        check_id=7, check_name="ups-a", status_name="CRITICAL", message="on battery", at=NOW
    )
    flip = dataclasses.replace(flip, details={"muted_by": "maintenance"})
    with db.session() as s:
        result = process_alerts(
            s, [flip], settings=settings, now=NOW, metrics=metrics_for(registry)
        )
    assert result.opened == []
    assert (
        registry.get_sample_value("dutydesk_alerts_suppressed_total", {"reason": "maintenance"})
        == 1
    )


def test_two_identical_alerts_at_once_make_one_incident(db: Database, settings: Settings) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            barrier.wait()
            with db.session() as s:
                process_alerts(s, [alert("race")], settings=settings, now=NOW)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.session() as s:
        [incident] = s.scalars(select(Incident)).all()
        assert incident.alert_count == 2


def test_opening_an_incident_pages_the_fallback_group_in_the_same_transaction(
    db: Database, settings: Settings
) -> None:
    engineer = make_user(db, Role.ENGINEER, email="taras@dc.example")
    make_user(db, Role.VIEWER, email="viewer@dc.example")
    with db.session() as s:
        result = process_alerts(s, [alert("ups-b")], settings=settings, now=NOW)
    with db.session() as s:
        messages = list(s.scalars(select(OutboxMessage)))
        notified = s.scalar(
            select(func.count(IncidentEventRow.id)).where(
                IncidentEventRow.kind == "escalation_notified"
            )
        )
    assert [m.target for m in messages] == [engineer.email]
    assert messages[0].source_id == str(result.opened[0])
    assert notified == 1


def test_an_auto_resolved_incident_tells_exactly_the_people_who_were_paged_once(
    db: Database, settings: Settings
) -> None:
    paged = make_user(db, Role.ENGINEER, email="taras@dc.example")
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert("ups-e")], settings=settings, now=NOW).opened
    make_user(db, Role.ENGINEER, email="late@dc.example")  # joined after the page went out
    recovery = alert("ups-e", "resolved")
    for minutes in (7, 8):  # the sender repeats the recovery: still one message
        with db.session() as s:
            process_alerts(s, [recovery], settings=settings, now=NOW + timedelta(minutes=minutes))
    with db.session() as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None and incident.status == "resolved"
        news = list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.subject.startswith("[RESOLVED]"))
                .order_by(OutboxMessage.id)
            )
        )
    assert [m.target for m in news] == [paged.email]
    assert news[0].source_id == str(incident_id)
    assert "resolved automatically: alertmanager reported recovery (ups-e on battery)" in (
        news[0].body_text
    )


def test_an_auto_resolved_incident_nobody_was_paged_for_sends_nothing(
    db: Database, settings: Settings
) -> None:
    with db.session() as s:  # no engineer exists: the page went to nobody
        process_alerts(s, [alert("ups-f")], settings=settings, now=NOW)
    make_user(db, Role.ENGINEER)
    with db.session() as s:
        result = process_alerts(
            s, [alert("ups-f", "resolved")], settings=settings, now=NOW + timedelta(minutes=3)
        )
    assert len(result.resolved) == 1
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 0


def test_a_failed_transaction_leaves_neither_incident_nor_notification(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ENGINEER)
    with pytest.raises(RuntimeError), db.session() as s:
        process_alerts(s, [alert("ups-c")], settings=settings, now=NOW)
        raise RuntimeError("storage failed after the pipeline")
    with db.session() as s:
        assert s.scalar(select(func.count(Incident.id))) == 0
        assert s.scalar(select(func.count(OutboxMessage.id))) == 0


def test_unacknowledged_incident_escalates_to_the_next_step_after_its_delay(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ENGINEER)
    with db.session() as s:
        process_alerts(s, [alert("ups-d")], settings=settings, now=NOW)
    run_clocks(db, settings, now=NOW + timedelta(minutes=5))
    with db.session() as s:
        assert s.scalar(select(func.count(OutboxMessage.id))) == 1
    run_clocks(db, settings, now=NOW + timedelta(minutes=11))
    with db.session() as s:
        steps = [
            e.data["step"]
            for e in s.scalars(
                select(IncidentEventRow).where(IncidentEventRow.kind == "escalation_notified")
            )
        ]
    assert steps == [0, 1]


def test_sla_breach_is_recorded_once(db: Database, settings: Settings) -> None:
    # /metrics counts these events (tests/dutydesk/test_incident_metrics.py).
    with db.session() as s:
        process_alerts(s, [alert("ups-e")], settings=settings, now=NOW)
    for minutes in (31, 32):  # P2: 30 minutes to acknowledge
        run_clocks(db, settings, now=NOW + timedelta(minutes=minutes))
    with db.session() as s:
        kinds = list(
            s.scalars(select(IncidentEventRow.kind).where(IncidentEventRow.kind.like("sla_%")))
        )
    assert sorted(kinds) == ["sla_breached", "sla_warning"]


def test_alert_to_incident_to_email_in_a_real_smtp_mailbox(db: Database, tmp_path: Any) -> None:
    from dutydesk.core.config import load_settings

    smtp = SmtpServer()
    try:
        with db.session():
            pass
        settings = load_settings(
            {
                "env": "testing",
                "database_url": db.url,
                "secret_key": "s" * 40,
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "instance_path": str(tmp_path),
            },
            environ={},
        )
        make_user(db, Role.ENGINEER, email="night-shift@dc.example")
        with db.session() as s:
            process_alerts(s, [alert("ups-f")], settings=settings, now=NOW)
        assert deliver_due(db, settings) == 1
        [mail] = smtp.mailbox.messages
        assert mail["To"] == "night-shift@dc.example"
        assert "ups-f on battery" in mail["Subject"]
        assert "/incidents/" in mail.get_body(("plain",)).get_content()
    finally:
        smtp.stop()
