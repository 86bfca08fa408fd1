"""Incident figures: SLA compliance, MTTA/MTTR, counts by source, service and hour, ping-pong.

Pure functions over ``IncidentRecord`` values (see ``records`` for the definitions); the
records are the incidents *opened* in the period, already narrowed by ``select``.

Statistics: the **median** is the middle value (the mean of the two middle values for an even
count); **p90** is the nearest-rank 90th percentile: the value at rank ⌈0.9 × n⌉ of the sorted
samples, so it is always one of the measured values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dutydesk.reports.period import PRIORITIES, Filters, Period
from dutydesk.reports.records import IncidentRecord, Outcome

#: Sources always listed, in this order, even with no incidents; others follow.
SOURCES = ("check", "alertmanager", "pagerduty", "manual")
NO_SERVICE = ""
WEEKDAYS = 7
HOURS = 24


def select(records: Iterable[IncidentRecord], period: Period,
           filters: Filters) -> list[IncidentRecord]:
    """The records opened in ``period`` that match ``filters``, oldest first."""
    found = []
    for r in records:
        if not period.contains(r.created_at):
            continue
        if filters.priority and r.priority != filters.priority:
            continue
        if filters.service and (r.service or "") != filters.service:
            continue
        if filters.line and filters.line not in r.lines_seen:
            continue
        if filters.engineer and not r.involves(filters.engineer):
            continue
        found.append(r)
    found.sort(key=lambda r: (r.created_at, r.id))
    return found


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]


def percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


# --- SLA compliance -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockTally:
    met: int = 0
    breached: int = 0
    open: int = 0

    @property
    def percent_met(self) -> float | None:
        """Met ÷ decided (met + breached); clocks still open are not decided yet."""
        return percent(self.met, self.met + self.breached)


@dataclass(frozen=True, slots=True)
class SlaRow:
    priority: str  # "P1".."P4", or "" for all priorities
    incidents: int
    acknowledge: ClockTally
    resolve: ClockTally


@dataclass(frozen=True, slots=True)
class Breach:
    incident_id: int
    title: str
    priority: str
    service: str
    clock: str  # "acknowledge" / "resolve"
    elapsed_s: float
    target_s: float

    @property
    def over_s(self) -> float:
        return self.elapsed_s - self.target_s


@dataclass(frozen=True, slots=True)
class SlaFigures:
    rows: tuple[SlaRow, ...]  # P1..P4, then the total
    breaches: tuple[Breach, ...]  # worst overrun first


def _tally(outcomes: Iterable[Outcome | None]) -> ClockTally:
    counts = Counter(o for o in outcomes if o is not None)
    return ClockTally(counts[Outcome.MET], counts[Outcome.BREACHED], counts[Outcome.OPEN])


def sla_compliance(records: Sequence[IncidentRecord]) -> SlaFigures:
    """Acknowledge and resolve targets met per priority (and in total), and every breach."""

    def row(priority: str, members: list[IncidentRecord]) -> SlaRow:
        return SlaRow(priority, len(members),
                      _tally(r.ack.outcome if r.ack else None for r in members),
                      _tally(r.resolve.outcome if r.resolve else None for r in members))

    rows = [row(p, [r for r in records if r.priority == p]) for p in PRIORITIES]
    rows.append(row("", list(records)))
    breaches = [
        Breach(r.id, r.title, r.priority, r.service or NO_SERVICE, name, clock.elapsed_s,
               clock.target_s)
        for r in records
        for name, clock in (("acknowledge", r.ack), ("resolve", r.resolve))
        if clock is not None and clock.outcome is Outcome.BREACHED
    ]
    breaches.sort(key=lambda b: (-b.over_s, b.incident_id, b.clock))
    return SlaFigures(tuple(rows), tuple(breaches))


# --- MTTA and MTTR ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeStats:
    """Samples in seconds: how many, median, p90."""

    count: int
    median_s: float | None
    p90_s: float | None

    @classmethod
    def of(cls, samples: Sequence[float]) -> TimeStats:
        return cls(len(samples), median(samples), p90(samples))


@dataclass(frozen=True, slots=True)
class ResponseRow:
    priority: str  # "" for all priorities
    incidents: int
    mtta: TimeStats
    mttr: TimeStats


def response_times(records: Sequence[IncidentRecord]) -> tuple[ResponseRow, ...]:
    """MTTA and MTTR (median, p90) per priority and in total (the last row)."""

    def row(priority: str, members: Sequence[IncidentRecord]) -> ResponseRow:
        acks = [s for r in members if (s := r.mtta_s) is not None]
        fixes = [s for r in members if (s := r.mttr_s) is not None]
        return ResponseRow(priority, len(members), TimeStats.of(acks), TimeStats.of(fixes))

    rows = [row(p, [r for r in records if r.priority == p]) for p in PRIORITIES]
    rows.append(row("", records))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """One week (Monday to Sunday, local) of the trend; ``start`` is its Monday."""

    start: date
    incidents: int
    mtta: TimeStats
    mttr: TimeStats


def weekly_trend(records: Sequence[IncidentRecord], period: Period) -> tuple[WeekPoint, ...]:
    """MTTA and MTTR per local week that overlaps the period (weeks with no incidents too)."""
    first = period.first_day - timedelta(days=period.first_day.weekday())
    weeks: dict[date, list[IncidentRecord]] = {}
    monday = first
    while monday <= period.last_day:
        weeks[monday] = []
        monday += timedelta(days=7)
    for r in records:
        day = period.local(r.created_at).date()
        key = day - timedelta(days=day.weekday())
        if key in weeks:
            weeks[key].append(r)
    points = []
    for monday, members in weeks.items():
        acks = [s for r in members if (s := r.mtta_s) is not None]
        fixes = [s for r in members if (s := r.mttr_s) is not None]
        points.append(WeekPoint(monday, len(members), TimeStats.of(acks), TimeStats.of(fixes)))
    return tuple(points)


# --- counts -------------------------------------------------------------------------------------


def by_source(records: Iterable[IncidentRecord]) -> tuple[tuple[str, int], ...]:
    """Incidents per source: the four known sources always, then any other, by count."""
    counts = Counter(r.source for r in records)
    known = [(s, counts.pop(s, 0)) for s in SOURCES]
    others = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(known + others)


def by_service(records: Iterable[IncidentRecord]) -> tuple[tuple[str, int], ...]:
    """Incidents per service, most first (``""``: incidents without a service)."""
    counts = Counter(r.service or NO_SERVICE for r in records)
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def hour_weekday(records: Iterable[IncidentRecord], period: Period) -> tuple[tuple[int, ...], ...]:
    """Incidents opened per local weekday (rows, Monday first) and hour of day (24 columns)."""
    grid = [[0] * HOURS for _ in range(WEEKDAYS)]
    for r in records:
        local = period.local(r.created_at)
        grid[local.weekday()][local.hour] += 1
    return tuple(tuple(row) for row in grid)


# --- reassignments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PingPong:
    incident_id: int
    title: str
    priority: str
    service: str
    reassignments: int
    hand_backs: int


@dataclass(frozen=True, slots=True)
class Reassignments:
    incidents: int  # incidents in the report
    reassigned: int  # incidents moved between lines at least once
    reassignments: int  # moves between lines
    escalations: int  # first line -> second line
    returns: int  # second line -> first line
    with_ping_pong: int  # incidents with at least one hand-back
    hand_backs: int  # moves back to a line the incident had been on
    top: tuple[PingPong, ...]  # most hand-backs first


def reassignments(records: Sequence[IncidentRecord], top: int = 10) -> Reassignments:
    """Moves between the lines, hand-backs (ping-pong), and the incidents with the most."""
    moved = [r for r in records if r.summary.line_moves]
    ranked = sorted(moved, key=lambda r: (-r.summary.hand_backs, -r.summary.line_moves, r.id))
    return Reassignments(
        incidents=len(records),
        reassigned=len(moved),
        reassignments=sum(r.summary.line_moves for r in records),
        escalations=sum(r.summary.moves_to_second_line for r in records),
        returns=sum(r.summary.moves_to_first_line for r in records),
        with_ping_pong=sum(1 for r in records if r.summary.hand_backs),
        hand_backs=sum(r.summary.hand_backs for r in records),
        top=tuple(PingPong(r.id, r.title, r.priority, r.service or NO_SERVICE,
                           r.summary.line_moves, r.summary.hand_backs) for r in ranked[:top]),
    )
