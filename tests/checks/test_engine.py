"""The engine running for real against local HTTP targets: soft/hard problems and recoveries
are stored as flips, slow checks do not hold up fast ones, heartbeats are judged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from checks.engine import Engine, EngineConfig
from checks.models import CheckResultRow, CheckRollup, CheckStateRow, FlipRow
from checks.store import CheckStore
from dutydesk.core.db import Database, utcnow
from tests.checks.engine_helpers import add_check, switchable_target, version_of, wait_for_version

FAST = EngineConfig(claim_interval=0.05, flush_interval=0.05, context_refresh=0.5)


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


def flips_of(db: Database, check_id: int) -> list[tuple[str, str | None, str]]:
    with db.session() as s:
        rows = s.scalars(select(FlipRow).where(FlipRow.check_id == check_id)
                         .order_by(FlipRow.id)).all()
        return [(r.kind, r.old_status, r.new_status) for r in rows]


def test_failing_target_goes_soft_then_hard_critical_and_recovers(
    db: Database, engine: Engine
) -> None:
    with switchable_target() as target:
        check_id = add_check(db, "web-a", target.url, max_attempts=2)
        run_now(db, check_id)
        assert state_of(db, check_id).status == "OK"

        target.healthy = False
        run_now(db, check_id)
        soft = state_of(db, check_id)
        assert (soft.status, soft.state_type, soft.attempt) == ("CRITICAL", "SOFT", 1)
        assert flips_of(db, check_id) == []  # a soft problem is not announced

        run_now(db, check_id)
        hard = state_of(db, check_id)
        assert (hard.status, hard.state_type) == ("CRITICAL", "HARD")
        assert "503" in hard.last_message
        assert flips_of(db, check_id) == [("problem", "OK", "CRITICAL")]

        target.healthy = True
        run_now(db, check_id)
        assert state_of(db, check_id).status == "OK"
        assert flips_of(db, check_id) == [("problem", "OK", "CRITICAL"),
                                          ("recovery", "CRITICAL", "OK")]
    with db.session() as s:
        stored = s.scalars(select(CheckResultRow.status).where(CheckResultRow.check_id == check_id)
                           .order_by(CheckResultRow.id)).all()
        minutes = s.scalars(select(CheckRollup).where(CheckRollup.check_id == check_id)).all()
    assert stored == ["OK", "CRITICAL", "CRITICAL", "OK"]
    assert sum(m.count for m in minutes) == 4 and sum(m.up_count for m in minutes) == 2


def test_a_hung_target_times_out_without_holding_up_a_fast_check(
    db: Database, engine: Engine
) -> None:
    with switchable_target() as slow, switchable_target() as fast:
        slow.delay = 3.0
        slow_id = add_check(db, "hung", slow.url, timeout=1.5, max_attempts=1)
        fast_id = add_check(db, "quick", fast.url)
        store = CheckStore(db)
        now = utcnow()
        store.request_run(slow_id, now)
        store.request_run(fast_id, now)
        wait_for_version(db, fast_id, 1)
        assert version_of(db, slow_id) == 0  # the fast result is in while the slow one runs
        wait_for_version(db, slow_id, 1)
    hung = state_of(db, slow_id)
    assert hung.last_status == "UNKNOWN" and "timed out after 1.5 s" in hung.last_message
    assert engine.metrics.timeouts._value.get() == 1
    assert state_of(db, fast_id).last_status == "OK"


def test_a_broken_spec_is_reported_unknown_and_the_engine_keeps_going(
    db: Database, engine: Engine
) -> None:
    with switchable_target() as target:
        broken = add_check(db, "broken", "not a url")
        fine = add_check(db, "fine", target.url)
        run_now(db, broken)
        run_now(db, fine)
    assert state_of(db, broken).last_status == "UNKNOWN"
    assert "url" in state_of(db, broken).last_message
    assert state_of(db, fine).last_status == "OK"


@pytest.mark.filterwarnings(
    # pysnmp 7.1 calls pysmi's old camelCase names when pysmi (an snmpsim dependency) is present
    "ignore:.* is deprecated. Please use .* instead.:DeprecationWarning"
)
def test_snmp_interface_checks_judge_error_rates_from_the_previous_run(
    db: Database, engine: Engine
) -> None:
    from tests.checks.snmp_agent import running_snmpsim

    with running_snmpsim() as agent:
        check_id = add_check(db, "access-switch", "", type="snmp", spec={
            "host": agent.host, "port": agent.port, "version": "2c",
            "community": "switch-access", "timeout": "2s", "retries": 0,
            "profile": "interfaces", "options": {"include": ["Gi1/0/4"]}})
        run_now(db, check_id)
        first = state_of(db, check_id).last_metrics
        assert "if10104_in_errors" in first
        assert "if10104_in_errors_per_second" not in first  # one sample gives no rate yet
        run_now(db, check_id)
        second = state_of(db, check_id).last_metrics
    # The recorded agent's counters stand still: the second run sees 0 errors per second.
    assert second["if10104_in_errors_per_second"] == 0.0
    assert second["if10104_out_errors_per_second"] == 0.0
