"""The check engine's own metrics on a Prometheus registry (the app's or the worker's).

:class:`EngineCollector` yields, at scrape time, the families of whatever runs the checks:

- one in-process :class:`~checks.engine.Engine`: its registry's families as they are;
- :class:`~checks.workers.EngineProcesses`: the same names built from what the child processes
  report about once a second (:func:`families_from_stats`, a pure function): runs by type and
  status, timeouts, write conflicts, failed batches, in-flight probes and queue depth (sums
  over the live processes), and the start-lag histogram tallied from the reported lags.

The engine's per-check gauges (``probe_success``, ``probe_duration_seconds``,
``dutydesk_check_state``, ``dutydesk_check_attempt``) are left out everywhere: the web app
serves those names from the database for every check whichever process ran it
(``dutydesk.web.checks_metrics``), and one name from two sources would clash on one registry
and mislead Prometheus across targets.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from checks.engine import Engine
from checks.engine_metrics import LAG_BUCKETS

#: Engine families the web app already serves from the database under the same names.
PER_CHECK_FAMILIES = frozenset(
    {"probe_success", "probe_duration_seconds", "dutydesk_check_state", "dutydesk_check_attempt"})

_HELP = {
    "runs": "Check runs judged and stored",
    "lag": "Actual start minus scheduled start of a check run",
    "queue_depth": "Claimed runs waiting for their slot or a free probe slot",
    "in_flight": "Probes running now",
    "timeouts": "Runs cut off by the hard per-run timeout",
    "conflicts": "Results dropped because the state changed meanwhile",
    "write_errors": "Batches that could not be written",
    "dropped": "Claimed runs dropped unstarted because their lease was (nearly) over, e.g. "
    "after this process was paused",
}


class LagTally:
    """A cumulative histogram of start lags over :data:`~checks.engine_metrics.LAG_BUCKETS`,
    fed with the lags the engine processes report (thread-safe: the supervisor's watcher adds,
    a scrape reads)."""

    def __init__(self, buckets: tuple[float, ...] = LAG_BUCKETS) -> None:
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()

    def add(self, lags: Iterable[float]) -> None:
        with self._lock:
            for lag in lags:
                # Prometheus buckets are "less than or equal": bisect_left finds the first
                # upper bound >= lag.
                self._counts[bisect.bisect_left(self.buckets, lag)] += 1
                self._sum += lag

    def snapshot(self) -> tuple[list[tuple[str, float]], float]:
        """Cumulative ``(le, count)`` pairs ending with ``+Inf``, and the sum of the lags."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        pairs, running = [], 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), counts, strict=True):
            running += count
            pairs.append((bound, float(running)))
        return pairs, total


def families_from_stats(stats: dict[str, Any], lags: LagTally) -> list[Any]:
    """The engine families, same names as one engine's, from summed process reports
    (``EngineProcesses.stats()``: ``by_type``, ``timeouts``, ``conflicts``, ``write_errors``,
    ``dropped``, ``in_flight``, ``queue_depth``) and the lag tally."""
    runs = CounterMetricFamily("dutydesk_check_runs", _HELP["runs"], labels=["type", "status"])
    for check_type, statuses in sorted(stats.get("by_type", {}).items()):
        for status, count in sorted(statuses.items()):
            runs.add_metric([check_type, status], count)
    buckets, total = lags.snapshot()
    lag = HistogramMetricFamily("dutydesk_check_run_lag_seconds", _HELP["lag"])
    lag.add_metric([], buckets, total)
    families: list[Any] = [runs, lag]
    for key, name in (("queue_depth", "dutydesk_check_queue_depth"),
                      ("in_flight", "dutydesk_check_in_flight")):
        families.append(GaugeMetricFamily(name, _HELP[key], value=stats.get(key, 0)))
    for key, name in (("timeouts", "dutydesk_check_timeouts"),
                      ("conflicts", "dutydesk_check_write_conflicts"),
                      ("write_errors", "dutydesk_check_write_errors"),
                      ("dropped", "dutydesk_check_runs_dropped")):
        families.append(CounterMetricFamily(name, _HELP[key], value=stats.get(key, 0)))
    return families


class EngineCollector(Collector):
    """Yields the engine families of ``runner`` (an ``Engine`` or anything with ``stats()``
    and a ``lag_tally``, i.e. ``EngineProcesses``) without the per-check gauges."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    def describe(self) -> Iterator[Any]:
        # Names only, so registering checks for duplicates without reading anything.
        yield from families_from_stats({}, LagTally())

    def collect(self) -> Iterator[Any]:
        if isinstance(self.runner, Engine):
            for family in self.runner.metrics.registry.collect():
                if family.name not in PER_CHECK_FAMILIES:
                    yield family
            return
        yield from families_from_stats(self.runner.stats(), self.runner.lag_tally)


def register_engine_metrics(registry: CollectorRegistry, runner: Any) -> EngineCollector:
    """Add the engine's families to ``registry``; raises ValueError when it already has them."""
    collector = EngineCollector(runner)
    registry.register(collector)
    return collector


__all__ = ["PER_CHECK_FAMILIES", "EngineCollector", "LagTally", "families_from_stats",
           "register_engine_metrics"]
