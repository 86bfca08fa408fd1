"""Maintenance windows: one-off and recurring (weekly, monthly, cron), each in an IANA time zone.

During an active window checks keep running and recording, but their flips are muted
(see :mod:`checks.state`). This module only answers "is a window active now?" and "when are the
next ones?"; it is pure and takes ``now``/``after`` as timezone-aware datetimes.

Time semantics (DST-correct)
    Recurring windows are defined in local wall-clock time of their ``zone`` ("every Sunday at
    02:30 Europe/Kyiv"), so they start at the same local time all year, and their UTC start moves
    by an hour across a DST change. ``duration`` is elapsed (real) time: a 3 h window lasts 3 h
    even on the night the clocks change, so its local end time may differ by an hour that night.
    A local start time that does not exist (skipped by a spring-forward change, e.g. 02:30 in New
    York on 2024-03-10) starts at the same offset after the change, i.e. as many minutes past the
    jump as it was meant to be (03:30 local); a local start time that happens twice (fall-back)
    starts at its first occurrence. This matches how cron daemons run jobs scheduled in a gap.

One-off windows are given as aware instants (or local times plus zone with
:meth:`OneOffWindow.from_local`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from checks.cron import CronError, CronExpression
from checks.schedule import NaiveDatetimeError, ensure_utc

__all__ = [
    "CronError",
    "CronWindow",
    "MaintenanceError",
    "MaintenanceWindow",
    "MonthlyWindow",
    "Occurrence",
    "OneOffWindow",
    "WeeklyWindow",
    "active_occurrence",
    "active_window",
    "next_occurrences",
]

MAX_RECURRING_DURATION = timedelta(days=31)
MAX_ONE_OFF_DURATION = timedelta(days=366)
MAX_OCCURRENCES = 1000
# How far ahead to look for the next start: covers "Feb 29" crons across a skipped leap year.
_SEARCH_DAYS = 366 * 9
# Larger than any DST jump, so a start converted from a later day can never precede one we yield.
_DST_MARGIN = timedelta(hours=3)
_WEEKDAY_NAMES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


class MaintenanceError(ValueError):
    """An invalid maintenance window; the message names the field, value and what is allowed."""


def _zone(zone: object) -> ZoneInfo:
    if not isinstance(zone, str) or not zone:
        raise MaintenanceError(f"zone must be an IANA time zone name, got {zone!r}")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MaintenanceError(
            f"zone {zone!r} is not a known IANA time zone (e.g. 'Europe/Kyiv', 'UTC')"
        ) from None


def _duration(value: object, limit: timedelta) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, timedelta | int | float):
        raise MaintenanceError(f"duration must be a timedelta or seconds, got {value!r}")
    duration = value if isinstance(value, timedelta) else timedelta(seconds=value)
    if duration <= timedelta(0):
        raise MaintenanceError(f"duration must be longer than zero, got {duration}")
    if duration > limit:
        raise MaintenanceError(f"duration must be at most {limit.days} days, got {duration}")
    return duration


def _start_time(value: object) -> time:
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value)
        except ValueError:
            raise MaintenanceError(
                f"start_time must be a local time like '02:30', got {value!r}"
            ) from None
    if not isinstance(value, time) or value.tzinfo is not None:
        raise MaintenanceError(
            f"start_time must be a local wall-clock time without zone, got {value!r}"
        )
    return value


def _weekday(value: object, field: str) -> int:
    if isinstance(value, str) and value[:3].lower() in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES[value[:3].lower()]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    raise MaintenanceError(
        f"{field} must be 0-6 (Monday=0) or a day name like 'sun', got {value!r}"
    )


def _local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    # fold=0: a skipped time is read with the offset before the jump (lands after it), a repeated
    # time means its first occurrence. See the module docstring.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One concrete maintenance period, ``start`` inclusive to ``end`` exclusive, in UTC."""

    window: MaintenanceWindow
    start: datetime
    end: datetime

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end


class _Recurring:
    """Shared occurrence logic of the calendar-based windows (weekly, monthly, cron)."""

    __slots__ = ()

    def _local_starts_on(self, day: date) -> Iterable[time]:
        raise NotImplementedError

    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)  # type: ignore[attr-defined]

    def _starts(self, after: datetime) -> Iterator[datetime]:
        """UTC start instants at or after ``after``, in increasing order, without duplicates."""
        tz = self._tz()
        day = after.astimezone(tz).date() - timedelta(days=1)
        pending: list[datetime] = []
        last: datetime | None = None
        for _ in range(_SEARCH_DAYS):
            for at in self._local_starts_on(day):
                heapq.heappush(pending, _local_to_utc(day, at, tz))
            day += timedelta(days=1)
            safe_before = _local_to_utc(day, time(0), tz) - _DST_MARGIN
            while pending and pending[0] < safe_before:
                start = heapq.heappop(pending)
                if start >= after and start != last:
                    last = start
                    yield start

    def occurrences(self, after: datetime) -> Iterator[Occurrence]:
        """Occurrences starting at or after ``after``, earliest first."""
        duration: timedelta = self.duration  # type: ignore[attr-defined]
        for start in self._starts(ensure_utc(after, "after")):
            yield Occurrence(self, start, start + duration)  # type: ignore[arg-type]

    def occurrence_at(self, now: datetime) -> Occurrence | None:
        """The occurrence covering ``now`` (the one ending last if several overlap), or None."""
        now = ensure_utc(now, "now")
        duration: timedelta = self.duration  # type: ignore[attr-defined]
        found = None
        for occurrence in self.occurrences(now - duration + timedelta(microseconds=1)):
            if occurrence.start > now:
                break
            found = occurrence
        return found


@dataclass(frozen=True, slots=True)
class OneOffWindow:
    """A single window from ``start`` to ``end`` (aware datetimes, stored in UTC)."""

    start: datetime
    end: datetime
    name: str = ""

    def __post_init__(self) -> None:
        try:
            start = ensure_utc(self.start, "start")
            end = ensure_utc(self.end, "end")
        except NaiveDatetimeError as exc:
            raise MaintenanceError(str(exc)) from None
        if end <= start:
            raise MaintenanceError(f"end ({end.isoformat()}) must be after start "
                                   f"({start.isoformat()})")
        _duration(end - start, MAX_ONE_OFF_DURATION)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @classmethod
    def from_local(cls, start: datetime, end: datetime, zone: str, name: str = "") -> OneOffWindow:
        """Build from naive local wall-clock times in ``zone`` (same DST rules as recurring)."""
        tz = _zone(zone)
        for label, value in (("start", start), ("end", end)):
            if value.tzinfo is not None:
                raise MaintenanceError(f"{label} must be a local time without zone, got {value}")
        return cls(
            _local_to_utc(start.date(), start.time(), tz),
            _local_to_utc(end.date(), end.time(), tz),
            name,
        )

    def occurrences(self, after: datetime) -> Iterator[Occurrence]:
        if self.start >= ensure_utc(after, "after"):
            yield Occurrence(self, self.start, self.end)

    def occurrence_at(self, now: datetime) -> Occurrence | None:
        occurrence = Occurrence(self, self.start, self.end)
        return occurrence if occurrence.covers(ensure_utc(now, "now")) else None


@dataclass(frozen=True, slots=True)
class WeeklyWindow(_Recurring):
    """Every week on ``weekdays`` at local ``start_time`` (a ``time`` or "HH:MM").

    ``weekdays`` accepts any iterable of 0-6 (Monday = 0) or day names ("sun", "Monday"), or a
    single one; it is stored as a frozenset of ints. ``duration`` is a timedelta or seconds.
    """

    weekdays: frozenset[int]
    start_time: time
    duration: timedelta
    zone: str
    name: str = ""

    def __post_init__(self) -> None:
        raw = self.weekdays
        items = [raw] if isinstance(raw, str | int) else list(raw)
        if not items:
            raise MaintenanceError("weekdays must name at least one day, got none")
        object.__setattr__(self, "weekdays", frozenset(_weekday(d, "weekdays") for d in items))
        object.__setattr__(self, "start_time", _start_time(self.start_time))
        object.__setattr__(self, "duration", _duration(self.duration, MAX_RECURRING_DURATION))
        _zone(self.zone)

    def _local_starts_on(self, day: date) -> Iterable[time]:
        return (self.start_time,) if day.weekday() in self.weekdays else ()


@dataclass(frozen=True, slots=True)
class MonthlyWindow(_Recurring):
    """Every month at local ``start_time`` on either

    - ``day`` of the month (1-31; months without that day are skipped; -1 = last day), or
    - the ``nth`` ``weekday`` (nth 1-5 or -1 for the last; weekday 0 = Monday or "sun"), e.g.
      ``nth=1, weekday="sun"`` = the first Sunday (months without a 5th one are skipped).
    """

    start_time: time
    duration: timedelta
    zone: str
    day: int | None = None
    nth: int | None = None
    weekday: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        by_day = self.day is not None
        by_weekday = self.nth is not None or self.weekday is not None
        if by_day == by_weekday:
            raise MaintenanceError(
                "a monthly window needs either day (e.g. 15) or nth and weekday "
                "(e.g. nth=1, weekday='sun'), not both or neither"
            )
        if by_day:
            if isinstance(self.day, bool) or not isinstance(self.day, int) or not (
                1 <= self.day <= 31 or self.day == -1
            ):
                raise MaintenanceError(f"day must be 1-31 or -1 (last day), got {self.day!r}")
        else:
            if self.nth is None or self.weekday is None:
                raise MaintenanceError("nth and weekday must be given together")
            if isinstance(self.nth, bool) or self.nth not in (1, 2, 3, 4, 5, -1):
                raise MaintenanceError(f"nth must be 1-5 or -1 (last), got {self.nth!r}")
            object.__setattr__(self, "weekday", _weekday(self.weekday, "weekday"))
        object.__setattr__(self, "start_time", _start_time(self.start_time))
        object.__setattr__(self, "duration", _duration(self.duration, MAX_RECURRING_DURATION))
        _zone(self.zone)

    def _local_starts_on(self, day: date) -> Iterable[time]:
        next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        days_in_month = (next_month - timedelta(days=1)).day
        if self.day is not None:
            wanted = days_in_month if self.day == -1 else self.day
            return (self.start_time,) if day.day == wanted else ()
        if day.weekday() != self.weekday:
            return ()
        assert self.nth is not None
        if self.nth == -1:
            return (self.start_time,) if day.day + 7 > days_in_month else ()
        return (self.start_time,) if (day.day - 1) // 7 + 1 == self.nth else ()


@dataclass(frozen=True, slots=True)
class CronWindow(_Recurring):
    """Starts whenever the 5-field cron ``expression`` fires in local time of ``zone``.

    Raises :class:`checks.cron.CronError` (a ValueError) for a bad expression.
    """

    expression: str
    duration: timedelta
    zone: str
    name: str = ""

    # Parsed once at construction; not part of equality or the constructor.
    cron: CronExpression = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cron", CronExpression.parse(self.expression))
        object.__setattr__(self, "duration", _duration(self.duration, MAX_RECURRING_DURATION))
        _zone(self.zone)

    def _local_starts_on(self, day: date) -> Iterable[time]:
        return self.cron.times_on(day)


MaintenanceWindow = OneOffWindow | WeeklyWindow | MonthlyWindow | CronWindow


def next_occurrences(window: MaintenanceWindow, after: datetime, count: int) -> list[Occurrence]:
    """The first ``count`` occurrences of ``window`` that start at or after ``after``.

    An occurrence already running at ``after`` is not included (see :func:`active_occurrence`).
    Fewer are returned when the window has no more (a one-off, or none within nine years).
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_OCCURRENCES:
        raise MaintenanceError(f"count must be 0-{MAX_OCCURRENCES}, got {count!r}")
    result: list[Occurrence] = []
    if count == 0:
        return result
    for occurrence in window.occurrences(after):
        result.append(occurrence)
        if len(result) == count:
            break
    return result


def active_occurrence(
    windows: Sequence[MaintenanceWindow], now: datetime
) -> Occurrence | None:
    """The occurrence covering ``now`` among ``windows``; if several do, the one ending last
    (so the wall can say "maintenance until ..."); ties go to the earlier window in the list."""
    now = ensure_utc(now, "now")
    best: Occurrence | None = None
    for window in windows:
        occurrence = window.occurrence_at(now)
        if occurrence is not None and (best is None or occurrence.end > best.end):
            best = occurrence
    return best


def active_window(windows: Sequence[MaintenanceWindow], now: datetime) -> MaintenanceWindow | None:
    """The window that puts the check in maintenance at ``now``, or None."""
    occurrence = active_occurrence(windows, now)
    return None if occurrence is None else occurrence.window
