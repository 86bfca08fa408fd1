"""Fairness: hours on duty per person per month, with nights and weekends counted separately.

Hours are **real elapsed time**: the 13-hour night when clocks go back counts 13 h. Months,
days, nights and weekends are judged in the schedule's local time:

* ``total`` — all time on duty;
* ``night`` — the part inside the night window (default 22:00–06:00 local; a window whose end is
  at or before its start runs past midnight);
* ``weekend`` — the part on weekend days (default Saturday and Sunday, local midnight to
  midnight; configurable, e.g. ``{4, 5}`` for Friday–Saturday).

Night and weekend are each a part of ``total``; time that is both counts in both. Time is
judged by the local calendar day it falls on: the Friday→Saturday night is 2 h of night on
Friday (not weekend) and 6 h of night on Saturday (weekend too). A month is the local calendar
month the time falls in; a duty crossing midnight at the month's end is split.
``shifts`` counts each continuous duty once, in the month where it (or the report) starts.
When two people are on duty at once, each gets the hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from shifts.errors import ShiftConfigError
from shifts.localtime import local_to_utc, require_utc, utc_to_local
from shifts.oncall import Shift, person_shifts
from shifts.rotation import WEEKEND, PersonId, TimeWindow
from shifts.schedule import Schedule

__all__ = ["DEFAULT_NIGHT", "DutyHours", "NightWindow", "fairness_report", "tally_hours"]


@dataclass(frozen=True, slots=True)
class NightWindow:
    """Local time of day that counts as night; ``end <= start`` runs past midnight."""

    start: time = time(22)
    end: time = time(6)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ShiftConfigError(
                    f"night window {name} must be a local time of day such as 22:00, got {value!r}"
                )
        if self.start == self.end:
            raise ShiftConfigError(
                f"night window must have a length, got {self.start:%H:%M}–{self.end:%H:%M}"
            )


DEFAULT_NIGHT = NightWindow()


@dataclass(frozen=True, slots=True)
class DutyHours:
    """One person's duty in one local month (``"2026-03"``)."""

    person: PersonId
    month: str
    total: timedelta
    night: timedelta
    weekend: timedelta
    shifts: int

    @property
    def total_hours(self) -> float:
        return self.total.total_seconds() / 3600

    @property
    def night_hours(self) -> float:
        return self.night.total_seconds() / 3600

    @property
    def weekend_hours(self) -> float:
        return self.weekend.total_seconds() / 3600


def tally_hours(
    shifts: Iterable[Shift],
    zone: ZoneInfo,
    *,
    night: NightWindow = DEFAULT_NIGHT,
    weekend_days: Iterable[int] = WEEKEND,
) -> list[DutyHours]:
    """Sum on-duty time per person and local month (see the module docstring).

    ``shifts`` are periods with the people on them, e.g. ``final_schedule`` segments or
    ``person_shifts``; each listed shift counts once toward ``DutyHours.shifts`` for each
    person on it, in the month its start falls in. Rows come ordered by month, then person.
    """
    weekend = frozenset(weekend_days)
    if not all(isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6
               for day in weekend):
        raise ShiftConfigError(
            f"weekend days must be 0 (Monday) … 6 (Sunday), got {sorted(weekend, key=str)}"
        )
    night_window = TimeWindow(night.start, night.end)
    rows: dict[tuple[str, PersonId], list] = {}
    for shift in shifts:
        start = require_utc(shift.start, "shift start")
        end = require_utc(shift.end, "shift end")
        if not shift.people or end <= start:
            continue
        first_month = utc_to_local(start, zone).strftime("%Y-%m")
        for person in shift.people:
            row = rows.setdefault((first_month, person), [timedelta(0)] * 3 + [0])
            row[3] += 1
        for low, high in _pieces(start, end, zone, night_window):
            local = utc_to_local(low, zone)
            month = local.strftime("%Y-%m")
            is_night = _inside(low, night_window, zone)
            is_weekend = local.weekday() in weekend
            for person in shift.people:
                row = rows.setdefault((month, person), [timedelta(0)] * 3 + [0])
                row[0] += high - low
                if is_night:
                    row[1] += high - low
                if is_weekend:
                    row[2] += high - low
    ordered = sorted(rows.items(), key=lambda item: (item[0][0], str(item[0][1])))
    return [
        DutyHours(person, month, total, night_time, weekend_time, count)
        for (month, person), (total, night_time, weekend_time, count) in ordered
    ]


def fairness_report(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    night: NightWindow = DEFAULT_NIGHT,
    weekend_days: Iterable[int] = WEEKEND,
) -> list[DutyHours]:
    """Hours per person and month of ``schedule`` within [start, end) (UTC).

    Built from each person's continuous duties (``person_shifts``) cut to the period, so a
    duty that continues across the period's edges only counts the part inside it.
    """
    start = require_utc(start, "start")
    end = require_utc(end, "end")
    duties = [
        Shift(max(duty.start, start), min(duty.end, end), duty.people)
        for duty in person_shifts(schedule, start, end)
    ]
    return tally_hours(duties, schedule.zone, night=night, weekend_days=weekend_days)


def _pieces(
    start: datetime, end: datetime, zone: ZoneInfo, night_window: TimeWindow
) -> list[tuple[datetime, datetime]]:
    """Cut [start, end) at local midnights and night-window edges."""
    cuts = {start, end}
    day = utc_to_local(start, zone).date() - timedelta(days=1)
    last = utc_to_local(end, zone).date() + timedelta(days=1)
    while day <= last:
        cuts.add(local_to_utc(datetime.combine(day, time(0)), zone))
        interval = night_window.intervals_on(day, zone)
        if interval is not None:
            cuts.update(interval)
        day += timedelta(days=1)
    ordered = sorted(cut for cut in cuts if start <= cut <= end)
    return [(low, high) for low, high in pairwise(ordered) if high > low]


def _inside(at: datetime, window: TimeWindow, zone: ZoneInfo) -> bool:
    today = utc_to_local(at, zone).date()
    for day in (today - timedelta(days=1), today):
        interval = window.intervals_on(day, zone)
        if interval is not None and interval[0] <= at < interval[1]:
            return True
    return False
