"""Calendar preview of a final schedule: weeks × days in the schedule's local time (pure).

``calendar_grid(schedule, anchor, view, names)`` returns the month (or week) holding local date
``anchor`` as rows of 7 ``Day`` values, Monday first. Each day lists the pieces of
``final_schedule`` that fall on it (cut at local midnight), gaps included, with local start and
end times, so a server-rendered table shows the schedule without any JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shifts.errors import ShiftConfigError
from shifts.localtime import local_to_utc, utc_to_local
from shifts.oncall import final_schedule
from shifts.rotation import PersonId
from shifts.schedule import Schedule

VIEWS = ("month", "week")


@dataclass(frozen=True, slots=True)
class Piece:
    start: str  # local "HH:MM"
    end: str  # local "HH:MM" ("24:00" for midnight at the day's end)
    people: tuple[str, ...]

    @property
    def gap(self) -> bool:
        return not self.people

    @property
    def overlap(self) -> bool:
        """More than one person on duty at once (shown marked on the timeline)."""
        return len(self.people) > 1

    @property
    def left(self) -> float:
        """Where the piece starts on the day's 24 h bar, in percent."""
        return _minutes(self.start) / 14.4

    @property
    def width(self) -> float:
        """How much of the day's 24 h bar the piece covers, in percent."""
        return max(_minutes(self.end) - _minutes(self.start), 0) / 14.4


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def person_colours(grid: list[list[Day]], palette: int = 8) -> dict[str, int]:
    """A colour index per person, in order of first appearance, so a person keeps one colour
    across the month (the timeline's legend)."""
    colours: dict[str, int] = {}
    for week in grid:
        for day in week:
            for piece in day.pieces:
                for person in piece.people:
                    colours.setdefault(person, len(colours) % palette)
    return colours


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    in_period: bool
    pieces: tuple[Piece, ...]


def period(anchor: date, view: str) -> tuple[date, date, date, date]:
    """(first shown day, day after the last shown, period start, period end) for the view."""
    if view not in VIEWS:
        raise ShiftConfigError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=7), first, first + timedelta(days=7)
    month_start = anchor.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    first = month_start - timedelta(days=month_start.weekday())
    last = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
    return first, last, month_start, next_month


def calendar_grid(
    schedule: Schedule, anchor: date, view: str, names: Mapping[PersonId, str]
) -> list[list[Day]]:
    """Weeks of days (module docstring)."""
    first, stop, in_start, in_end = period(anchor, view)
    zone = schedule.zone
    start_utc = local_to_utc(datetime.combine(first, time(0)), zone)
    end_utc = local_to_utc(datetime.combine(stop, time(0)), zone)
    segments = final_schedule(schedule, start_utc, end_utc, include_gaps=True)
    days: list[Day] = []
    day = first
    index = 0
    while day < stop:
        low = local_to_utc(datetime.combine(day, time(0)), zone)
        high = local_to_utc(datetime.combine(day + timedelta(days=1), time(0)), zone)
        pieces = []
        while index < len(segments) and segments[index].end <= low:
            index += 1
        probe = index
        while probe < len(segments) and segments[probe].start < high:
            seg = segments[probe]
            a, b = max(seg.start, low), min(seg.end, high)
            pieces.append(Piece(
                utc_to_local(a, zone).strftime("%H:%M"),
                "24:00" if b == high else utc_to_local(b, zone).strftime("%H:%M"),
                tuple(names.get(p, str(p)) for p in seg.people),
            ))
            probe += 1
        days.append(Day(day, in_start <= day < in_end, tuple(pieces)))
        day += timedelta(days=1)
    return [days[i:i + 7] for i in range(0, len(days), 7)]
