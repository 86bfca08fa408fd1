"""The engine's own metrics on a Prometheus registry: one engine's families without the
per-check gauges, and the same names summed from the reports of several engine processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from checks.engine import Engine
from checks.engine_export import (
    PER_CHECK_FAMILIES,
    EngineCollector,
    LagTally,
    families_from_stats,
    register_engine_metrics,
)
from checks.workers import sum_reports
from dutydesk.core.db import Database
from dutydesk.web.checks_metrics import register_check_metrics


class _Fixed(Collector):
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterator[Any]:
        yield from self.families


def _registry_of(families: list[Any]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_Fixed(families))
    return registry


def _report(runs: dict[str, dict[str, int]], **counts: int) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for statuses in runs.values():
        for status, n in statuses.items():
            by_status[status] = by_status.get(status, 0) + n
    return {"runs": sum(by_status.values()), "by_status": by_status, "by_type": runs,
            "timeouts": 0, "conflicts": 0, "write_errors": 0, "in_flight": 0, "queue_depth": 0,
            **counts}


def test_reports_of_live_and_dead_processes_sum_to_counters_by_type_and_status() -> None:
    dead = _report({"http": {"OK": 5, "CRITICAL": 1}}, timeouts=1, in_flight=7)
    live = [_report({"http": {"OK": 10}, "tcp": {"OK": 2}}, timeouts=2, write_errors=1,
                    in_flight=3, queue_depth=4),
            _report({"http": {"CRITICAL": 2}, "dns": {"UNKNOWN": 1}}, conflicts=3,
                    in_flight=1, queue_depth=0)]
    # What the supervisor keeps of a dead process: its counters, never its gauges.
    retired = sum_reports([dead], [])
    retired.pop("in_flight"), retired.pop("queue_depth")

    registry = _registry_of(families_from_stats(sum_reports([retired], live), LagTally()))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("dutydesk_check_runs_total", type="http", status="OK") == 15
    assert value("dutydesk_check_runs_total", type="http", status="CRITICAL") == 3
    assert value("dutydesk_check_runs_total", type="tcp", status="OK") == 2
    assert value("dutydesk_check_runs_total", type="dns", status="UNKNOWN") == 1
    assert value("dutydesk_check_timeouts_total") == 3
    assert value("dutydesk_check_write_conflicts_total") == 3
    assert value("dutydesk_check_write_errors_total") == 1
    assert value("dutydesk_check_in_flight") == 4  # the dead process's 7 are not running
    assert value("dutydesk_check_queue_depth") == 4


def test_reported_lags_fill_a_cumulative_histogram_with_inclusive_bounds() -> None:
    tally = LagTally()
    tally.add([0.0, 0.005, 0.006])
    tally.add([1.0, 30.0])
    registry = _registry_of(families_from_stats({}, tally))

    def bucket(le: str) -> float | None:
        return registry.get_sample_value("dutydesk_check_run_lag_seconds_bucket", {"le": le})

    assert bucket("0.005") == 2
    assert bucket("0.01") == 3
    assert bucket("0.5") == 3
    assert bucket("1.0") == 4
    assert bucket("10.0") == 4
    assert bucket("+Inf") == 5
    assert registry.get_sample_value("dutydesk_check_run_lag_seconds_count") == 5
    assert registry.get_sample_value("dutydesk_check_run_lag_seconds_sum") == pytest.approx(31.011)


def test_several_processes_expose_the_names_of_one_engine(db: Database) -> None:
    engine = Engine(db)
    one = {family.name for family in EngineCollector(engine).collect()}
    several = {family.name for family in families_from_stats({}, LagTally())}
    assert one == several
    assert not one & PER_CHECK_FAMILIES


def test_the_engine_families_sit_beside_the_database_backed_per_check_gauges(
        db: Database) -> None:
    engine = Engine(db)
    engine.metrics.run_counter("http", "OK").inc(2)
    engine.metrics.check_gauges("web-1")[0].set(1)
    registry = CollectorRegistry(auto_describe=True)
    register_check_metrics(registry, db)
    register_engine_metrics(registry, engine)  # no duplicate family: registering succeeds
    assert registry.get_sample_value("dutydesk_check_runs_total",
                                     {"type": "http", "status": "OK"}) == 2
    # probe_success comes from the database only (no check has run there): not the engine's.
    assert registry.get_sample_value("probe_success", {"check": "web-1"}) is None
