"""The incident clock job finds due incidents by their stored due time, so however many are open
every one gets its SLA events, and neither it nor the flip job waits for a stuck worker."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from checks.models import FlipRow
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.jobs import MAX_CLOCK_SLEEP, process_flips, run_clocks
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.pipeline import process_alerts
from tests.checks.engine_helpers import add_check

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
OPEN = 160  # more than three batches of the job (scaled down from 2,000)


def _open(db: Database, settings: Settings, n: int, at: datetime = NOW) -> list[int]:
    alerts = [Alert(source=AlertSource.ALERTMANAGER, dedup_key=f"alertmanager:pdu-{k}",
                    status=AlertStatus.FIRING, starts_at=at, summary=f"PDU {k} overload",
                    severity=Severity.CRITICAL, labels={"alertname": "PduOverload"})
              for k in range(n)]
    with db.session() as s:
        result = process_alerts(s, alerts, settings=settings, now=at)
    return result.opened


def _events(db: Database, kind: str) -> dict[int, int]:
    with db.session() as s:
        return dict(s.execute(select(IncidentEventRow.incident_id, func.count())
                              .where(IncidentEventRow.kind == kind)
                              .group_by(IncidentEventRow.incident_id)).all())


def _due_at(db: Database, incident_id: int) -> datetime | None:
    with db.session() as s:
        return s.get(Incident, incident_id).clock_due_at


def test_every_open_incident_gets_its_sla_breach_the_newest_too(
        db: Database, settings: Settings) -> None:
    opened = _open(db, settings, OPEN)
    later = _open(db, settings, 1, NOW + timedelta(minutes=1))  # the newest of all
    run_clocks(db, settings, now=NOW + timedelta(minutes=40), batch=50, budget=600)
    breached = _events(db, "sla_breached")
    assert set(breached) == {*opened, *later}  # every one, once (P1 and P2 acknowledge in 30)
    assert set(breached.values()) == {1}


def test_an_incident_stores_when_its_clock_must_be_looked_at_next(
        db: Database, settings: Settings) -> None:
    [incident_id] = _open(db, settings, 1)
    assert _due_at(db, incident_id) < NOW  # just opened: look at it now
    run_clocks(db, settings, now=NOW + timedelta(seconds=5))
    due = _due_at(db, incident_id)
    # the first escalation step's page or the acknowledgement warning, not "every 5 s"
    assert NOW + timedelta(seconds=6) <= due <= NOW + timedelta(seconds=5) + MAX_CLOCK_SLEEP
    run_clocks(db, settings, now=due - timedelta(seconds=1))
    assert _due_at(db, incident_id) == due  # not due yet: not looked at
    with db.session() as s:
        s.execute(text("UPDATE incidents SET status = 'resolved' WHERE id = :id"),
                  {"id": incident_id})
        s.get(Incident, incident_id).clock_due_at = NOW  # as any timeline change marks it
    run_clocks(db, settings, now=NOW + timedelta(minutes=1))
    assert _due_at(db, incident_id) is None  # resolved: never again


def test_a_stuck_worker_holding_incidents_does_not_stop_the_others_clocks(
        db: Database, settings: Settings) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SKIP LOCKED: several workers on PostgreSQL")
    opened = _open(db, settings, 20)
    stuck = Database(db.url, pool_size=1)
    try:
        with stuck.engine.connect() as conn:
            held = conn.execute(text(
                "SELECT id FROM incidents ORDER BY id LIMIT 5 FOR UPDATE")).scalars().all()
            began = time.monotonic()
            run_clocks(db, settings, now=NOW + timedelta(minutes=40))
            waited = time.monotonic() - began
            conn.rollback()
    finally:
        stuck.dispose()
    breached = _events(db, "sla_breached")
    assert set(breached) == set(opened) - set(held)  # the others' clocks ran, these wait
    assert waited < 30  # nobody queued behind the stuck transaction's locks


def test_a_paused_worker_holding_flips_does_not_hold_up_the_others(
        db: Database, settings: Settings) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SKIP LOCKED and idle-transaction limits: several workers on PostgreSQL")
    check_id = add_check(db, "ups-b", "http://127.0.0.1:9/")
    with db.session() as s:
        s.add_all([FlipRow(check_id=check_id, kind="changed", old_status="OK",
                           new_status="CRITICAL", reason=f"flip {k}", at=NOW)
                   for k in range(6)])
    paused = Database(db.url, pool_size=1, worker=True)
    conn = paused.engine.connect()
    try:
        conn.execute(text("SELECT id FROM flips ORDER BY id LIMIT 3 FOR UPDATE"))
        # ... and the process is paused (SIGSTOP) holding its transaction
        assert process_flips(db, settings, now=NOW) == 3  # the others, without waiting
        time.sleep(4)  # the server ends the idle transaction (idle_in_transaction limit)
        assert process_flips(db, settings, now=NOW) == 3
        with pytest.raises(DBAPIError, match="idle-in-transaction"):  # woken up: refused
            conn.execute(text("UPDATE flips SET processed_at = now()"))
    finally:
        with contextlib.suppress(DBAPIError):
            conn.close()
        paused.dispose()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(FlipRow)
                        .where(FlipRow.processed_at.is_(None))) == 0
