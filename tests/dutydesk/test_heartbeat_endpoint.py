"""Heartbeat endpoints: a device pings without logging in; the check's signals are recorded;
the checks API lists checks and queues a run for engineers only."""

from __future__ import annotations

from typing import Any

from checks.models import Check, CheckStateRow, HeartbeatRow
from dutydesk.core.db import Database
from dutydesk.models import Role
from tests.conftest import bearer


def _heartbeat_check(db: Database) -> int:
    with db.session() as s:
        check = Check(slug="backup-job", type="heartbeat", spec={"period": "1h"},
                      heartbeat_key="k3y-backup-job-123")
        s.add(check)
        s.flush()
        s.add(CheckStateRow(check_id=check.id, state={}))
        return check.id


def test_a_ping_without_login_records_the_signal(client: Any, db: Database) -> None:
    check_id = _heartbeat_check(db)
    assert client.get("/ping/k3y-backup-job-123").status_code == 200
    assert client.post("/ping/k3y-backup-job-123/fail", data="disk full").status_code == 200
    with db.session() as s:
        row = s.get(HeartbeatRow, check_id)
    assert row.pings == 2 and row.last_ping_at is not None and row.last_fail_at is not None
    assert row.last_body == "disk full"


def test_an_unknown_key_is_not_found(client: Any, db: Database) -> None:
    assert client.get("/ping/nope-nope-nope").status_code == 404


def test_the_api_lists_checks_and_only_engineers_queue_runs(
    client: Any, db: Database, api_token: Any
) -> None:
    check_id = _heartbeat_check(db)
    viewer, engineer = api_token(Role.VIEWER), api_token(Role.ENGINEER)
    listed = client.get("/api/v1/checks?type=heartbeat", headers=bearer(viewer)).get_json()
    assert [c["name"] for c in listed["items"]] == ["backup-job"]
    path = f"/api/v1/checks/{check_id}/run"
    assert client.post(path, headers=bearer(viewer)).status_code == 403
    assert client.post(path, headers=bearer(engineer)).status_code == 202
    assert client.get("/api/v1/checks/999999", headers=bearer(viewer)).status_code == 404
