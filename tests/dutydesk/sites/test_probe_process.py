"""A real centre and a real probe process on loopback: the link is cut and restored, the probe is
killed mid-push; every result the probe made is stored once, in order."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from checks.models import CheckResultRow, CheckStateRow, FlipRow
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.models import Incident
from dutydesk.sites.health import watch_probes
from dutydesk.sites.models import Probe
from dutydesk.sites.service import assign_check, create_probe, find_probe, revoke_probe
from tests.checks.engine_helpers import add_check, switchable_target

from .probe_harness import Centre, ProbeProcess, free_port, wait_until

INTERVAL = 0.3  # the check's 5 s, scaled down in the probe process


@pytest.fixture
def target() -> Any:
    with switchable_target() as t:
        yield t


@pytest.fixture
def centre(app: Any) -> Any:
    c = Centre(app)
    c.start()
    yield c
    c.stop()


def _enrolled_check(db: Database, url: str) -> tuple[int, str]:
    check_id = add_check(db, "ups-a", url, interval=5.0, max_attempts=1, timeout=2.0)
    with db.session() as s:
        token = create_probe(s, "default", "kyiv-dc2", utcnow()).secret
        assign_check(s, check_id, find_probe(s, "default", "kyiv-dc2"))
    return check_id, token


def _stored(db: Database, check_id: int) -> list[Any]:
    with db.session() as s:
        return s.execute(select(CheckResultRow.started_at, CheckResultRow.status)
                         .where(CheckResultRow.check_id == check_id)
                         .order_by(CheckResultRow.id)).all()


def _probe_metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def _last_seq(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(Probe.last_seq)) or 0


def _assert_once_in_order(db: Database, check_id: int) -> list[Any]:
    rows = _stored(db, check_id)
    times = [r.started_at for r in rows]
    assert times == sorted(times) and len(set(times)) == len(times), "stored out of order/twice"
    # the probe numbered every result 1..N; the centre stored each once, none lost
    assert len(rows) == _last_seq(db)
    return rows


def test_results_made_while_the_centre_was_down_arrive_once_in_order(
        db: Database, settings: Any, centre: Centre, target: Any, tmp_path: Path) -> None:
    check_id, token = _enrolled_check(db, target.url)
    with db.session() as s:
        s.scalar(select(Probe)).grace_seconds = 2.0  # scaled down as the intervals are
    metrics_port = free_port()
    probe = ProbeProcess(centre, tmp_path / "probe", token,
                         DUTYDESK_PROBE_METRICS_PORT=str(metrics_port))
    probe.start()
    try:
        wait_until(lambda: len(_stored(db, check_id)) >= 3, 20, "first results")
        centre.stop()
        cut_from = datetime.now(UTC)
        time.sleep(1.0)
        target.healthy = False  # a problem that begins and ends during the cut
        time.sleep(1.5)
        target.healthy = True
        time.sleep(1.0)
        cut_to = datetime.now(UTC)
        during_cut = _probe_metrics(metrics_port)
        watch_probes(db, settings)  # the centre's job: the cut outlasted the probe's grace
        with db.session() as s:
            shown = s.execute(select(CheckStateRow.status, CheckStateRow.last_message)
                              .where(CheckStateRow.check_id == check_id)).one()
        centre.start()
        wait_until(lambda: any(r.started_at > cut_to for r in _stored(db, check_id)), 20,
                   "the backlog replayed")
    finally:
        probe.kill()
    assert shown.status == "UNKNOWN" and "no data from probe kyiv-dc2 since" in shown.last_message
    watch_probes(db, settings)  # heard again: the probe's incident resolves
    with db.session() as s:
        probe_incidents = s.execute(select(Incident.status)
                                    .where(Incident.dedup_key.like("probe:%"))).scalars().all()
        assert s.get(CheckStateRow, check_id).status == "OK"
    assert probe_incidents == ["resolved"]
    # the probe's own /metrics told of the backlog while the link was down
    assert during_cut["dutydesk_probe_buffer_depth"] >= 5
    assert during_cut["dutydesk_probe_buffer_oldest_seconds"] >= 2
    rows = _assert_once_in_order(db, check_id)
    during = [r for r in rows if cut_from <= r.started_at <= cut_to]
    assert len(during) >= 0.6 * (cut_to - cut_from).total_seconds() / INTERVAL, probe.output()
    assert {"CRITICAL", "OK"} <= {r.status for r in during}
    with db.session() as s:
        flips = s.execute(select(FlipRow.kind, FlipRow.at).where(FlipRow.check_id == check_id)
                          ).all()
    problem = [f.at for f in flips if f.kind == "problem"]
    recovery = [f.at for f in flips if f.kind == "recovery"]
    assert len(problem) == 1 and cut_from < problem[0] < cut_to  # as if there was no cut
    assert len(recovery) == 1 and problem[0] < recovery[0] < cut_to


def test_a_probe_killed_mid_push_loses_and_doubles_nothing(
        db: Database, centre: Centre, target: Any, tmp_path: Path) -> None:
    check_id, token = _enrolled_check(db, target.url)
    probe = ProbeProcess(centre, tmp_path / "probe", token)
    probe.start()
    try:
        wait_until(lambda: len(_stored(db, check_id)) >= 3, 20, "first results")
        centre.answer_delay = 2.0  # stored, but the answer comes late
        centre.pushes_stored.clear()
        wait_until(centre.pushes_stored.is_set, 10, "a push stored")
        probe.kill()  # SIGKILL before it hears the acknowledgement
        centre.answer_delay = 0.0
        stored_at_kill = _last_seq(db)
        probe.start()  # same buffer: it sends the acknowledged-but-unheard results again
        wait_until(lambda: _last_seq(db) >= stored_at_kill + 5, 20, "results after restart")
    finally:
        probe.kill()
    assert centre.replayed > 0, "the restarted probe sent the unheard batch again"
    _assert_once_in_order(db, check_id)


def test_a_revoked_probe_stops_with_a_clear_message_and_keeps_its_buffer(
        db: Database, centre: Centre, target: Any, tmp_path: Path) -> None:
    check_id, token = _enrolled_check(db, target.url)
    probe = ProbeProcess(centre, tmp_path / "probe", token)
    probe.start()
    try:
        wait_until(lambda: len(_stored(db, check_id)) >= 2, 20, "first results")
        with db.session() as s:
            revoke_probe(s, s.scalar(select(Probe)), utcnow())
        assert probe.proc is not None
        wait_until(lambda: probe.proc.poll() is not None, 10, "the probe to stop")
    finally:
        probe.kill()
    assert probe.proc.returncode != 0
    assert "refused this probe's credential" in probe.output()
