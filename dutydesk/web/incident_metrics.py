"""Incident key figures on the web app's ``/metrics``, read from the database at scrape time.

Counters kept in a process only see what that process did: the web process never sees the SLA
breaches the worker records, and a restart sets everything back to zero. So these figures come
from the incident timeline, the one place every process writes to:

- ``dutydesk_incidents_total{priority,source}``: incidents opened, by the priority they opened
  with (their ``triggered`` event) and their source (check, alertmanager, pagerduty, manual);
- ``dutydesk_incident_ack_seconds``: histogram of the time from opening to the FIRST
  acknowledgement (the earliest ``acknowledged`` event);
- ``dutydesk_sla_breaches_total{priority,clock}``: ``sla_breached`` events, by the priority the
  clock was measured against and the clock (acknowledge / resolve).

Why the timeline rather than the incident's current columns: a counter must never go down, or
Prometheus takes it for a restart and ``increase()`` jumps. The current priority changes when
someone re-prioritises, and ``acknowledged_at`` is cleared by "unacknowledge" and by a reopen;
timeline events are only ever added, so every series here only grows.

Cost: three aggregate queries (answered by ``ix_incident_events_kind``), cached for
``CACHE_SECONDS`` so a burst of scrapes (several Prometheus replicas, a person reloading)
costs one query set. ``dutydesk_alerts_suppressed_total`` stays a per-process counter in
``dutydesk.pipeline``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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

from dutydesk.db import Database
from dutydesk.incidents.events import EventKind
from dutydesk.models.incidents import Incident, IncidentEventRow

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
    """The three figures from the timeline, in three aggregate queries."""
    ev = IncidentEventRow
    # Grouped by the labels: the JSON key is a bound parameter, and PostgreSQL does not see two
    # copies of ``data ->> %(param)s`` as the same expression.
    incidents = {
        (priority or "", source): count
        for priority, source, count in session.execute(
            select(
                ev.data["priority"].as_string().label("opened_priority"),
                Incident.source,
                func.count(),
            )
            .select_from(ev)
            .join(Incident, Incident.id == ev.incident_id)
            .where(ev.kind == EventKind.TRIGGERED.value)
            .group_by("opened_priority", Incident.source)
        )
    }
    first_ack = (
        select(ev.incident_id.label("incident_id"), func.min(ev.at).label("at"))
        .where(ev.kind == EventKind.ACKNOWLEDGED.value)
        .group_by(ev.incident_id)
        .subquery()
    )
    waited = _Seconds(first_ack.c.at, Incident.created_at)
    # A clock a little behind another process's may put an acknowledgement before the opening:
    # that is no wait at all, not a negative one.
    clamped = (
        select(case((waited > 0, waited), else_=0.0).label("s"))
        .select_from(first_ack)
        .join(Incident, Incident.id == first_ack.c.incident_id)
        .subquery()
    )
    seconds = clamped.c.s
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(seconds), 0.0),
            *(func.coalesce(func.sum(case((seconds <= le, 1), else_=0)), 0) for le in ACK_BUCKETS),
        ).select_from(clamped)
    ).one()
    breaches = {
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
    return IncidentFigures(
        incidents=incidents,
        ack=AckHistogram(
            buckets=tuple(int(n) for n in row[2:]), count=int(row[0]), sum_seconds=float(row[1])
        ),
        breaches=breaches,
    )


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
                with self.db.session() as s:
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
