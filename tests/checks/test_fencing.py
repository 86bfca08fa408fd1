"""A worker that was paused, killed or whose clock is wrong: its claims are fencing tokens, its
lease ends at the check's next slot, and time comes from the database's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from checks.models import CheckResultRow, CheckStateRow
from checks.policy import CheckPolicy
from checks.result import Result, Status
from checks.schedule import CLAIM_AHEAD, START_MARGIN, WRITE_GRACE, lease_until, may_start
from checks.state import next_state
from checks.store import CheckStore, Claim, Outcome
from dutydesk.core.db import Database, utcnow
from dutydesk.core.dbclock import DbClock, server_now
from tests.checks.engine_helpers import add_check

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def _due(db: Database, check_id: int, at: datetime) -> None:
    with db.session() as s:
        s.get(CheckStateRow, check_id).next_due_at = at


def _outcome(claim: Claim, at: datetime) -> Outcome:
    result = Result(Status.OK, "up", at, 0.01)
    return Outcome(claim, result, next_state(claim.state, result, CheckPolicy(), at),
                   at + timedelta(seconds=claim.policy.interval))


@pytest.mark.parametrize(("due", "now", "interval", "timeout", "ahead", "expected"), [
    # the lease ends at the next slot: a dead worker's check runs again on its next slot, one
    # interval late at most, not a minute later
    (T0, T0 - timedelta(seconds=2), 30.0, 5.0, CLAIM_AHEAD, T0 + timedelta(seconds=30)),
    # claimed late (the check was overdue): the lease counts from the claim
    (T0, T0 + timedelta(seconds=10), 30.0, 5.0, CLAIM_AHEAD, T0 + timedelta(seconds=40)),
    # a run may take its whole timeout: the lease covers it, its write and the others' claim-ahead
    (T0, T0, 5.0, 10.0, CLAIM_AHEAD, T0 + timedelta(seconds=10 + WRITE_GRACE + CLAIM_AHEAD)),
    # a wider claim-ahead window: a 3 s timeout with a 6 s window outlasts a 10 s interval
    (T0, T0, 10.0, 3.0, 6.0, T0 + timedelta(seconds=3 + WRITE_GRACE + 6.0)),
    (T0, T0, 60.0, 3.0, 6.0, T0 + timedelta(seconds=60)),
])
def test_a_lease_ends_at_the_next_slot_unless_the_run_and_its_write_need_longer(
        due: datetime, now: datetime, interval: float, timeout: float, ahead: float,
        expected: datetime) -> None:
    assert lease_until(due, now, interval, timeout, ahead) == expected


def test_a_run_may_not_start_once_its_lease_is_nearly_over() -> None:
    lease = T0 + timedelta(seconds=30)
    assert may_start(lease, T0, interval=5.0)
    paused_till = lease - timedelta(seconds=CLAIM_AHEAD / 2)
    assert not may_start(lease, paused_till, interval=5.0)
    assert not may_start(lease, lease + timedelta(seconds=60), interval=5.0)
    # a wider claim-ahead window: the others may claim 5 s before the end, so no start then
    assert may_start(lease, lease - timedelta(seconds=5), 5.0, interval=5.0)
    assert not may_start(lease, lease - timedelta(seconds=4.9), 5.0, interval=5.0)


def test_a_late_run_never_starts_within_half_an_interval_of_the_takeover() -> None:
    """The takeover runs at the lease's end: a holder starting later than half an interval
    before it would probe the target twice within half an interval (seen under CI load with a
    5 s check: the late holder and the takeover 2 s apart)."""
    slot = T0
    lease = lease_until(slot, slot, 5.0, 1.0)
    keep = 2.5 + START_MARGIN
    assert may_start(lease, lease - timedelta(seconds=keep), interval=5.0)
    assert not may_start(lease, lease - timedelta(seconds=keep - 0.1), interval=5.0)
    # a long interval: its holder may start until half an interval after the slot
    lease = lease_until(slot, slot, 60.0, 10.0)
    assert lease == slot + timedelta(seconds=60)
    assert may_start(lease, slot + timedelta(seconds=30 - START_MARGIN), interval=60.0)
    assert not may_start(lease, slot + timedelta(seconds=30), interval=60.0)


def test_a_worker_paused_past_its_lease_cannot_store_its_result(db: Database) -> None:
    check_id = add_check(db, "ups-a", "http://127.0.0.1:9/", interval=30.0, timeout=5.0)
    _due(db, check_id, T0)
    paused, other = CheckStore(db), CheckStore(db)
    stale = paused.claim_due(T0)[0]
    assert paused.claim_due(T0) == [] and other.claim_due(T0) == []  # leased
    # ... the paused worker sleeps; at the lease's end another worker takes the check over
    taken = other.claim_due(stale.lease)[0]
    assert taken.version > stale.version
    assert other.write_batch([_outcome(taken, stale.lease)]).written
    refused = paused.write_batch([_outcome(stale, stale.lease + timedelta(seconds=1))])
    assert (refused.written, refused.conflicts) == ([], 1)
    with db.session() as s:
        stored = s.scalars(select(CheckResultRow.started_at)
                           .where(CheckResultRow.check_id == check_id)).all()
    assert stored == [stale.lease]  # the taken-over run only, stored once


@pytest.mark.parametrize("horizon", [1.0, 2.0, 4.0])
def test_a_killed_workers_check_is_taken_over_at_its_next_slot(db: Database,
                                                               horizon: float) -> None:
    """A worker claims a check due at T0 and dies without writing anything: another worker
    claims it within its claim-ahead window before the next slot and runs it ON that slot —
    the check misses one run and is late by one interval, not by a lease of a minute."""
    check_id = add_check(db, "pdu-3", "http://127.0.0.1:9/", interval=20.0, timeout=5.0)
    _due(db, check_id, T0)
    died = CheckStore(db).claim_due(T0 - timedelta(seconds=horizon), horizon=horizon)
    assert [c.due_at for c in died] == [T0]  # ... and its worker is killed before the run
    survivor = CheckStore(db)
    next_slot = T0 + timedelta(seconds=20)
    before = next_slot - timedelta(seconds=horizon + 0.5)
    assert survivor.claim_due(before, horizon=horizon) == []  # the lease still stands
    taken = survivor.claim_due(next_slot - timedelta(seconds=horizon), horizon=horizon)
    assert [c.due_at for c in taken] == [next_slot]  # runs on its next slot: one interval late
    assert taken[0].version == died[0].version + 1  # fencing: the dead claim's writes lose
    # and the dead worker, were it only paused, may no longer start its run by then
    assert not may_start(died[0].lease, next_slot - timedelta(seconds=horizon / 2), horizon,
                         interval=20.0)


def test_a_given_back_claim_is_due_again_at_once_but_only_if_still_held(db: Database) -> None:
    check_id = add_check(db, "chiller", "http://127.0.0.1:9/", interval=60.0)
    _due(db, check_id, T0)
    mine, other = CheckStore(db), CheckStore(db)
    claim = mine.claim_due(T0)[0]
    assert mine.release([claim]) == 1
    retaken = other.claim_due(T0)[0]
    assert mine.release([claim]) == 0  # no longer ours: the other worker's lease stands
    with db.session() as s:
        assert s.get(CheckStateRow, check_id).next_due_at == retaken.lease


def test_a_worker_whose_clock_runs_ahead_claims_by_the_databases_clock(db: Database) -> None:
    check_id = add_check(db, "crac-2", "http://127.0.0.1:9/", interval=300.0)
    ahead = DbClock(lambda: utcnow() + timedelta(seconds=150))
    store = CheckStore(db, clock=ahead)
    with db.session() as s:
        db_now = server_now(s)
    _due(db, check_id, db_now + timedelta(seconds=100))
    assert store.claim_due(None, horizon=2.0) == []  # its own clock says it is due: it is not
    assert abs(ahead.offset.total_seconds() + 150) < 2
    assert abs((ahead.now() - utcnow()).total_seconds()) < 2
    _due(db, check_id, db_now)
    claim = store.claim_due(None, horizon=2.0)[0]
    assert claim.lease - db_now < timedelta(seconds=300 + 5)  # not 150 s longer


def test_a_worker_paused_while_measuring_the_clock_keeps_the_offset_it_had(
        db: Database) -> None:
    """SIGSTOP between the server's answer and the host reading its own clock would put the
    clock half a pause behind, and a clock behind lets a lost lease look alive."""
    readings = iter([0.0, 0.01, 100.0, 130.0])  # second sample: paused 30 s mid-measurement
    base = utcnow()
    clock = DbClock(lambda: base + timedelta(seconds=next(readings)))
    with db.session() as s:
        clock.sync(s)
        first = clock.offset
        clock.sync(s)
    assert clock.offset == first  # not 15 s behind


def test_the_database_clock_reads_the_servers_time(db: Database) -> None:
    with db.session() as s:
        assert abs((server_now(s) - utcnow()).total_seconds()) < 2


def test_a_worker_whose_clock_runs_150_s_ahead_takes_no_extra_runs_and_stamps_none_ahead(
        db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("two workers on one database: PostgreSQL")
    from checks.engine import Engine, EngineConfig
    from tests.checks.engine_helpers import switchable_target

    fast = EngineConfig(claim_interval=0.1, flush_interval=0.1, context_refresh=0.5)
    interval = 5.0
    with switchable_target() as target:
        ids = [add_check(db, f"row-{k}", target.url, interval=interval,
                         retry_interval=interval) for k in range(20)]
        with db.session() as s:
            now = server_now(s)
            for cid in ids:
                s.get(CheckStateRow, cid).next_due_at = now
        honest = Engine(db, fast)
        ahead = Engine(db, fast, clock=lambda: utcnow() + timedelta(seconds=150))
        for engine in (honest, ahead):
            engine.start()
        import time

        time.sleep(2.5 * interval)
        for engine in (honest, ahead):
            engine.stop()
    with db.session() as s:
        rows = s.execute(select(CheckResultRow.check_id, CheckResultRow.started_at)
                         .where(CheckResultRow.check_id.in_(ids))).all()
        db_now = server_now(s)
    assert max(at for _cid, at in rows) <= db_now  # nothing stamped in the future
    runs: dict[int, list[datetime]] = {}
    for cid, at in rows:
        runs.setdefault(cid, []).append(at)
    gaps = [b - a for times in runs.values() for a, b in zip(sorted(times), sorted(times)[1:],
                                                              strict=False)]
    assert min(gaps) >= timedelta(seconds=interval / 2)  # no check run twice
    assert len(rows) <= len(ids) * 4  # the fast clock took no extra runs (2.5 intervals)
    assert honest.runs_written > 0  # ... and did not take every check over
