"""Power work in one data center: a maintenance window of a whole site mutes every check of
that site — run by the central engine or by a remote probe — and no check of another site;
the incident of the other site's failing check carries that site."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from checks.engine import Engine, EngineConfig
from checks.maintenance import OneOffWindow, active_window
from checks.models import CheckStateRow, FlipRow, MaintenanceWindowRow
from checks.remote import RemoteResult, judge_in_order
from checks.result import Result, Status
from checks.store import CheckStore
from checks.windows import WindowIndex, windows_for
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.site_registry import create_site
from dutydesk.incidents.jobs import process_flips
from dutydesk.incidents.models import Incident
from tests.checks.engine_helpers import add_check, runs_of, switchable_target, wait_for_runs

FAST = EngineConfig(claim_interval=0.05, flush_interval=0.05, context_refresh=0.3)


def _two_sites(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (create_site(s, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv").id,
                create_site(s, "lviv-dc1", "Lviv DC1", "Europe/Kyiv").id)


def _site_window(db: Database, site_id: int) -> None:
    now = utcnow()
    with db.session() as s:
        s.add(MaintenanceWindowRow(
            name="power work", kind="one_off", site_id=site_id,
            definition={"start": (now - timedelta(minutes=5)).isoformat(),
                        "end": (now + timedelta(hours=1)).isoformat()}))


def _run_now(db: Database, check_id: int) -> None:
    before = runs_of(db, check_id)
    assert CheckStore(db).request_run(check_id, utcnow())
    wait_for_runs(db, check_id, before + 1)


def _muted(db: Database, check_id: int) -> list[str | None]:
    with db.session() as s:
        return list(s.scalars(select(FlipRow.muted_by).where(FlipRow.check_id == check_id,
                                                             FlipRow.kind == "problem")))


def test_a_site_window_covers_every_check_of_the_site_and_only_them() -> None:
    now = utcnow()
    window = OneOffWindow(now - timedelta(minutes=1), now + timedelta(hours=1), "power")
    index = WindowIndex({}, {}, {}, {7: [window]})
    assert active_window(windows_for(index, 1, None, 7), now) is window
    assert windows_for(index, 2, None, 8) == []
    assert windows_for(index, 3, None, None) == []


def test_the_engine_mutes_the_site_in_maintenance_and_pages_for_the_other(
        db: Database, settings: Settings) -> None:
    kyiv, lviv = _two_sites(db)
    with switchable_target() as ups:
        in_kyiv = add_check(db, "ups-kyiv", ups.url, max_attempts=1, site_id=kyiv)
        in_lviv = add_check(db, "ups-lviv", ups.url, max_attempts=1, site_id=lviv)
        _site_window(db, kyiv)
        running = Engine(db, FAST)  # reads the windows when it starts
        running.start()
        try:
            for check_id in (in_kyiv, in_lviv):
                _run_now(db, check_id)
            ups.healthy = False  # both UPS fail; only Kyiv is under planned power work
            for check_id in (in_kyiv, in_lviv):
                _run_now(db, check_id)
        finally:
            running.stop()
    assert _muted(db, in_kyiv) == ["maintenance"]
    assert _muted(db, in_lviv) == [None]
    with db.session() as s:
        assert s.get(CheckStateRow, in_kyiv).in_maintenance
        assert not s.get(CheckStateRow, in_lviv).in_maintenance
    process_flips(db, settings)
    with db.session() as s:
        opened = s.execute(select(Incident.check_id, Incident.site_id)).all()
    assert opened == [(in_lviv, lviv)]  # one page, for Lviv, and it is Lviv's incident


def test_results_of_a_remote_probe_are_muted_by_their_site_window(db: Database) -> None:
    kyiv, lviv = _two_sites(db)
    in_kyiv = add_check(db, "pdu-kyiv", "http://127.0.0.1:9/", max_attempts=1, site_id=kyiv)
    in_lviv = add_check(db, "pdu-lviv", "http://127.0.0.1:9/", max_attempts=1, site_id=lviv)
    _site_window(db, kyiv)
    store = CheckStore(db)
    now = utcnow()

    def result(status: Status, ago: float) -> Any:
        return Result(status=status, started_at=now - timedelta(seconds=ago), duration=0.1,
                      message=status.name)

    batch = [RemoteResult(cid, r) for cid in (in_kyiv, in_lviv)
             for r in (result(Status.OK, 20), result(Status.CRITICAL, 10))]
    with db.session() as s:
        judge_in_order(s, store, batch, store.maintenance_windows())
    assert _muted(db, in_kyiv) == ["maintenance"]
    assert _muted(db, in_lviv) == [None]
