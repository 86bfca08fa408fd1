"""The engine running for real on both databases: heartbeats judged by freshness, dependencies,
maintenance, the probe guard, and two workers sharing one PostgreSQL database."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from checks.engine import Engine, EngineConfig
from checks.guard import OFFLINE_MESSAGE
from checks.models import (
    CheckDependency,
    CheckResultRow,
    CheckStateRow,
    FlipRow,
    MaintenanceWindowRow,
)
from checks.schedule import slot_at_or_after
from checks.store import CheckStore
from dutydesk.core.db import Database, utcnow
from tests.checks.conftest import free_port
from tests.checks.engine_helpers import add_check, switchable_target, version_of, wait_for_version

FAST = EngineConfig(claim_interval=0.05, flush_interval=0.05, context_refresh=0.3)


@pytest.fixture
def engine(db: Database) -> Iterator[Engine]:
    running = Engine(db, FAST)
    running.start()
    yield running
    running.stop()


def run_now(db: Database, check_id: int) -> None:
    """Press "run now" and wait until the engine stored the result."""
    before = version_of(db, check_id)
    assert CheckStore(db).request_run(check_id, utcnow())
    wait_for_version(db, check_id, before + 1)


def state_of(db: Database, check_id: int) -> CheckStateRow:
    with db.session() as s:
        return s.get(CheckStateRow, check_id)


def flips_of(db: Database, check_id: int) -> list[tuple[str, str | None, str, str | None]]:
    with db.session() as s:
        rows = s.scalars(select(FlipRow).where(FlipRow.check_id == check_id)
                         .order_by(FlipRow.id)).all()
        return [(r.kind, r.old_status, r.new_status, r.muted_by) for r in rows]


def test_a_silent_heartbeat_goes_critical_after_period_and_grace_and_recovers_on_ping(
    db: Database, engine: Engine, client: Any
) -> None:
    # The cron job of the backup server pings every second with half a second of grace.
    check_id = add_check(db, "backup-cron", "", type="heartbeat",
                         spec={"period": 1, "grace": 0.5}, heartbeat_key="k-backup",
                         max_attempts=1)
    before = version_of(db, check_id)
    assert client.get("/ping/k-backup").status_code == 200  # the ping makes the check due now
    wait_for_version(db, check_id, before + 1)
    assert state_of(db, check_id).status == "OK"

    time.sleep(1.7)  # the job stays silent for longer than period + grace
    run_now(db, check_id)
    late = state_of(db, check_id)
    assert (late.status, late.state_type) == ("CRITICAL", "HARD")
    assert "no ping for" in late.last_message
    assert flips_of(db, check_id) == [("problem", "OK", "CRITICAL", None)]

    before = version_of(db, check_id)
    assert client.post("/ping/k-backup", data="backup done").status_code == 200
    wait_for_version(db, check_id, before + 1)
    assert state_of(db, check_id).status == "OK"
    assert flips_of(db, check_id)[-1] == ("recovery", "CRITICAL", "OK", None)


def test_a_child_behind_a_down_parent_is_unreachable_and_raises_no_problem_of_its_own(
    db: Database, engine: Engine
) -> None:
    with switchable_target() as switch, switchable_target() as sensor:
        parent = add_check(db, "switch-a1", switch.url, max_attempts=1)
        child = add_check(db, "sensor-a1", sensor.url, max_attempts=1)
        with db.session() as s:
            s.add(CheckDependency(child_id=child, parent_id=parent))
        run_now(db, parent)
        run_now(db, child)
        assert flips_of(db, child) == []  # both OK from the start: nothing to announce

        switch.healthy = sensor.healthy = False  # the switch dies and takes the sensor with it
        run_now(db, parent)
        assert flips_of(db, parent) == [("problem", "OK", "CRITICAL", None)]
        run_now(db, child)
        run_now(db, child)

    seen = state_of(db, child)
    assert (seen.status, seen.last_status, seen.state_type) == ("UNREACHABLE", "CRITICAL", "HARD")
    kinds = [flip[0] for flip in flips_of(db, child)]
    assert kinds == ["unreachable"]  # no problem flip while the parent is down


def test_a_check_in_an_active_maintenance_window_records_muted_flips(db: Database) -> None:
    with switchable_target() as ups:
        check_id = add_check(db, "ups-b", ups.url, max_attempts=1)
        now = utcnow()
        with db.session() as s:
            s.add(MaintenanceWindowRow(
                name="battery swap", kind="one_off", check_id=check_id,
                definition={"start": (now - timedelta(minutes=5)).isoformat(),
                            "end": (now + timedelta(hours=1)).isoformat()}))
        running = Engine(db, FAST)  # reads the window when it starts
        running.start()
        try:
            run_now(db, check_id)
            ups.healthy = False
            run_now(db, check_id)
        finally:
            running.stop()

    flips = flips_of(db, check_id)
    assert ("problem", "OK", "CRITICAL", "maintenance") in flips
    assert all(muted == "maintenance" for _k, _o, _n, muted in flips)
    stored = state_of(db, check_id)
    assert stored.in_maintenance and stored.last_status == "CRITICAL"


def test_a_failing_check_is_unknown_poller_offline_when_every_reference_target_fails(
    db: Database,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/"
    references = [add_check(db, f"core-router-{n}", dead, guard_reference=True, timeout=2.0)
                  for n in (1, 2)]
    victim = add_check(db, "pdu-c3", dead, max_attempts=1, timeout=2.0)

    first = Engine(db, FAST)
    first.start()
    try:
        for ref in references:
            run_now(db, ref)  # both reference targets fail
    finally:
        first.stop()
    second = Engine(db, FAST)  # assesses the poller from the fresh reference results at start
    second.start()
    try:
        run_now(db, victim)
    finally:
        second.stop()

    judged = state_of(db, victim)
    assert judged.last_status == "UNKNOWN"
    assert judged.last_message.startswith(OFFLINE_MESSAGE)
    assert "CRITICAL" in judged.last_message  # the probe's own verdict is kept for the engineer
    assert all(new != "CRITICAL" for _k, _o, new, _m in flips_of(db, victim))
    for ref in references:  # the evidence itself is not rewritten
        assert state_of(db, ref).last_status == "CRITICAL"


def test_two_engines_on_one_postgresql_never_run_a_check_twice_in_one_slot(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("several workers share one PostgreSQL database; SQLite serves one worker")
    interval = 5.0
    with switchable_target() as target:
        ids = [add_check(db, f"rack-{n:02d}", target.url, interval=interval,
                         retry_interval=interval) for n in range(40)]
        start = utcnow()
        with db.session() as s:  # each check's first slot at its own phase, as the engine lays out
            for cid in ids:
                s.get(CheckStateRow, cid).next_due_at = slot_at_or_after(cid, interval, start)
        engines = [Engine(db, FAST), Engine(db, FAST)]
        for running in engines:
            running.start()
        time.sleep(7.5)  # every check's slot comes once or twice in this time
        for running in engines:
            running.stop()

    with db.session() as s:
        rows = s.execute(select(CheckResultRow.check_id, CheckResultRow.started_at)
                         .where(CheckResultRow.check_id.in_(ids))).all()
    runs: dict[int, list[Any]] = defaultdict(list)
    for cid, started in rows:
        runs[cid].append(started)
    assert set(runs) == set(ids)
    per_slot: Counter[tuple[int, Any]] = Counter()
    for cid, starts in runs.items():
        for started in starts:  # a run starts on its slot or shortly after it
            per_slot[cid, slot_at_or_after(cid, interval, started - timedelta(seconds=1))] += 1
    assert max(per_slot.values()) == 1, [key for key, n in per_slot.items() if n > 1]
    assert len(rows) > len(ids)  # the schedule kept going: second slots ran too
    assert sum(e.runs_written for e in engines) == len(rows)  # every stored run written once
