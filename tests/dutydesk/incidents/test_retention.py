"""Received alerts are kept for the configured days, then deleted in batches, never an open
incident's evidence (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings, load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import AlertReceived
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.retention import purge_alerts_received, retention_cutoff
from dutydesk.incidents.store import act
from dutydesk.jobs import scheduled_jobs

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def open_incident(db: Database, settings: Settings, key: str) -> int:
    alert = Alert(
        source=AlertSource.ALERTMANAGER,
        dedup_key=f"alertmanager:{key}",
        status=AlertStatus.FIRING,
        starts_at=days_ago(60),
        summary=f"{key} on battery",
        severity=Severity.WARNING,
    )
    with db.session() as s:
        return process_alerts(s, [alert], settings=settings, now=days_ago(60)).opened[0]


def received(db: Database, summary: str, at: datetime, incident_id: int | None = None) -> None:
    with db.session() as s:
        s.add(
            AlertReceived(
                source="alertmanager",
                dedup_key=f"k-{summary}",
                status="firing",
                summary=summary,
                received_at=at,
                incident_id=incident_id,
                muted_reason=None if incident_id else "silence",
            )
        )


def kept(db: Database) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(AlertReceived.summary)))


def test_alerts_past_retention_go_but_an_open_incidents_evidence_stays(
    db: Database, settings: Settings
) -> None:
    still_open = open_incident(db, settings, "ups-a")
    resolved = open_incident(db, settings, "ups-b")
    with db.session() as s:
        act(s, resolved, "resolve", "olena", days_ago(50), note="mains back")
    with db.session() as s:  # the pipeline's own rows, received 60 days ago
        s.query(AlertReceived).update({"summary": "pipeline"})
    received(db, "old muted", days_ago(31))
    received(db, "old of a resolved incident", days_ago(45), resolved)
    received(db, "old of an open incident", days_ago(45), still_open)
    received(db, "recent of a resolved incident", days_ago(29), resolved)
    received(db, "recent muted", days_ago(1))

    report = purge_alerts_received(db, days=30, now=NOW)

    # Of the two pipeline rows (60 days old) only the open incident's stays.
    assert kept(db) == [
        "old of an open incident", "pipeline", "recent muted", "recent of a resolved incident",
    ]
    assert (report.deleted, report.complete) == (3, True)
    assert purge_alerts_received(db, days=30, now=NOW).deleted == 0  # nothing left to do


def test_a_run_deletes_in_bounded_batches_and_the_next_run_goes_on(
    db: Database, settings: Settings
) -> None:
    for n in range(25):
        received(db, f"muted {n:02d}", days_ago(40) + timedelta(minutes=n))
    first = purge_alerts_received(db, days=30, now=NOW, batch_size=10, max_batches=2)
    assert (first.deleted, first.batches, first.complete) == (20, 2, False)
    assert kept(db) == [f"muted {n:02d}" for n in range(20, 25)]  # the oldest went first
    second = purge_alerts_received(db, days=30, now=NOW, batch_size=10, max_batches=2)
    assert (second.deleted, second.batches, second.complete) == (5, 1, True)
    assert kept(db) == []


def test_the_worker_job_uses_the_configured_retention(db: Database, settings: Settings) -> None:
    received(db, "eight days old", utcnow() - timedelta(days=8))
    received(db, "six days old", utcnow() - timedelta(days=6))
    week = load_settings(
        {"database_url": settings.database_url, "instance_path": settings.instance_path,
         "secret_key": settings.secret_key, "alert_retention_days": 7},
        environ={},
    )
    [job] = [j for j in scheduled_jobs(week, db) if j.id == "alerts-received-retention"]
    assert "7 days" in job.name and job.trigger_args == {"minutes": 10}
    job.func()
    assert kept(db) == ["six days old"]


@pytest.mark.parametrize(
    ("days", "now", "message"),
    [
        (0, NOW, "whole number of days >= 1, got 0"),
        (True, NOW, "whole number of days >= 1, got True"),
        (1.5, NOW, "whole number of days >= 1, got 1.5"),
        (30, NOW.replace(tzinfo=None), "now"),  # naive time
    ],
)
def test_the_cutoff_refuses_nonsense(days: object, now: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        retention_cutoff(now, days)  # type: ignore[arg-type]


def test_the_cutoff_is_whole_days_before_now() -> None:
    assert retention_cutoff(NOW, 30) == datetime(2026, 10, 24, 3, 0, tzinfo=UTC)
