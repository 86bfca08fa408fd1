"""Faults with real parts: a real centre (the app over HTTP on loopback, its probe watcher and alert
pipeline running in a thread as a worker runs them) and a real ``python -m dutydesk probe``
process. Time is scaled (``SCALE``): a check's 10 s is 0.1 s, a 10-minute cut 6 s, a 300 s grace
3 s. Every result the probe numbered must be stored exactly once (rows == the centre's highest
sequence number: none lost, none doubled), in the order made."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from checks.models import CheckResultRow, FlipRow
from checks.store import CheckStore
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.models import Incident
from dutydesk.sites.models import Probe
from dutydesk.sites.service import assign_check, create_probe, find_probe, reissue_token
from tests.checks.engine_helpers import add_check, switchable_target

from .probe_harness import (
    Centre,
    CentreJobs,
    ProbeProcess,
    free_port,
    probe_metrics,
    wait_until,
)

SCALE = 0.01
INTERVAL = 10.0 * SCALE  # what the probe runs a 10 s check at
GRACE = 300.0 * SCALE
FAST = {"DUTYDESK_PROBE_TIME_SCALE": str(SCALE), "DUTYDESK_PROBE_PULL_INTERVAL": "0.5"}


@pytest.fixture
def target() -> Any:
    with switchable_target() as t:
        yield t


@pytest.fixture
def centre(app: Any, db: Database) -> Any:
    # more results per check than the 100 kept by default: every one of them is counted
    app.extensions["dutydesk_probe_store"] = CheckStore(db, keep_results=100_000)
    c = Centre(app)
    c.start()
    yield c
    c.stop()


def enrolled(db: Database, url: str, checks: int = 1,
             interval: float = 10.0) -> tuple[list[int], str]:
    ids = [add_check(db, f"ups-{i}", url, interval=interval, max_attempts=1, timeout=2.0)
           for i in range(checks)]
    with db.session() as s:
        token = create_probe(s, "default", "kyiv-dc2", utcnow()).secret
        probe = find_probe(s, "default", "kyiv-dc2")
        probe.grace_seconds = GRACE
        for cid in ids:
            assign_check(s, cid, probe)
    return ids, token


def stored(db: Database, check_id: int | None = None) -> list[Any]:
    query = select(CheckResultRow.check_id, CheckResultRow.started_at, CheckResultRow.status)
    if check_id is not None:
        query = query.where(CheckResultRow.check_id == check_id)
    with db.session() as s:
        return s.execute(query.order_by(CheckResultRow.id)).all()


def last_seq(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(Probe.last_seq)) or 0


def assert_each_once_in_order(db: Database, check_ids: list[int]) -> int:
    """Every result numbered 1..last_seq is stored once; each check's in the order made.
    A push the centre was storing when the probe was stopped may still commit: wait until the
    stored number has stood still for a second before counting."""
    settled, seen = time.monotonic() + 15, None
    while time.monotonic() < settled:
        now_seq = last_seq(db)
        if now_seq == seen:
            break
        seen = now_seq
        time.sleep(1.0)
    total = 0
    for cid in check_ids:
        times = [r.started_at for r in stored(db, cid)]
        assert times == sorted(times), f"check {cid}: stored out of order"
        assert len(set(times)) == len(times), f"check {cid}: a result stored twice"
        total += len(times)
    assert total == last_seq(db), f"{total} rows stored for {last_seq(db)} numbered results"
    return total


def incidents(db: Database, key_like: str) -> list[Any]:
    with db.session() as s:
        return s.execute(select(Incident.status, Incident.check_id)
                         .where(Incident.dedup_key.like(key_like))).all()


@pytest.mark.parametrize(("cut_for", "offline"), [(600.0, True), (120.0, False)],
                         ids=["10-minute-cut", "2-minute-cut"])
def test_a_cut_link_replays_as_if_no_cut_had_happened(
        db: Database, settings: Any, centre: Centre, target: Any, tmp_path: Path,
        cut_for: float, offline: bool) -> None:
    (check_id,), token = enrolled(db, target.url)
    cut = cut_for * SCALE
    port = free_port()
    probe = ProbeProcess(centre, tmp_path / "probe", token,
                         DUTYDESK_PROBE_METRICS_PORT=str(port), **FAST)
    with CentreJobs(db, settings):
        probe.start()
        try:
            wait_until(lambda: len(stored(db, check_id)) >= 5, 20, "first results")
            centre.stop()
            cut_from = datetime.now(UTC)
            time.sleep(cut * 0.25)
            target.healthy = False  # a problem that begins and ends during the cut
            time.sleep(cut * 0.4)
            target.healthy = True
            time.sleep(cut * 0.35)
            cut_to = datetime.now(UTC)
            during = probe_metrics(port)
            centre.start()
            wait_until(lambda: any(r.started_at > cut_to for r in stored(db, check_id)), 20,
                       "the backlog replayed")
            # within seconds of the link's return the probe's gauges are back to normal
            wait_until(lambda: (lambda m: m["dutydesk_probe_buffer_depth"] <= 5
                                and m["dutydesk_probe_push_lag_seconds"] < 1.0)(
                                    probe_metrics(port)), 10, "the gauges to settle")
            after = probe_metrics(port)
            wait_until(lambda: [i.status for i in incidents(db, "check:%")] == ["resolved"],
                       10, "the check incident resolved")
            if offline:
                wait_until(lambda: [i.status for i in incidents(db, "probe:%")]
                           == ["resolved"], 10, "the probe incident resolved")
        finally:
            probe.kill()
    made_in_cut = cut / INTERVAL
    # while cut: the probe's own /metrics told of the backlog and how far the centre trailed
    assert during["dutydesk_probe_buffer_depth"] >= 0.5 * made_in_cut, probe.output()
    assert cut * 0.8 <= during["dutydesk_probe_buffer_oldest_seconds"] <= cut + 2
    assert during["dutydesk_probe_push_lag_seconds"] >= during[
        "dutydesk_probe_buffer_oldest_seconds"]
    assert after["dutydesk_probe_buffer_oldest_seconds"] < 1.0
    rows = stored(db, check_id)
    assert_each_once_in_order(db, [check_id])
    in_cut = [r for r in rows if cut_from <= r.started_at <= cut_to]
    assert len(in_cut) >= 0.5 * made_in_cut
    assert {"CRITICAL", "OK"} <= {r.status for r in in_cut}
    with db.session() as s:
        flips = s.execute(select(FlipRow.kind, FlipRow.at)
                          .where(FlipRow.check_id == check_id)).all()
    problem = [f.at for f in flips if f.kind == "problem"]
    recovery = [f.at for f in flips if f.kind == "recovery"]
    assert len(problem) == 1 and cut_from < problem[0] < cut_to  # at their real times
    assert len(recovery) == 1 and problem[0] < recovery[0] < cut_to
    assert [i.status for i in incidents(db, "check:%")] == ["resolved"]
    # one "probe offline" incident exactly when the cut outlasted the grace
    assert len(incidents(db, "probe:%")) == (1 if offline else 0)


def test_a_probe_killed_mid_push_of_a_large_backlog_loses_and_doubles_nothing(
        db: Database, centre: Centre, target: Any, tmp_path: Path) -> None:
    batch = 40
    ids, token = enrolled(db, target.url, checks=4)
    probe = ProbeProcess(centre, tmp_path / "probe", token, DUTYDESK_PROBE_BATCH=str(batch),
                         **FAST)
    probe.start()
    try:
        wait_until(lambda: last_seq(db) >= 8, 20, "first results")
        centre.stop()
        time.sleep(4.0)  # about 160 results wait: four batches and more
        at_cut = last_seq(db)
        centre.answer_delay = 1.0  # each batch is stored, its answer comes a second later
        centre.start()
        wait_until(lambda: last_seq(db) >= at_cut + 2 * batch, 20, "two batches of the backlog")
        centre.pushes_stored.clear()
        wait_until(centre.pushes_stored.is_set, 10, "a batch stored, its answer not yet sent")
        probe.kill()  # SIGKILL while the push is in flight
        centre.answer_delay = 0.0
        restarted = datetime.now(UTC)
        probe.start()  # same buffer: the unheard batch goes again, then the rest
        wait_until(lambda: sum(r.started_at > restarted for r in stored(db)) >= 20, 20,
                   "results made after the restart")
    finally:
        probe.kill(signal.SIGTERM)
    assert centre.replayed > 0, "the restarted probe sent the unheard batch again"
    assert assert_each_once_in_order(db, ids) > at_cut + 2 * batch


def test_a_probe_whose_state_directory_was_lost_goes_on_after_reenrolment(
        db: Database, centre: Centre, target: Any, tmp_path: Path) -> None:
    (check_id,), token = enrolled(db, target.url)
    state = tmp_path / "probe"
    probe = ProbeProcess(centre, state, token, **FAST)
    probe.start()
    try:
        wait_until(lambda: last_seq(db) >= 10, 20, "first results")
        probe.kill()
        shutil.rmtree(state)  # the disk was replaced
        before = last_seq(db)
        with db.session() as s:
            again = reissue_token(s, find_probe(s, "default", "kyiv-dc2"), utcnow()).secret
        probe = ProbeProcess(centre, state, again, **FAST)
        probe.start()
        # numbered 1, 2, 3... again, they would be taken for replays and dropped
        wait_until(lambda: last_seq(db) >= before + 10, 20, "results of the new buffer stored")
    finally:
        probe.kill(signal.SIGTERM)
    assert assert_each_once_in_order(db, [check_id]) == last_seq(db)
    assert "this buffer numbered only up to 0" in probe.output()  # it said why


def _frozen_copy(probe: ProbeProcess, state: Path, backup: Path) -> None:
    """A consistent copy of the probe's buffer file, taken while nothing waits in it (the
    process is stopped while the file is read)."""
    assert probe.proc is not None
    for _ in range(100):
        probe.proc.send_signal(signal.SIGSTOP)
        try:
            with sqlite3.connect(state / "probe.sqlite") as live, \
                    sqlite3.connect(backup) as copy:
                live.backup(copy)
            with sqlite3.connect(backup) as copy:
                waiting = copy.execute("SELECT count(*) FROM results").fetchone()[0]
        finally:
            probe.proc.send_signal(signal.SIGCONT)
        if waiting == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the probe's buffer was never empty")


def test_a_buffer_restored_from_a_backup_is_numbered_above_the_centre(
        db: Database, centre: Centre, target: Any, tmp_path: Path) -> None:
    # a 50 s check (0.5 s here) pushed every 0.2 s: the buffer is empty most of the time
    (check_id,), token = enrolled(db, target.url, interval=50.0)
    state = tmp_path / "probe"
    probe = ProbeProcess(centre, state, token, **FAST)
    probe.start()
    try:
        wait_until(lambda: last_seq(db) >= 3, 20, "first results")
        backup = tmp_path / "backup.sqlite"
        _frozen_copy(probe, state, backup)
        at_backup = last_seq(db)
        wait_until(lambda: last_seq(db) >= at_backup + 8, 20, "results after the backup")
        probe.kill()
        for leftover in state.glob("probe.sqlite*"):
            leftover.unlink()
        shutil.copy(backup, state / "probe.sqlite")  # same credential and checks, old numbers
        before = last_seq(db)
        restored = datetime.now(UTC)
        probe.start()
        wait_until(lambda: last_seq(db) >= before + 5, 20, "results after the restore stored")
    finally:
        probe.kill(signal.SIGTERM)
    assert "renumbered above it" in probe.output()
    assert assert_each_once_in_order(db, [check_id]) == last_seq(db)
    with db.session() as s:
        newer = s.scalar(select(func.count()).select_from(CheckResultRow).where(
            CheckResultRow.check_id == check_id, CheckResultRow.started_at > restored))
    assert newer >= 5


def test_a_change_of_checks_reaches_the_probe_within_a_second(
        db: Database, centre: Centre, target: Any, tmp_path: Path) -> None:
    (check_id,), token = enrolled(db, target.url)
    second = add_check(db, "pdu-b", target.url, interval=10.0, max_attempts=1, timeout=2.0)
    # it polls only every 30 s: only the held pull can bring the change in time
    probe = ProbeProcess(centre, tmp_path / "probe", token, **{
        **FAST, "DUTYDESK_PROBE_PULL_INTERVAL": "30"})
    probe.start()
    try:
        wait_until(lambda: len(stored(db, check_id)) >= 3, 20, "first results")
        time.sleep(1.0)  # the probe's pull is held now
        with db.session() as s:
            assign_check(s, second, find_probe(s, "default", "kyiv-dc2"))
        assigned = time.monotonic()
        wait_until(lambda: stored(db, second), 10, "a result of the new check")
        took = time.monotonic() - assigned
    finally:
        probe.kill(signal.SIGTERM)
    # seen within 0.5 s, first run within one interval, pushed within 0.2 s (not 30 s later)
    assert took < 5.0, took
