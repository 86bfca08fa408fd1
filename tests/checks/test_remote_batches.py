"""A remote probe's batch is judged result by result but written with one state update per
check (``checks.remote``): the flips, the final state and the version are those a
result-by-result write would leave, a stale result changes nothing, and a state moved by
someone else meanwhile stores nothing of the batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from checks.models import CheckResultRow, CheckRollup, CheckStateRow, FlipRow
from checks.remote import RemoteConflict, RemoteResult, judge_in_order
from checks.result import Result, Status
from checks.store import CheckStore
from checks.windows import EMPTY_INDEX
from dutydesk.core.db import Database, utcnow
from tests.checks.engine_helpers import add_check


def _judge(db: Database, store: CheckStore, results: list[RemoteResult]) -> None:
    with db.session() as s:
        report = judge_in_order(s, store, results, EMPTY_INDEX)
    store.remember(report.written)


def test_a_batch_leaves_every_flip_on_time_and_the_state_of_its_last_result(db: Database) -> None:
    store = CheckStore(db)
    ups = add_check(db, "ups-a", "http://127.0.0.1:9/", max_attempts=2)
    pdu = add_check(db, "pdu-b", "http://127.0.0.1:9/", max_attempts=1)
    store.ensure_states(utcnow())
    with db.session() as s:
        before = {cid: s.get(CheckStateRow, cid).version for cid in (ups, pdu)}
    t0 = utcnow() - timedelta(minutes=30)
    ups_runs = [Status.OK, Status.CRITICAL, Status.CRITICAL, Status.CRITICAL, Status.OK]
    pdu_runs = [Status.OK, Status.WARNING, Status.OK]
    batch = [RemoteResult(ups, Result(st, f"ups {i}", t0 + timedelta(minutes=i), 0.5))
             for i, st in enumerate(ups_runs)]
    batch += [RemoteResult(pdu, Result(st, f"pdu {i}", t0 + timedelta(minutes=i), 0.5))
              for i, st in enumerate(pdu_runs)]
    batch.sort(key=lambda r: r.result.started_at)  # interleaved, as a probe makes them
    _judge(db, store, batch)

    with db.session() as s:
        flips = s.execute(select(FlipRow.check_id, FlipRow.kind, FlipRow.new_status, FlipRow.at)
                          .order_by(FlipRow.id)).all()
        ups_state, pdu_state = s.get(CheckStateRow, ups), s.get(CheckStateRow, pdu)
        messages = s.scalars(select(CheckResultRow.message).where(CheckResultRow.check_id == ups)
                             .order_by(CheckResultRow.id)).all()
        counted = s.scalar(select(func.sum(CheckRollup.count)).where(CheckRollup.check_id == ups))
    ups_flips = [(f.kind, f.new_status, f.at) for f in flips if f.check_id == ups]
    # CRITICAL at minute 1 is SOFT (2 attempts); confirmed at minute 2, recovered at minute 4
    assert [(k, st) for k, st, _at in ups_flips] == [("problem", "CRITICAL"),
                                                      ("recovery", "OK")]
    assert ups_flips[0][2] == t0 + timedelta(minutes=2, seconds=0.5)
    assert ups_flips[1][2] == t0 + timedelta(minutes=4, seconds=0.5)
    assert [(f.kind, f.new_status) for f in flips if f.check_id == pdu] == [
        ("problem", "WARNING"), ("recovery", "OK")]
    assert messages == [f"ups {i}" for i in range(5)] and counted == 5
    assert ups_state.status == "OK" and ups_state.last_message == "ups 4"
    assert ups_state.version == before[ups] + 5 and pdu_state.version == before[pdu] + 3
    assert ups_state.last_result_at == t0 + timedelta(minutes=4)


def test_a_result_sent_twice_in_a_batch_is_stored_but_changes_no_state(db: Database) -> None:
    store = CheckStore(db)
    cid = add_check(db, "ups-a", "http://127.0.0.1:9/", max_attempts=1)
    store.ensure_states(utcnow())
    t0 = utcnow() - timedelta(minutes=5)
    critical = Result(Status.CRITICAL, "down", t0 + timedelta(minutes=1), 0.5)
    _judge(db, store, [RemoteResult(cid, Result(Status.OK, "up", t0, 0.5)),
                       RemoteResult(cid, critical),
                       RemoteResult(cid, Result(Status.OK, "late copy", t0, 0.5))])
    with db.session() as s:
        state = s.get(CheckStateRow, cid)
        kinds = s.scalars(select(FlipRow.kind).where(FlipRow.check_id == cid)).all()
    assert state.status == "CRITICAL" and state.last_message == "down"
    assert kinds == ["problem"]


def test_a_state_moved_meanwhile_stores_nothing_of_the_batch(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite lets one writer at a time: a state cannot move during a batch")
    store = CheckStore(db)
    cid = add_check(db, "ups-a", "http://127.0.0.1:9/", max_attempts=1)
    store.ensure_states(utcnow())
    read = store.known

    def read_then_moved(s: object, rows: list) -> dict:
        found = read(s, rows)
        with db.session() as other:  # another writer moves the state after the batch read it
            other.execute(update(CheckStateRow).where(CheckStateRow.check_id == cid)
                          .values(version=CheckStateRow.version + 7))
        return found

    monkeypatch.setattr(store, "known", read_then_moved)
    results = [RemoteResult(cid, Result(Status.CRITICAL, "down", utcnow(), 0.5))]
    with pytest.raises(RemoteConflict), db.session() as s:
        judge_in_order(s, store, results, EMPTY_INDEX)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(CheckResultRow)) == 0
        assert s.get(CheckStateRow, cid).status != "CRITICAL"
