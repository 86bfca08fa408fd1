"""The worker's metrics: inside ``dutydesk serve`` they join the app's /metrics; ``dutydesk
worker`` serves them on its own port when DUTYDESK_WORKER_METRICS_PORT is set. Real scheduler,
real engine, real HTTP target and endpoint on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import socket
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from checks.store import CheckStore
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.models import SilenceRow
from dutydesk.models import WorkerHeartbeat
from dutydesk.worker import MetricsEndpointError, Worker
from tests.checks.engine_helpers import add_check, switchable_target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape_until(scrape: Callable[[], str], wanted: str, timeout: float = 60) -> str:
    """Scrape until ``wanted`` shows (the engine and the flip job run on their own clocks)."""
    deadline = time.monotonic() + timeout
    while True:
        text = scrape()
        if wanted in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{wanted!r} not in the metrics after {timeout}s:\n{text}")
        time.sleep(0.2)


def test_serve_shows_the_engine_runs_on_the_app_metrics_beside_the_per_check_gauges(
        app: object, settings: Settings, db: Database) -> None:
    client = app.test_client()  # type: ignore[attr-defined]
    registry = app.extensions["dutydesk"].metrics.registry  # type: ignore[attr-defined]
    worker = Worker(settings, db, registry)  # as serve_app builds it
    with switchable_target() as target:
        check_id = add_check(db, "web-serve", target.url)
        worker.start()
        try:
            assert CheckStore(db).request_run(check_id, utcnow())
            text = _scrape_until(lambda: client.get("/metrics").get_data(as_text=True),
                                 'dutydesk_check_runs_total{status="OK",type="http"} 1.0')
        finally:
            worker.stop()
    assert "dutydesk_check_run_lag_seconds_count 1.0" in text
    assert "# TYPE dutydesk_scheduler_heartbeat_age_seconds gauge" in text
    # The per-check gauge comes once, from the database, not a second time from the engine.
    assert text.count('probe_success{check="web-serve"}') == 1


def test_a_worker_with_a_metrics_port_serves_the_engine_and_the_muted_flips(
        settings: Settings, db: Database) -> None:
    port = _free_port()
    worker = Worker(dataclasses.replace(settings, worker_metrics_port=port), db)
    with db.session() as s:
        s.add(SilenceRow(matchers='check="web-muted"', starts_at=utcnow() - timedelta(hours=1),
                         ends_at=utcnow() + timedelta(hours=1), created_by="test",
                         comment="planned work"))
    with switchable_target() as target:
        target.healthy = False
        check_id = add_check(db, "web-muted", target.url, max_attempts=1)
        worker.start()
        try:
            assert worker.metrics_address == ("127.0.0.1", port)
            assert CheckStore(db).request_run(check_id, utcnow())

            def scrape() -> str:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    return r.read().decode()

            text = _scrape_until(scrape, 'dutydesk_alerts_suppressed_total{reason="silence"} 1.0')
        finally:
            worker.stop()
    assert 'dutydesk_check_runs_total{status="CRITICAL",type="http"} 1.0' in text
    assert "dutydesk_check_in_flight " in text
    assert "dutydesk_scheduler_heartbeat_age_seconds " in text
    assert "probe_success" not in text  # the web app serves those from the database
    with pytest.raises(OSError):  # stopped: the port is closed again
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_a_worker_whose_metrics_port_is_taken_refuses_to_start_and_writes_nothing(
        settings: Settings, db: Database) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = Worker(dataclasses.replace(settings, worker_metrics_port=port), db)
        with pytest.raises(MetricsEndpointError, match=f"127.0.0.1:{port}"):
            worker.start()
    assert not worker.scheduler.running
    with db.session() as s:
        assert s.scalars(select(WorkerHeartbeat)).all() == []


def test_a_worker_without_a_metrics_port_listens_nowhere(
        settings: Settings, db: Database) -> None:
    worker = Worker(settings, db)
    worker.start()
    try:
        assert worker.metrics_address is None
    finally:
        worker.stop()
