"""Alerts a duty team can trust at night, with the engine running for real on both databases
against local targets, and its flips going through the real alert pipeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from checks.engine import Engine, EngineConfig
from checks.store import CheckStore
from dutydesk.config import Settings
from dutydesk.db import Database, utcnow
from dutydesk.incidents.jobs import process_flips
from dutydesk.models.checks import CheckDependency, CheckStateRow, FlipRow
from dutydesk.models.incidents import AlertReceived, Incident
from tests.checks.engine_helpers import add_check, switchable_target, version_of, wait_for_version

FAST = EngineConfig(claim_interval=0.05, flush_interval=0.05, context_refresh=0.3)


@pytest.fixture
def engine(db: Database) -> Iterator[Engine]:
    running = Engine(db, FAST)
    running.start()
    yield running
    running.stop()


def run_now(db: Database, check_id: int) -> None:
    before = version_of(db, check_id)
    assert CheckStore(db).request_run(check_id, utcnow())
    wait_for_version(db, check_id, before + 1)


def state_of(db: Database, check_id: int) -> CheckStateRow:
    with db.session() as s:
        return s.get(CheckStateRow, check_id)


def kinds_of(db: Database, check_id: int) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(FlipRow.kind).where(FlipRow.check_id == check_id)
                              .order_by(FlipRow.id)))


def incidents_of(db: Database, check_id: int) -> list[Incident]:
    with db.session() as s:
        rows = list(s.scalars(select(Incident).where(Incident.check_id == check_id)
                              .order_by(Incident.id)))
        s.expunge_all()
        return rows


def test_a_warning_parent_does_not_hide_its_childs_critical(
    db: Database, settings: Settings, engine: Engine
) -> None:
    # The core switch answers slowly (WARNING); the UPS behind it is down (CRITICAL).
    with switchable_target() as switch, switchable_target() as ups:
        switch.delay = 0.3
        parent = add_check(db, "core-switch", switch.url, max_attempts=1,
                           spec={"url": switch.url, "warn_response_time": 0.1})
        child = add_check(db, "ups-c", ups.url, max_attempts=1)
        with db.session() as s:
            s.add(CheckDependency(child_id=child, parent_id=parent))
        run_now(db, parent)
        assert (state_of(db, parent).status, state_of(db, parent).state_type) == ("WARNING",
                                                                                  "HARD")
        ups.healthy = False
        run_now(db, child)

    seen = state_of(db, child)
    assert seen.status == "CRITICAL"  # not UNREACHABLE: the switch still forwards
    assert kinds_of(db, child) == ["problem"]
    process_flips(db, settings)
    [incident] = incidents_of(db, child)
    assert incident.title.startswith("ups-c is CRITICAL")


def test_a_child_that_counts_warning_parents_as_down_is_unreachable_and_muted(
    db: Database, settings: Settings, engine: Engine
) -> None:
    # This sensor's owner says: a WARNING switch already means the sensor cannot be trusted.
    with switchable_target() as switch, switchable_target() as sensor:
        switch.delay = 0.3
        parent = add_check(db, "edge-switch", switch.url, max_attempts=1,
                           spec={"url": switch.url, "warn_response_time": 0.1})
        child = add_check(db, "sensor-d", sensor.url, max_attempts=1, parent_up_states=["OK"])
        with db.session() as s:
            s.add(CheckDependency(child_id=child, parent_id=parent))
        run_now(db, parent)
        sensor.healthy = False
        run_now(db, child)
    assert state_of(db, child).status == "UNREACHABLE"
    assert kinds_of(db, child) == ["unreachable"]

    # A problem flip that raced the parent's (same definition in the pipeline's muter).
    with db.session() as s:
        s.add(FlipRow(check_id=child, kind="problem", old_status="OK", new_status="CRITICAL",
                      reason="CRITICAL (HARD, attempt 1/1): HTTP 503", at=utcnow()))
    process_flips(db, settings)
    assert incidents_of(db, child) == []
    with db.session() as s:
        muted = s.scalars(select(AlertReceived.muted_reason)
                          .where(AlertReceived.dedup_key == f"check:{child}")).all()
    assert muted == ["parent_down"]


