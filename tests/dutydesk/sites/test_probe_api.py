"""A probe enrols once, pulls its checks (304 while nothing changed) and pushes results that are
stored once per (probe, sequence) and judged in the order they were made."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from checks.models import CheckResultRow, CheckStateRow, FlipRow
from dutydesk.core.db import Database, utcnow
from dutydesk.sites.service import assign_check, create_probe, find_probe
from tests.checks.engine_helpers import add_check


@pytest.fixture
def probe(client: Any, db: Database) -> dict[str, Any]:
    check_id = add_check(db, "ups-a", "http://127.0.0.1:9/", max_attempts=1)
    add_check(db, "central", "http://127.0.0.1:9/")
    with db.session() as s:
        token = create_probe(s, "default", "kyiv-dc2", utcnow()).secret
        assign_check(s, check_id, find_probe(s, "default", "kyiv-dc2"))
    answer = client.post("/api/probe/v1/enrol", json={"token": token, "version": "1.2"})
    assert answer.status_code == 200, answer.json
    again = client.post("/api/probe/v1/enrol", json={"token": token})
    assert again.status_code == 401
    return {"auth": {"Authorization": f"Bearer {answer.json['credential']}"},
            "check_id": check_id}


def _result(seq: int, check_id: int, status: str, at: Any) -> dict[str, Any]:
    return {"seq": seq, "check_id": check_id, "status": status, "message": f"run {seq}",
            "started_at": at.isoformat(), "duration": 0.1, "metrics": {"response_time": 0.1}}


def test_a_probe_pulls_only_its_checks_and_gets_304_until_they_change(
        client: Any, db: Database, probe: dict[str, Any]) -> None:
    first = client.get("/api/probe/v1/checks", headers=probe["auth"])
    assert first.status_code == 200
    assert [c["slug"] for c in first.json["checks"]] == ["ups-a"]
    etag = first.headers["ETag"]
    same = client.get("/api/probe/v1/checks", headers={**probe["auth"], "If-None-Match": etag})
    assert same.status_code == 304
    with db.session() as s:
        from checks.models import Check
        s.get(Check, probe["check_id"]).updated_at = utcnow()
    changed = client.get("/api/probe/v1/checks", headers={**probe["auth"],
                                                          "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_results_replayed_after_a_timeout_are_stored_once_and_judged_in_order(
        client: Any, db: Database, probe: dict[str, Any]) -> None:
    cid, t0 = probe["check_id"], utcnow() - timedelta(minutes=10)
    statuses = ["OK", "CRITICAL", "CRITICAL", "OK", "OK"]
    batch = [_result(i + 1, cid, st, t0 + timedelta(minutes=i)) for i, st in enumerate(statuses)]
    # sent shuffled, twice (a timeout, then the replay), and once more with one new result
    first = client.post("/api/probe/v1/results", headers=probe["auth"],
                        json={"results": batch[::-1][:3] + batch[::-1][3:], "buffered": 0})
    assert first.status_code == 200 and first.json == {"acked": 5, "stored": 5, "replayed": 0}
    replay = client.post("/api/probe/v1/results", headers=probe["auth"], json={"results": batch})
    assert replay.json == {"acked": 5, "stored": 0, "replayed": 5}
    with db.session() as s:
        results = s.scalars(select(CheckResultRow.message).where(CheckResultRow.check_id == cid)
                            .order_by(CheckResultRow.id)).all()
        flips = s.execute(select(FlipRow.kind, FlipRow.new_status, FlipRow.at)
                          .where(FlipRow.check_id == cid).order_by(FlipRow.id)).all()
        state = s.get(CheckStateRow, cid)
    assert results == [f"run {i}" for i in range(1, 6)]
    problem = [f for f in flips if f.kind == "problem"]
    recovery = [f for f in flips if f.kind == "recovery"]
    # the problem that began and ended before the centre heard of it is in history, on time
    assert len(problem) == 1 and len(recovery) == 1
    assert abs((problem[0].at - (t0 + timedelta(minutes=1))).total_seconds()) < 1
    assert state.status == "OK"


def test_a_probe_cannot_report_checks_that_are_not_its_own(
        client: Any, db: Database, probe: dict[str, Any]) -> None:
    with db.session() as s:
        from checks.models import Check
        central = s.scalar(select(Check.id).where(Check.slug == "central"))
    answer = client.post("/api/probe/v1/results", headers=probe["auth"],
                         json={"results": [_result(1, central, "CRITICAL", utcnow())]})
    assert answer.status_code == 200 and answer.json["stored"] == 0


@pytest.mark.parametrize("body", [
    {}, {"results": "x"}, {"results": [{"seq": 1}]}, {"results": [1]},
    {"results": [{"seq": 1, "check_id": 1, "status": "BAD", "started_at": "2026-01-01T00:00Z"}]},
    {"results": [{"seq": 1, "check_id": 1, "status": "OK", "started_at": "yesterday"}]},
    {"results": [{"seq": 1, "check_id": 1, "status": "OK", "started_at": "2026-01-01T00:00"}]},
    {"results": [], "dropped": -1},
])
def test_malformed_batches_are_400_and_store_nothing(
        client: Any, probe: dict[str, Any], body: Any) -> None:
    assert client.post("/api/probe/v1/results", headers=probe["auth"],
                       json=body).status_code == 400


def test_without_a_valid_credential_everything_is_401(client: Any) -> None:
    assert client.get("/api/probe/v1/checks").status_code == 401
    bad = {"Authorization": "Bearer ddp_1_" + "A" * 43}
    assert client.get("/api/probe/v1/checks", headers=bad).status_code == 401
    assert client.post("/api/probe/v1/results", headers=bad, json={"results": []}
                       ).status_code == 401
    assert client.post("/api/probe/v1/enrol", json={"token": "ddpe_nope"}).status_code == 401
    assert client.post("/api/probe/v1/enrol", data="x").status_code == 400


def test_results_a_probe_had_to_drop_are_reported_and_audited(
        client: Any, db: Database, probe: dict[str, Any]) -> None:
    from dutydesk.core.models.audit import AuditEntry
    from dutydesk.sites.models import Probe

    answer = client.post("/api/probe/v1/results", headers=probe["auth"],
                         json={"results": [], "dropped": 7, "buffered": 100})
    assert answer.status_code == 200
    with db.session() as s:
        row = s.scalar(select(Probe))
        assert (row.dropped_total, row.buffer_depth) == (7, 100)
        summaries = s.scalars(select(AuditEntry.summary)
                              .where(AuditEntry.action == "probe.dropped")).all()
    assert summaries == ["probe kyiv-dc2 dropped 7 results (buffer full or too old; 7 in all)"]
