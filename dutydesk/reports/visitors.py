"""Visitors per client per month (pure).

A *visit* is a person let in (status on site or left), counted in the local month of its
check-in; *hours on site* are those visits' time inside (check-in to check-out, or to ``now``
while still inside), also in the check-in month. *Denied* counts refusals at the desk, in the
month they were recorded. Visitor figures are not narrowed by the incident filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dutydesk.reports.period import Period

ADMITTED = ("on_site", "left")


@dataclass(frozen=True, slots=True)
class VisitRecord:
    client: str
    status: str
    recorded_at: datetime
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VisitorRow:
    month: str  # "2026-11", local
    client: str
    visits: int
    hours_on_site: float
    denied: int


def visitors_per_client(visits: Iterable[VisitRecord], period: Period,
                        now: datetime) -> tuple[VisitorRow, ...]:
    """Rows by month, then client name."""
    rows: dict[tuple[str, str], list[float]] = {}
    for v in visits:
        if v.status in ADMITTED and v.checked_in_at and period.contains(v.checked_in_at):
            month = period.local(v.checked_in_at).strftime("%Y-%m")
            row = rows.setdefault((month, v.client), [0, 0.0, 0])
            row[0] += 1
            end = v.checked_out_at or now
            row[1] += max(0.0, (end - v.checked_in_at).total_seconds()) / 3600
        elif v.status == "denied" and period.contains(v.recorded_at):
            month = period.local(v.recorded_at).strftime("%Y-%m")
            rows.setdefault((month, v.client), [0, 0.0, 0])[2] += 1
    return tuple(
        VisitorRow(month, client, int(visits), hours, int(denied))
        for (month, client), (visits, hours, denied) in sorted(
            rows.items(), key=lambda item: (item[0][0], item[0][1].casefold()))
    )
