"""Several engine processes share the checks of one database: each runs its part, every check
runs, their counters add up; the process count comes from DUTYDESK_CHECK_PROCESSES."""

from __future__ import annotations

import os

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from checks.engine import Engine, EngineConfig
from checks.engine_export import register_engine_metrics
from checks.models import CheckResultRow
from checks.store import CheckStore
from checks.workers import EngineProcesses, engine_runner, processes_from_env
from dutydesk.core.db import Database, utcnow
from tests.checks.engine_helpers import add_check, switchable_target, wait_for_version

FAST = EngineConfig(claim_interval=0.05, flush_interval=0.05, context_refresh=0.5)


@pytest.mark.parametrize(("value", "expected"), [
    (None, 1), ("", 1), ("3", 3), ("auto", max(1, os.cpu_count() or 1)), (" 2 ", 2)])
def test_the_process_count_comes_from_the_environment(value: str | None, expected: int) -> None:
    environ = {} if value is None else {"DUTYDESK_CHECK_PROCESSES": value}
    assert processes_from_env(environ) == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "65", "1.5"])
def test_a_bad_process_count_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="DUTYDESK_CHECK_PROCESSES must be a whole number"):
        processes_from_env({"DUTYDESK_CHECK_PROCESSES": value})


def test_one_process_means_the_engine_runs_inside_the_worker(db: Database) -> None:
    assert isinstance(engine_runner(db, {}), Engine)
    assert isinstance(engine_runner(db, {"DUTYDESK_CHECK_PROCESSES": "2"}), EngineProcesses)


@pytest.mark.slow
def test_two_processes_run_every_check_once_per_request_and_count_together(
        db: Database) -> None:
    with switchable_target() as target:
        ids = [add_check(db, f"w{i}", target.url) for i in range(6)]
        store = CheckStore(db)
        for check_id in ids:
            assert store.request_run(check_id, utcnow())
        engines = EngineProcesses(db.url, 2, FAST)
        engines.start()
        try:
            for check_id in ids:
                wait_for_version(db, check_id, 1, timeout=60)
            assert len(engines.pids()) == 2
        finally:
            engines.stop()
    with db.session() as s:
        results = s.scalars(select(CheckResultRow.check_id)).all()
    assert sorted(results) == sorted(ids)  # each once: the next runs are an hour away
    stats = engines.stats()
    assert stats["runs"] == 6
    assert stats["by_status"] == {"OK": 6}
    assert stats["by_type"] == {"http": {"OK": 6}}
    # The parent's metrics: the same names as one engine's, from what the processes reported.
    registry = CollectorRegistry(auto_describe=True)
    register_engine_metrics(registry, engines)
    assert registry.get_sample_value("dutydesk_check_runs_total",
                                     {"type": "http", "status": "OK"}) == 6
    assert registry.get_sample_value("dutydesk_check_run_lag_seconds_count") == 6
    assert registry.get_sample_value("dutydesk_check_in_flight") == 0
