"""Heartbeat endpoints: a device pings without logging in; the check's signals are recorded;
the checks API lists checks and queues a run for engineers only."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from checks.models import Check, CheckStateRow, HeartbeatLogRow, HeartbeatRow
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


def _signals(db: Database, check_id: int) -> tuple[Any, list[tuple[str, int | None, str]]]:
    with db.session() as s:
        row = s.get(HeartbeatRow, check_id)
        if row is not None:
            s.expunge(row)
        log = [(r.kind, r.exit_status, r.body) for r in s.scalars(
            select(HeartbeatLogRow).where(HeartbeatLogRow.check_id == check_id)
            .order_by(HeartbeatLogRow.id))]
    return row, log


def test_a_cron_job_reports_its_exit_status_zero_as_success_and_others_as_failure(
    client: Any, db: Database
) -> None:
    check_id = _heartbeat_check(db)
    assert client.post("/ping/k3y-backup-job-123/0", data="12 files copied").status_code == 200
    row, _ = _signals(db, check_id)
    assert row.last_ping_at is not None and row.last_fail_at is None
    assert row.last_exit_status == 0

    assert client.post("/ping/k3y-backup-job-123/3", data="rsync: disk full").status_code == 200
    row, log = _signals(db, check_id)
    assert row.last_fail_at is not None and row.last_exit_status == 3
    assert log == [("success", 0, "12 files copied"), ("fail", 3, "rsync: disk full")]


def test_a_log_line_is_recorded_without_changing_the_checks_state(
    client: Any, db: Database
) -> None:
    check_id = _heartbeat_check(db)
    with db.session() as s:
        due_before = s.get(CheckStateRow, check_id).next_due_at
    assert client.post("/ping/k3y-backup-job-123/log", data="step 2 of 5: dumping").status_code \
        == 200
    row, log = _signals(db, check_id)
    assert row is None  # no signal: the job is neither alive nor failed for the check
    assert log == [("log", None, "step 2 of 5: dumping")]
    with db.session() as s:
        assert s.get(CheckStateRow, check_id).next_due_at == due_before


def test_ping_bodies_are_bounded_and_bad_exit_statuses_refused(client: Any, db: Database) -> None:
    check_id = _heartbeat_check(db)
    assert client.post("/ping/k3y-backup-job-123/log", data="x" * 50_000).status_code == 200
    _, log = _signals(db, check_id)
    assert len(log[0][2]) == 10_000  # the tail a person reads, not the whole dump
    too_big = client.post("/ping/k3y-backup-job-123/log", data="x" * 200_000)
    assert too_big.status_code == 413
    assert "at most 100000 bytes" in too_big.get_data(as_text=True)
    assert client.get("/ping/k3y-backup-job-123/256").status_code == 400
    _, log = _signals(db, check_id)
    assert len(log) == 1  # the refused ones changed nothing


def test_only_the_newest_hundred_pings_are_kept(client: Any, db: Database) -> None:
    check_id = _heartbeat_check(db)
    for n in range(105):
        client.post("/ping/k3y-backup-job-123/log", data=f"line {n}")
    _, log = _signals(db, check_id)
    assert len(log) == 100 and log[0][2] == "line 5" and log[-1][2] == "line 104"


def test_the_check_page_shows_what_the_job_reported(
    client: Any, db: Database, signed_in: Any
) -> None:
    check_id = _heartbeat_check(db)
    client.post("/ping/k3y-backup-job-123/log", data="step 2 of 5: dumping")
    client.post("/ping/k3y-backup-job-123/12", data="mount failed")
    page = signed_in(Role.VIEWER).get(f"/checks/{check_id}").get_data(as_text=True)
    assert "Recent pings" in page
    assert "step 2 of 5: dumping" in page and "mount failed" in page
    assert re.search(r"<td>\s*12\s*</td>", page)  # the exit status
    assert page.index("mount failed") < page.index("step 2 of 5")  # newest first
