"""Incident key figures on the web app's ``/metrics``, read from the database at scrape time.

Counters kept in a process only see what that process did: the web process never sees the SLA
breaches the worker records, and a restart sets everything back to zero. So these figures come
from the tables every process writes to:

- ``dutydesk_incidents_total{priority,source}``: incidents opened, by the priority they opened
  with and their source (check, alertmanager, pagerduty, manual): the incidents grouped by
  priority and source, each re-prioritised one moved back to the priority its first
  ``priority_changed`` event says it had;
- ``dutydesk_incident_ack_seconds``: histogram of the time from opening to the FIRST
  acknowledgement (the earliest ``acknowledged`` event);
- ``dutydesk_sla_breaches_total{priority,clock}``: ``sla_breached`` events, by the priority the
  clock was measured against and the clock (acknowledge / resolve).

Why not simply the incident's current columns: a counter must never go down, or Prometheus
takes it for a restart and ``increase()`` jumps. The current priority changes when someone
re-prioritises, and ``acknowledged_at`` is cleared by "unacknowledge" and by a reopen; the
timeline is only ever added to, so every series here only grows.

Cost: four aggregate queries on one snapshot (the timeline ones answered by
``ix_incident_events_kind``), cached for ``CACHE_SECONDS`` so a burst of scrapes (several
Prometheus replicas, a person reloading) costs one reading; ``bench/incident_metrics.py``
measures it. ``dutydesk_alerts_suppressed_total`` stays a per-process counter in
``dutydesk.incidents.pipeline``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString
from sqlalchemy import Float, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from dutydesk.core.db import Database
from dutydesk.incidents.events import EventKind
from dutydesk.incidents.models import Incident, IncidentEventRow

log = logging.getLogger("dutydesk.metrics.incidents")
ACK_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
"""Upper bounds (seconds) of the acknowledgement histogram: 30 s … 4 h."""
CACHE_SECONDS = 10.0
"""How long one reading of the database answers scrapes."""


@dataclass(frozen=True)
class AckHistogram:
    """``buckets[i]`` incidents were first acknowledged within ``ACK_BUCKETS[i]`` seconds."""

    buckets: tuple[int, ...]
    count: int
    sum_seconds: float


@dataclass(frozen=True)
class IncidentFigures:
    incidents: Mapping[tuple[str, str], int]  # (priority, source) -> incidents opened
    ack: AckHistogram
    breaches: Mapping[tuple[str, str], int]  # (priority, clock) -> sla_breached events


# --- reading ------------------------------------------------------------------------------------


class _Seconds(FunctionElement[float]):
    """Seconds from ``start`` to ``end`` in each backend's own date arithmetic."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(_Seconds, "postgresql")
def _seconds_pg(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part() is double precision; EXTRACT() is numeric since PostgreSQL 14, and numeric
    # arithmetic made the histogram query three times slower.
    end, start = list(element.clauses)
    return f"date_part('epoch', {compiler.process(end, **kw)} - {compiler.process(start, **kw)})"


@compiles(_Seconds, "sqlite")
def _seconds_sqlite(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # julianday() is a float of days: rounded to the millisecond so 30 s is 30, not 29.999998.
    end, start = list(element.clauses)
    return (
        f"ROUND((julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)})) * 86400.0, 3)"
    )


def read_figures(session: Session) -> IncidentFigures:
    """The three figures, from one snapshot of the database (four aggregate queries)."""
    if session.get_bind().dialect.name == "postgresql":
        # One snapshot for all queries: a priority changed between two of them must not show
        # as one incident too many in one series and too few in another.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    return IncidentFigures(
        incidents=_incidents_opened(session),
        ack=_ack_histogram(session),
        breaches=_breaches(session),
    )


def _incidents_opened(session: Session) -> dict[tuple[str, str], int]:
    now_counts = {
        (priority, source): count
        for priority, source, count in session.execute(
            select(Incident.priority, Incident.source, func.count())
            .group_by(Incident.priority, Incident.source)
        )
    }
    ev = IncidentEventRow
    changes = session.execute(
        select(ev.incident_id, ev.data["from"].as_string(), Incident.priority, Incident.source)
        .join(Incident, Incident.id == ev.incident_id)
        .where(ev.kind == EventKind.PRIORITY_CHANGED.value)
        .order_by(ev.incident_id, ev.at, ev.id)
    )
    return opened_counts(now_counts, [tuple(row) for row in changes])


def opened_counts(
    now_counts: Mapping[tuple[str, str], int],
    changes: Sequence[tuple[int, str | None, str, str]],
) -> dict[tuple[str, str], int]:
    """Incidents by the priority they OPENED with, from the counts by their current priority.

    ``changes`` are the ``priority_changed`` events (incident id, from, current priority,
    source) in timeline order. Only a change of priority records one, so an incident's first
    change says what it opened with: it moves from its current series back to that one.
    """
    counts = dict(now_counts)
    seen: set[int] = set()
    for incident_id, opened_as, current, source in changes:
        if incident_id in seen or not opened_as:
            continue
        seen.add(incident_id)
        counts[(current, source)] -= 1
        counts[(opened_as, source)] = counts.get((opened_as, source), 0) + 1
    return {key: count for key, count in counts.items() if count > 0}


def _ack_histogram(session: Session) -> AckHistogram:
    ev = IncidentEventRow
    waited = _Seconds(func.min(ev.at), Incident.created_at)
    # One wait per acknowledged incident, computed inside the GROUP BY: neither database merges
    # an aggregate subquery into the outer one, so the date arithmetic runs once per incident
    # instead of once per comparison below. A clock a little behind another process's may put
    # an acknowledgement before the opening: that is no wait at all, not a negative one.
    seconds = (
        select(case((waited > 0, waited), else_=0.0).label("s"))
        .select_from(ev)
        .join(Incident, Incident.id == ev.incident_id)
        .where(ev.kind == EventKind.ACKNOWLEDGED.value)
        .group_by(ev.incident_id, Incident.created_at)
        .subquery()
        .c.s
    )
    # Each wait lands in ONE bucket (its index; len(ACK_BUCKETS) = beyond the last) and the
    # cumulative counts are added up here: one comparison chain per row instead of one sum each.
    bucket = case(
        *((seconds <= le, index) for index, le in enumerate(ACK_BUCKETS)),
        else_=len(ACK_BUCKETS),
    ).label("bucket")
    per_bucket = {
        int(index): (int(count), float(total))
        for index, count, total in session.execute(
            select(bucket, func.count(), func.sum(seconds)).group_by("bucket")
        )
    }
    return cumulative(per_bucket)


def cumulative(per_bucket: Mapping[int, tuple[int, float]]) -> AckHistogram:
    """A histogram from ``{bucket index: (incidents, seconds)}`` (index len(ACK_BUCKETS): +Inf)."""
    buckets, running = [], 0
    for index in range(len(ACK_BUCKETS)):
        running += per_bucket.get(index, (0, 0.0))[0]
        buckets.append(running)
    return AckHistogram(
        buckets=tuple(buckets),
        count=sum(count for count, _seconds in per_bucket.values()),
        sum_seconds=sum(total for _count, total in per_bucket.values()),
    )


def _breaches(session: Session) -> dict[tuple[str, str], int]:
    ev = IncidentEventRow
    # Grouped by the labels: the JSON key is a bound parameter, and PostgreSQL does not see two
    # copies of ``data ->> %(param)s`` as the same expression.
    return {
        (priority or "", clock or ""): count
        for priority, clock, count in session.execute(
            select(
                ev.data["priority"].as_string().label("breach_priority"),
                ev.data["clock"].as_string().label("breach_clock"),
                func.count(),
            )
            .where(ev.kind == EventKind.SLA_BREACHED.value)
            .group_by("breach_priority", "breach_clock")
        )
    }


# --- exposing -----------------------------------------------------------------------------------


def families(figures: IncidentFigures | None) -> list[Any]:
    """The metric families for ``figures`` (declared without samples for None)."""
    incidents = CounterMetricFamily(
        "dutydesk_incidents_total",
        "Incidents opened, by the priority they opened with and their source",
        labels=["priority", "source"],
    )
    breaches = CounterMetricFamily(
        "dutydesk_sla_breaches_total",
        "SLA clocks that reached 100 %, by the priority measured against and the clock",
        labels=["priority", "clock"],
    )
    help_ack = "Time from opening an incident to its first acknowledgement"
    if figures is None:
        return [incidents, HistogramMetricFamily("dutydesk_incident_ack_seconds", help_ack),
                breaches]
    for (priority, source), count in sorted(figures.incidents.items()):
        incidents.add_metric([priority, source], count)
    for (priority, clock), count in sorted(figures.breaches.items()):
        breaches.add_metric([priority, clock], count)
    ack = figures.ack
    buckets = [(floatToGoString(le), n) for le, n in zip(ACK_BUCKETS, ack.buckets, strict=True)]
    ack_family = HistogramMetricFamily(
        "dutydesk_incident_ack_seconds",
        help_ack,
        buckets=[*buckets, ("+Inf", ack.count)],
        sum_value=ack.sum_seconds,
    )
    return [incidents, ack_family, breaches]


class IncidentFiguresCollector(Collector):
    """Yields the incident figures, read at most once per ``ttl`` seconds."""

    def __init__(
        self,
        db: Database,
        *,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()  # concurrent scrapes wait for one reading, not run theirs
        self._read_at: float | None = None
        self._figures: IncidentFigures | None = None

    def describe(self) -> Iterator[Any]:
        # Declared without samples so registering does not touch the database.
        yield from families(None)

    def collect(self) -> Iterator[Any]:
        yield from families(self.figures())

    def figures(self) -> IncidentFigures | None:
        """The cached figures, read again once they are ``ttl`` old; None if unreadable."""
        with self._lock:
            now = self.clock()
            if self._read_at is not None and now - self._read_at < self.ttl:
                return self._figures
            try:
                with self.db.read_session() as s:
                    figures = read_figures(s)
            except SQLAlchemyError as exc:
                # A scrape must not fail as a whole because the database is away; the shell's
                # own metrics still go out and the missing samples tell the story.
                log.warning("incident metrics unavailable: %s", exc.__class__.__name__)
                return None
            self._read_at, self._figures = now, figures
            return figures


def register_incident_metrics(registry: CollectorRegistry, db: Database) -> Collector:
    """Add the collector to the app's registry (once per app)."""
    collector = IncidentFiguresCollector(db)
    registry.register(collector)
    return collector
