"""The check engine's Prometheus metrics (``checks.engine``), on their own registry.

``EngineMetrics.written`` updates them for every run the engine stored; the run lag histogram
uses ``LAG_BUCKETS``, as does the multi-process tally of :mod:`checks.engine_export`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from checks.result import STATUS_NAME, Status

if TYPE_CHECKING:
    from checks.store import Outcome

STATE_VALUE = {"PENDING": -1, "OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3,
               "UNREACHABLE": 4}

#: Upper bounds (seconds) of the run lag histogram; the multi-process tally uses the same.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class EngineMetrics:
    """The engine's Prometheus metrics on their own registry; :mod:`checks.engine_export`
    serves them on the app's /metrics (``dutydesk serve``) or the worker's exporter. Per-check
    gauges are labelled by slug (not exported: the web app serves those from the database)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = Counter("dutydesk_check_runs_total", "Check runs judged and stored",
                            ["type", "status"], registry=r)
        self.lag = Histogram("dutydesk_check_run_lag_seconds",
                             "Actual start minus scheduled start of a check run",
                             buckets=LAG_BUCKETS,
                             registry=r)
        self.queue_depth = Gauge("dutydesk_check_queue_depth",
                                 "Claimed runs waiting for their slot or a free probe slot",
                                 registry=r)
        self.in_flight = Gauge("dutydesk_check_in_flight", "Probes running now", registry=r)
        self.timeouts = Counter("dutydesk_check_timeouts_total",
                                "Runs cut off by the hard per-run timeout", registry=r)
        self.conflicts = Counter("dutydesk_check_write_conflicts_total",
                                 "Results dropped because the state changed meanwhile",
                                 registry=r)
        self.write_errors = Counter("dutydesk_check_write_errors_total",
                                    "Batches that could not be written", registry=r)
        self.dropped = Counter("dutydesk_check_runs_dropped_total",
                               "Claimed runs dropped unstarted because their lease was (nearly) "
                               "over, e.g. after this process was paused", registry=r)
        self.probe_success = Gauge("probe_success", "1 if the last probe was OK",
                                   ["check"], registry=r)
        self.probe_duration = Gauge("probe_duration_seconds", "Duration of the last probe",
                                    ["check"], registry=r)
        self.state = Gauge("dutydesk_check_state",
                           "Check status: -1 pending, 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, "
                           "4 UNREACHABLE", ["check"], registry=r)
        self.attempt = Gauge("dutydesk_check_attempt", "Current attempt of max_attempts",
                             ["check"], registry=r)
        #: Recent lags in seconds, for the benchmark's percentiles (bounded).
        self.recent_lags: deque[float] = deque(maxlen=200_000)
        # Labelled children, looked up once: ``.labels(...)`` validates and locks on every call,
        # which showed up in profiles at ~1,000 runs/s. Children live as long as the registry.
        self._check_gauges: dict[str, tuple[Any, Any, Any, Any]] = {}
        self._run_counters: dict[tuple[str, str], Any] = {}

    def check_gauges(self, slug: str) -> tuple[Any, Any, Any, Any]:
        """The per-check children (probe_success, probe_duration, state, attempt) of ``slug``."""
        children = self._check_gauges.get(slug)
        if children is None:
            children = self._check_gauges[slug] = (
                self.probe_success.labels(slug), self.probe_duration.labels(slug),
                self.state.labels(slug), self.attempt.labels(slug))
        return children

    def run_counter(self, check_type: str, status: str) -> Any:
        """The ``dutydesk_check_runs_total`` child of this check type and status."""
        counter = self._run_counters.get((check_type, status))
        if counter is None:
            counter = self._run_counters[(check_type, status)] = self.runs.labels(check_type,
                                                                                  status)
        return counter

    def written(self, outcomes: Iterable[Outcome]) -> None:
        """Count each stored run and set its check's gauges (success, duration, state,
        attempt)."""
        for outcome in outcomes:
            slug, result, state = outcome.claim.slug, outcome.result, outcome.transition.state
            self.run_counter(outcome.claim.type, STATUS_NAME[result.status]).inc()
            success, duration, state_gauge, attempt = self.check_gauges(slug)
            success.set(1 if result.status is Status.OK else 0)
            duration.set(result.duration)
            state_gauge.set(STATE_VALUE.get(state.display_status, 3))
            attempt.set(state.attempt)
