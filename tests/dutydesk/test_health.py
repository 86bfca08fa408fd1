"""Liveness, readiness and our own metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dutydesk.core.db import Database, utcnow
from dutydesk.models import WorkerHeartbeat
from dutydesk.worker import beat


def test_readyz_is_not_ready_until_a_scheduler_reports(client: Any, db: Database) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["scheduler"]["reason"] == "no scheduler has reported yet"
    beat(db, "worker-1", utcnow())
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"]["ok"] is True


def test_readyz_notices_a_silent_scheduler(client: Any, db: Database) -> None:
    with db.session() as s:
        s.add(
            WorkerHeartbeat(
                name="old",
                beat_at=utcnow() - timedelta(minutes=5),
                started_at=utcnow() - timedelta(hours=1),
                pid=1,
            )
        )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "last scheduler heartbeat" in response.get_json()["checks"]["scheduler"]["reason"]


def test_metrics_are_prometheus_text_with_our_namespace(client: Any) -> None:
    client.get("/healthz")
    client.get("/login")
    body = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE dutydesk_http_requests_total counter" in body
    assert 'dutydesk_http_requests_total{endpoint="/login",method="GET",status="200"} 1.0' in body
    assert "dutydesk_build_info" in body
    # a dedicated registry: no default process/platform collectors from the global registry
    assert "python_gc_objects_collected_total" not in body


def test_failed_logins_are_counted_in_metrics(client: Any) -> None:
    from ..conftest import login

    login(client, "nobody@dc.example", "wrong password")
    body = client.get("/metrics").get_data(as_text=True)
    assert "dutydesk_login_failures_total 1.0" in body
