"""Availability per service: measured by the checks, announced by status-page notices.

Pure. One row per service name; a status-page service joins the row of the check/incident
service with the same name (letter case ignored), otherwise it has a row of its own.

From the checks (``RollupRecord``: the check rollups of the period, one resolution)
    For every bucket the service is *down* for the share of results that failed on its worst
    check (the status page also shows a service as bad as its worst check):
    ``down = max over the service's checks of (count − up_count) / count``. Then
    *down minutes* = Σ down × bucket minutes, *measured minutes* = Σ bucket minutes (buckets
    with results), *uptime %* = 100 × (1 − down minutes / measured minutes).

From the notices (published incident notices, as on the status page)
    Outage intervals clipped to the period (open ones run until ``now``), merged per severity
    with a moment in both counted as major, by ``shifts.notices.uptime.uptime_history``: major
    and partial minutes, and uptime % with partial outages weighted 0.3 like the status page.

Worst incidents
    The service's incidents of the report, longest first (open time: opening to resolution, or
    to ``now`` while open), at most three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from dutydesk.reports.period import Period
from dutydesk.reports.records import IncidentRecord
from shifts.notices.uptime import OutageInterval, uptime_history

WORST = 3


@dataclass(frozen=True, slots=True)
class RollupRecord:
    """One check rollup bucket (``minutes`` long) of a check belonging to ``service``."""

    service: str
    check_id: int
    bucket_start: datetime
    minutes: float
    count: int
    up_count: int


@dataclass(frozen=True, slots=True)
class WorstIncident:
    incident_id: int
    title: str
    priority: str
    minutes: float


@dataclass(frozen=True, slots=True)
class AvailabilityRow:
    service: str
    measured_minutes: float
    down_minutes: float
    checks_uptime: float | None
    major_minutes: float | None  # None: not a status-page service
    partial_minutes: float | None
    notices_uptime: float | None
    incidents: int
    worst: tuple[WorstIncident, ...]


def checks_downtime(rollups: Iterable[RollupRecord],
                    measured: Mapping[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """``{service: (measured minutes, down minutes)}`` from the rollups (module docstring).

    A healthy bucket adds measured minutes but no down time, so a caller that counted the
    measured minutes per service already (``measured``) may pass only the buckets with failed
    results; the figures are the same.
    """
    worst: dict[tuple[str, datetime], tuple[float, float]] = {}
    for r in rollups:
        if r.count <= 0 or not r.service:
            continue
        key = (r.service, r.bucket_start)
        down = (r.count - r.up_count) / r.count
        minutes, seen = worst.get(key, (r.minutes, 0.0))
        worst[key] = (max(minutes, r.minutes), max(seen, down))
    totals: dict[str, tuple[float, float]] = {}
    for (service, _start), (minutes, down) in worst.items():
        seen_minutes, lost = totals.get(service, (0.0, 0.0))
        totals[service] = (seen_minutes + minutes, lost + down * minutes)
    if measured is not None:
        totals = {service: (minutes, totals.get(service, (0.0, 0.0))[1])
                  for service, minutes in measured.items() if minutes > 0}
    return totals


def notice_outage(intervals: Sequence[OutageInterval], period: Period,
                  now: datetime) -> tuple[float, float, float | None] | None:
    """(major minutes, partial minutes, uptime %) in the period; None if it has not begun."""
    until = min(period.end, now)
    if until <= period.start:
        return None
    days = (until.astimezone(period.zone).date() - period.first_day).days + 1
    history = uptime_history(intervals, until, period.zone, days=days,
                             tracked_since=period.start)
    return (history.major_seconds / 60, history.partial_seconds / 60, history.uptime_percent)


def availability(rollups: Iterable[RollupRecord], status_services: Iterable[str],
                 outages: Mapping[str, Sequence[OutageInterval]],
                 records: Sequence[IncidentRecord], period: Period, now: datetime,
                 service: str | None = None,
                 measured_minutes: Mapping[str, float] | None = None,
                 ) -> tuple[AvailabilityRow, ...]:
    """Rows per service, least available first (services without figures last, by name).

    ``status_services`` are the status page's service names, ``outages`` their outage
    intervals by name; ``service`` keeps only that service's row; ``measured_minutes`` see
    ``checks_downtime``.
    """
    measured = checks_downtime(rollups, measured_minutes)
    names: dict[str, str] = {}  # casefolded -> shown name; check services name the row
    for name in [*measured, *(r.service for r in records if r.service), *status_services]:
        names.setdefault(name.casefold(), name)
    announced: dict[str, tuple[float, float, float | None] | None] = {}
    for name in status_services:
        announced[name.casefold()] = notice_outage(outages.get(name, ()), period, now)
    incidents: dict[str, list[IncidentRecord]] = {}
    for r in records:
        if r.service:
            incidents.setdefault(r.service.casefold(), []).append(r)
    rows = []
    for key, name in names.items():
        if service and key != service.casefold():
            continue
        checks = [v for n, v in measured.items() if n.casefold() == key]
        minutes = sum(m for m, _ in checks)
        down = sum(d for _, d in checks)
        uptime = None if minutes <= 0 else 100.0 * (1 - down / minutes)
        notice = announced.get(key)
        mine = sorted(incidents.get(key, []), key=lambda r: (-r.duration_s(now), r.id))
        rows.append(AvailabilityRow(
            service=name,
            measured_minutes=minutes,
            down_minutes=down,
            checks_uptime=uptime,
            major_minutes=notice[0] if notice else None,
            partial_minutes=notice[1] if notice else None,
            notices_uptime=notice[2] if notice else None,
            incidents=len(incidents.get(key, [])),
            worst=tuple(WorstIncident(r.id, r.title, r.priority, r.duration_s(now) / 60)
                        for r in mine[:WORST]),
        ))

    def order(row: AvailabilityRow) -> tuple[float, str]:
        known = [u for u in (row.checks_uptime, row.notices_uptime) if u is not None]
        return (min(known) if known else 101.0, row.service.casefold())

    rows.sort(key=order)
    return tuple(rows)
