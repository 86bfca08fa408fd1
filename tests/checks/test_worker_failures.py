"""Workers that fail the way machines fail, as real ``dutydesk worker`` processes on one
PostgreSQL, each in its own process group: paused (SIGSTOP) and resumed, killed (kill -9), told
to stop (SIGTERM). Scaled down (dozens of checks, intervals of seconds) so each takes seconds."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from checks.models import CheckResultRow, CheckStateRow
from checks.schedule import slot_at_or_after
from dutydesk.core.db import Database, utcnow
from tests.checks.engine_helpers import add_check
from tests.checks.worker_processes import (
    CountingTarget,
    alive,
    children_of,
    doubles,
    start_worker,
    stop,
    wait_until_running,
    with_group,
)

INTERVAL = 5.0  # the shortest a check may have


@pytest.fixture
def pg(db: Database) -> Database:
    if db.dialect != "postgresql":
        pytest.skip("several workers on one database: PostgreSQL (SQLite serves one worker)")
    return db


@pytest.fixture
def target() -> Iterator[CountingTarget]:
    server = CountingTarget()
    yield server
    server.close()


def _checks(db: Database, target: CountingTarget, n: int, **fields: Any) -> list[int]:
    ids = [add_check(db, f"rack-{k:03d}", target.url(f"rack-{k:03d}"),
                     **{"interval": INTERVAL, "retry_interval": INTERVAL, "timeout": 1.0,
                        **fields}) for k in range(n)]
    now = utcnow()
    with db.session() as s:
        for cid in ids:
            s.get(CheckStateRow, cid).next_due_at = slot_at_or_after(
                cid, fields.get("interval", INTERVAL), now)
    return ids


def _runs(db: Database, ids: list[int]) -> dict[int, list[float]]:
    with db.session() as s:
        rows = s.execute(select(CheckResultRow.check_id, CheckResultRow.started_at)
                         .where(CheckResultRow.check_id.in_(ids))).all()
    runs: dict[int, list[float]] = defaultdict(list)
    for cid, started in rows:
        runs[cid].append(started.timestamp())
    return runs


def _first_after(times: list[float], since: float) -> float:
    """Seconds from ``since`` to the first run after it (inf: none)."""
    return min((t - since for t in times if t > since), default=float("inf"))


def test_a_worker_paused_for_longer_than_its_leases_runs_and_stores_nothing_twice(
        pg: Database, target: CountingTarget, tmp_path: Path) -> None:
    ids = _checks(pg, target, 40)
    workers = [start_worker(pg.url, tmp_path, name=n) for n in ("a", "b")]
    try:
        for proc in workers:
            wait_until_running(pg, proc)
        time.sleep(2 * INTERVAL)
        with_group(workers[0], signal.SIGSTOP)  # a hung VM: its claims stay in the database
        paused_at = time.time()
        time.sleep(3 * INTERVAL)
        with_group(workers[0], signal.SIGCONT)  # ... and it wakes up with stale timers
        time.sleep(2 * INTERVAL)
    finally:
        for proc in workers:
            stop(proc)
    runs = _runs(pg, ids)
    assert sum(doubles(times, INTERVAL) for times in runs.values()) == 0  # stored doubles
    assert sum(doubles(times, INTERVAL) for times in target.hits.values()) == 0  # probes
    # the paused worker's checks were taken over within one interval and a few seconds
    assert max(_first_after(times, paused_at) for times in runs.values()) <= INTERVAL + 5


def test_a_killed_workers_checks_run_again_within_their_interval(
        pg: Database, target: CountingTarget, tmp_path: Path) -> None:
    ids = _checks(pg, target, 40)
    workers = [start_worker(pg.url, tmp_path, name=n) for n in ("a", "b")]
    try:
        for proc in workers:
            wait_until_running(pg, proc)
        time.sleep(2 * INTERVAL)
        with_group(workers[0], signal.SIGKILL)
        killed_at = time.time()
        time.sleep(3 * INTERVAL)
    finally:
        for proc in workers:
            stop(proc)
    runs = _runs(pg, ids)
    assert max(_first_after(times, killed_at) for times in runs.values()) <= INTERVAL + 5
    assert sum(doubles(times, INTERVAL) for times in runs.values()) == 0


def test_killing_the_worker_takes_its_engine_processes_with_it(
        db: Database, tmp_path: Path) -> None:
    proc = start_worker(db.url, tmp_path, processes="2")
    try:
        wait_until_running(db, proc)
        deadline = time.monotonic() + 30
        while len(engines := [p for p in children_of(proc.pid)]) < 2:
            assert time.monotonic() < deadline, "engine processes did not start"
            time.sleep(0.2)
        proc.kill()  # kill -9 of the main process only, not its group
        proc.wait(5)
        time.sleep(2)
        assert [pid for pid in engines if alive(pid)] == []
    finally:
        stop(proc)


def test_sigterm_stops_the_worker_within_seconds_and_hands_its_checks_back(
        pg: Database, tmp_path: Path) -> None:
    slow = CountingTarget(delay=30.0)  # probes hang until their timeout
    try:
        ids = _checks(pg, slow, 30, interval=10.0, retry_interval=10.0, timeout=20.0)
        proc = start_worker(pg.url, tmp_path, processes="2")
        try:
            wait_until_running(pg, proc)
            deadline = time.monotonic() + 90  # engine processes start slowly on a busy host
            while sum(len(h) for h in slow.hits.values()) < 5:  # probes in flight
                assert time.monotonic() < deadline, "no probe started"
                time.sleep(0.2)
            with_group(proc, signal.SIGTERM)  # as systemd and Kubernetes stop a service
            asked = time.monotonic()
            proc.wait(15)
            took = time.monotonic() - asked
        finally:
            stop(proc)
    finally:
        slow.close()
    assert took < 10
    with pg.session() as s:
        leased = s.scalars(select(CheckStateRow.next_due_at).where(
            CheckStateRow.check_id.in_(ids),
            CheckStateRow.next_due_at > utcnow() + timedelta(seconds=10))).all()
    assert leased == []  # every claim given back: another worker may run them at once
