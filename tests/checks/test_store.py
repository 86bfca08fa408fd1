"""Store: compare-and-set claims (one winner), bounded results, minute -> hour rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from checks.models import (
    HISTOGRAM_COLUMNS,
    Check,
    CheckResultRow,
    CheckRollup,
    CheckStateRow,
)
from checks.policy import CheckPolicy
from checks.result import Result, Status
from checks.rollups import p95_from
from checks.state import next_state
from checks.store import CheckStore, Outcome
from dutydesk.core.db import Database
from tests.checks.engine_helpers import add_check

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def _due(db: Database, check_id: int, at: datetime) -> None:
    with db.session() as s:
        s.get(CheckStateRow, check_id).next_due_at = at


def test_two_claimers_of_the_same_due_check_one_wins(db: Database) -> None:
    check_id = add_check(db, "c1", "http://127.0.0.1:9/")
    _due(db, check_id, T0)
    lease = T0 + timedelta(minutes=1)
    first, second = CheckStore(db), CheckStore(db)
    assert [first.claim_one(check_id, T0, lease), second.claim_one(check_id, T0, lease)] == [
        True, False]
    _due(db, check_id, T0)
    assert [c.check_id for c in first.claim_due(T0)] == [check_id]
    assert second.claim_due(T0) == []  # leased until the run is written


def _outcome(store: CheckStore, check_id: int, at: datetime, status: Status,
             duration: float) -> Outcome:
    claim = store.claim_due(at, horizon=3600)[0]
    result = Result(status, "x", at, duration)
    transition = next_state(claim.state, result, CheckPolicy(), at)
    return Outcome(claim, result, transition, at + timedelta(seconds=5))


def test_only_the_last_n_results_are_kept(db: Database) -> None:
    check_id = add_check(db, "c2", "http://127.0.0.1:9/")
    store = CheckStore(db, keep_results=5, trim_every=1)
    _due(db, check_id, T0)
    for i in range(15):
        at = T0 + timedelta(seconds=5 * i)
        assert store.write_batch([_outcome(store, check_id, at, Status.OK, 0.01)]).written
    with db.session() as s:
        kept = s.scalars(select(CheckResultRow.started_at).where(
            CheckResultRow.check_id == check_id).order_by(CheckResultRow.id)).all()
    assert kept == [T0 + timedelta(seconds=5 * i) for i in range(10, 15)]


def test_minute_rollups_merge_into_hours_with_uptime_and_latency(db: Database) -> None:
    check_id = add_check(db, "c3", "http://127.0.0.1:9/")
    store = CheckStore(db)
    _due(db, check_id, T0)
    plan = [(0, Status.OK, 0.02), (30, Status.OK, 0.2), (70, Status.CRITICAL, 3.0),
            (130, Status.WARNING, 0.04)]
    for seconds, status, duration in plan:
        store.write_batch([_outcome(store, check_id, T0 + timedelta(seconds=seconds), status,
                                    duration)])
    store.roll_up(T0 + timedelta(minutes=5))
    with db.session() as s:
        minutes = s.scalar(select(func.count()).select_from(CheckRollup)
                           .where(CheckRollup.resolution == "minute"))
        hour = s.scalar(select(CheckRollup).where(CheckRollup.resolution == "hour"))
        day = s.scalar(select(CheckRollup).where(CheckRollup.resolution == "day"))
    assert minutes == 3
    assert (hour.bucket_start, hour.count, hour.up_count, hour.ok_count) == (T0, 4, 3, 2)
    assert (hour.duration_min, hour.duration_max) == (0.02, 3.0)
    assert p95_from([getattr(hour, h) for h in HISTOGRAM_COLUMNS], hour.duration_max) == 3.0
    assert day.count == 4 and day.bucket_start == T0.replace(hour=0)


def test_prune_drops_minute_rollups_older_than_a_day(db: Database) -> None:
    check_id = add_check(db, "c4", "http://127.0.0.1:9/")
    store = CheckStore(db)
    _due(db, check_id, T0)
    store.write_batch([_outcome(store, check_id, T0, Status.OK, 0.01)])
    assert store.prune(T0 + timedelta(hours=23))["minute"] == 0
    assert store.prune(T0 + timedelta(hours=25))["minute"] == 1



def test_a_claim_carries_the_policy_as_edited_since_the_previous_claim(db: Database) -> None:
    check_id = add_check(db, "c5", "http://127.0.0.1:9/")
    store = CheckStore(db)
    _due(db, check_id, T0)
    assert store.claim_due(T0)[0].policy.max_attempts == 2
    with db.session() as s:
        s.execute(update(Check).where(Check.id == check_id).values(max_attempts=5,
                                                                     interval=30.0))
    _due(db, check_id, T0)
    policy = store.claim_due(T0)[0].policy
    assert (policy.max_attempts, policy.interval) == (5, 30.0)


def test_a_claim_sees_the_state_another_worker_wrote_since(db: Database) -> None:
    check_id = add_check(db, "c6", "http://127.0.0.1:9/")
    mine, other = CheckStore(db), CheckStore(db)
    _due(db, check_id, T0)
    mine.write_batch([_outcome(mine, check_id, T0, Status.OK, 0.01)])
    _due(db, check_id, T0 + timedelta(seconds=5))
    other.write_batch([_outcome(other, check_id, T0 + timedelta(seconds=5), Status.CRITICAL,
                                0.01)])
    _due(db, check_id, T0 + timedelta(seconds=10))
    claim = mine.claim_due(T0 + timedelta(seconds=10))[0]
    assert (claim.state.status, claim.state.attempt, claim.version) == (Status.CRITICAL, 1, 2)


def test_a_claim_carries_the_spec_as_edited_since_the_previous_claim(db: Database) -> None:
    check_id = add_check(db, "c7", "http://127.0.0.1:9/old")
    store = CheckStore(db)
    _due(db, check_id, T0)
    assert store.claim_due(T0)[0].spec == {"url": "http://127.0.0.1:9/old"}
    with db.session() as s:
        s.execute(update(Check).where(Check.id == check_id).values(
            spec={"url": "http://127.0.0.1:9/new"}, updated_at=T0 + timedelta(seconds=1)))
    _due(db, check_id, T0)
    assert store.claim_due(T0)[0].spec == {"url": "http://127.0.0.1:9/new"}


def test_two_parts_claim_disjoint_checks_that_cover_them_all(db: Database) -> None:
    ids = [add_check(db, f"p{i}", "http://127.0.0.1:9/") for i in range(6)]
    for check_id in ids:
        _due(db, check_id, T0)
    even, odd = CheckStore(db, part=(0, 2)), CheckStore(db, part=(1, 2))
    got_even = {c.check_id for c in even.claim_due(T0)}
    got_odd = {c.check_id for c in odd.claim_due(T0)}
    assert got_even.isdisjoint(got_odd)
    assert got_even | got_odd == set(ids)
    assert all(cid % 2 == 0 for cid in got_even)
