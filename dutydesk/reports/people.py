"""Per-engineer workload: incidents acknowledged and resolved, hours on duty, nights, weekends.

Pure. Duty comes from the shift schedules' resolution (``shifts.oncall.person_shifts`` — who
was on duty, after overrides and swaps), handed in as ``Shift`` values; hours are counted by
``shifts.fairness.tally_hours`` in the site's time zone (night 22:00–06:00 local, weekend
Saturday and Sunday). A person on two schedules at once (first line and shift lead) is counted
once for that time: each person's duty is merged across schedules first. ``shifts`` is the
number of continuous duties within the period (one running into it from before counts too).

An incident counts for the engineer who acknowledged it first and for the one who resolved it
(last); actors that are not people (``check``, ``alertmanager``…) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dutydesk.reports.period import Period
from dutydesk.reports.records import IncidentRecord
from shifts.fairness import tally_hours
from shifts.oncall import Shift


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    login: str  # lower-case e-mail, as incident actors are recorded
    name: str


@dataclass(frozen=True, slots=True)
class EngineerRow:
    login: str
    name: str
    acknowledged: int
    resolved: int
    duty: timedelta
    night: timedelta
    weekend: timedelta
    shifts: int

    @property
    def duty_hours(self) -> float:
        return self.duty.total_seconds() / 3600

    @property
    def night_hours(self) -> float:
        return self.night.total_seconds() / 3600

    @property
    def weekend_hours(self) -> float:
        return self.weekend.total_seconds() / 3600


def merged_duty(duties: Iterable[Shift], period: Period) -> dict[int, list[Shift]]:
    """Each person's duty inside the period as non-overlapping intervals, by person id."""
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    for duty in duties:
        start, end = max(duty.start, period.start), min(duty.end, period.end)
        if end <= start:
            continue
        for person in duty.people:
            spans.setdefault(int(person), []).append((start, end))
    merged: dict[int, list[Shift]] = {}
    for person, found in spans.items():
        out: list[tuple[datetime, datetime]] = []
        for start, end in sorted(found):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[person] = [Shift(s, e, (person,)) for s, e in out]
    return merged


def engineer_workload(records: Sequence[IncidentRecord], duties: Iterable[Shift],
                      people: Mapping[int, Person], period: Period,
                      engineer: str | None = None) -> tuple[EngineerRow, ...]:
    """One row per person with duty in the period or incidents handled, by name.

    ``engineer`` (a login) keeps only that person's row.
    """
    by_login = {p.login.lower(): p for p in people.values()}
    acked: dict[int, int] = {}
    resolved: dict[int, int] = {}
    for r in records:
        if r.acknowledged_by in by_login:
            person_id = by_login[r.acknowledged_by].id
            acked[person_id] = acked.get(person_id, 0) + 1
        if r.resolved_by in by_login:
            person_id = by_login[r.resolved_by].id
            resolved[person_id] = resolved.get(person_id, 0) + 1
    hours: dict[int, list[timedelta | int]] = {}
    for person, shifts in merged_duty(duties, period).items():
        if person not in people:
            continue
        total = [timedelta(0), timedelta(0), timedelta(0), 0]
        for month in tally_hours(shifts, period.zone):
            total[0] += month.total
            total[1] += month.night
            total[2] += month.weekend
            total[3] += month.shifts
        hours[person] = total
    rows = []
    for person_id in set(acked) | set(resolved) | set(hours):
        person = people[person_id]
        if engineer and person.login.lower() != engineer.lower():
            continue
        duty, night, weekend, count = hours.get(
            person_id, [timedelta(0), timedelta(0), timedelta(0), 0])
        rows.append(EngineerRow(person.login, person.name, acked.get(person_id, 0),
                                resolved.get(person_id, 0), duty, night, weekend, count))
    rows.sort(key=lambda row: (row.name.lower(), row.login))
    return tuple(rows)
