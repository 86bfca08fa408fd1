"""Three workers on one database fire every periodic job at once: one of them runs a job at a
time (a PostgreSQL advisory lock per job), and a job that does run beside another — the rollup
in particular — neither fails nor stores a row twice."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from checks.models import CheckRollup
from checks.rollups import roll_up
from dutydesk.core.db import Database
from dutydesk.core.jobs import MAX_HOLD, MIN_HOLD, Job, guarded, hold_bound, job_lock, lock_key
from dutydesk.jobs import scheduled_jobs
from tests.checks.engine_helpers import add_check

NOW = datetime(2026, 12, 7, 12, 30, tzinfo=UTC)
WORKERS = 3


def at_once(func: Callable[[], Any], n: int = WORKERS) -> list[BaseException]:
    """Run ``func`` in ``n`` threads released together; return what they raised."""
    barrier, errors = threading.Barrier(n), []

    def run() -> None:
        barrier.wait()
        try:
            func()
        except BaseException as exc:  # collected: the test names it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def need_postgres(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("several workers on one database: PostgreSQL (SQLite has one writer)")


def seed_minutes(db: Database, checks: int = 20) -> list[int]:
    """Two hours of one-per-minute results (10:30–12:29) for ``checks`` checks."""
    ids = [add_check(db, f"ups-{k}", "http://127.0.0.1:9/") for k in range(checks)]
    start = NOW - timedelta(hours=2)
    with db.session() as s:
        for cid in ids:
            for minute in range(120):
                s.add(CheckRollup(check_id=cid, resolution="minute",
                                  bucket_start=start + timedelta(minutes=minute), count=1,
                                  up_count=1, ok_count=1, duration_sum=0.1, duration_min=0.1,
                                  duration_max=0.1 + minute / 1000, h2=1))
    return ids


def rolled(db: Database) -> list[tuple[int, str, datetime, int, float | None]]:
    with db.session() as s:
        return [tuple(r) for r in s.execute(
            select(CheckRollup.check_id, CheckRollup.resolution, CheckRollup.bucket_start,
                   CheckRollup.count, CheckRollup.duration_max)
            .where(CheckRollup.resolution != "minute")
            .order_by(CheckRollup.check_id, CheckRollup.resolution,
                      CheckRollup.bucket_start)).all()]


def expected_rollups(ids: list[int]) -> list[tuple[int, str, datetime, int, float | None]]:
    # the last two hours by the clock (11:00, 12:00) from minute rows; today from those hours
    day, eleven, noon = NOW.replace(hour=0, minute=0), NOW.replace(hour=11, minute=0), \
        NOW.replace(hour=12, minute=0)
    out = []
    for cid in ids:
        out += [(cid, "day", day, 90, pytest.approx(0.1 + 119 / 1000)),
                (cid, "hour", eleven, 60, pytest.approx(0.1 + 89 / 1000)),
                (cid, "hour", noon, 30, pytest.approx(0.1 + 119 / 1000))]
    return out


def test_three_workers_rolling_up_at_once_store_each_bucket_once(db: Database) -> None:
    """The trial's failure: three workers' rollup passes at once hit the unique key of
    ``check_rollups``. Run without any job lock, as passes that overlap would."""
    need_postgres(db)
    ids = seed_minutes(db)
    for _ in range(3):  # again and again: a pass over stored buckets replaces them
        assert at_once(lambda: roll_up(db, NOW)) == []
        assert rolled(db) == expected_rollups(ids)


def test_the_rollup_on_sqlite_queues_behind_the_one_writer(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite's single writer")
    ids = seed_minutes(db, checks=5)
    assert at_once(lambda: roll_up(db, NOW)) == []
    assert rolled(db) == expected_rollups(ids)


def test_a_job_runs_in_one_worker_at_a_time_and_the_others_skip_that_pass(
        db: Database) -> None:
    need_postgres(db)
    running, most, runs = 0, 0, 0
    lock = threading.Lock()

    def slow() -> None:
        nonlocal running, most, runs
        with lock:
            running += 1
            runs += 1
            most = max(most, running)
        time.sleep(1.0)
        with lock:
            running -= 1

    job = Job(id="status-maintenance", name="slow", func=slow, trigger_args={"seconds": 30})
    runners = [guarded(job, Database(db.url, pool_size=2)) for _ in range(WORKERS)]
    picks = iter(runners)
    pick_lock = threading.Lock()

    def one_worker() -> None:
        with pick_lock:
            runner = next(picks)
        runner()

    assert at_once(one_worker) == []
    assert (most, runs) == (1, 1)  # one ran; the two others found it running and skipped
    # the lock went with the run: the next pass, in any worker, runs again
    runners[2]()
    assert runs == 2


def test_a_job_that_each_worker_runs_for_itself_takes_no_lock(db: Database) -> None:
    need_postgres(db)
    runs = []
    job = Job(id="outbox", name="sender watchdog", func=lambda: runs.append(1),
              one_runner=False)
    with job_lock(db, job.id, MIN_HOLD) as held:
        assert held
        guarded(job, db)()  # another worker holds "outbox": a per-worker job runs regardless
    assert runs == [1]


def test_a_lock_is_free_again_when_its_holder_ends_or_its_connection_dies(
        db: Database) -> None:
    need_postgres(db)
    other = Database(db.url, pool_size=2)
    with job_lock(db, "checks-rollup", MIN_HOLD) as held:
        assert held
        with job_lock(other, "checks-rollup", MIN_HOLD) as second:
            assert not second
        with job_lock(other, "incident-clocks", MIN_HOLD) as unrelated:
            assert unrelated  # one lock per job, not one for all
    with job_lock(other, "checks-rollup", MIN_HOLD) as after:
        assert after
    # a runner paused past its bound: the server ends the lock's transaction, the lock is free
    with job_lock(db, "checks-rollup", 0.5) as paused:
        assert paused
        time.sleep(1.5)
        with job_lock(other, "checks-rollup", MIN_HOLD) as taken:
            assert taken
    other.dispose()


@pytest.mark.parametrize(("job", "bound"), [
    (Job(id="a", name="a", func=print, trigger_args={"seconds": 1}), MIN_HOLD),
    (Job(id="b", name="b", func=print, trigger_args={"minutes": 5}), 600.0),
    (Job(id="c", name="c", func=print, trigger_args={"hours": 1}), MAX_HOLD),
    (Job(id="d", name="d", func=print, trigger="cron", trigger_args={"hour": 3}), MAX_HOLD),
])
def test_a_paused_runner_keeps_a_jobs_lock_twice_its_interval_within_bounds(
        job: Job, bound: float) -> None:
    assert hold_bound(job) == bound


def test_lock_keys_are_stable_signed_64_bit_and_distinct_per_job() -> None:
    keys = {lock_key(j) for j in ("checks-rollup", "incident-flips", "shifts-clock")}
    assert len(keys) == 3
    assert all(-(2 ** 63) <= k < 2 ** 63 for k in keys)
    assert lock_key("checks-rollup") == lock_key("checks-rollup")


def test_three_workers_running_every_job_at_once_raise_nothing_and_store_rollups_once(
        settings: Any, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    """Every job of a deployment (``dutydesk.jobs.scheduled_jobs``), fired by three workers at
    the same moment through the worker's runner: no job fails, none logs an error, and the
    rollup's rows are exactly the expected ones (on SQLite the one writer serialises them)."""
    ids = seed_minutes(db, checks=5)
    workers = [Database(db.url, pool_size=4) for _ in range(WORKERS)]
    jobs = [scheduled_jobs(settings, wdb) for wdb in workers]
    ids_per_worker = [sorted(j.id for j in js) for js in jobs]
    assert ids_per_worker[0] == ids_per_worker[1] == ids_per_worker[2]
    assert "checks-rollup" in ids_per_worker[0]
    picks = iter(range(WORKERS))
    pick_lock = threading.Lock()

    def one_worker() -> None:
        with pick_lock:
            k = next(picks)
        for job in jobs[k]:
            if job.id == "checks-rollup":
                job = Job(id=job.id, name=job.name, func=lambda w=workers[k]: roll_up(w, NOW),
                          trigger_args=job.trigger_args)  # the rollup at the test's clock
            guarded(job, workers[k])()

    with caplog.at_level(logging.ERROR):
        assert at_once(one_worker) == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert rolled(db) == expected_rollups(ids)
    for wdb in workers:
        wdb.dispose()
