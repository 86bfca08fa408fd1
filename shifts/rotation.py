"""Rotations (schedule layers): who works which slot of a pattern, and when a layer applies.

A ``Rotation`` is an ordered list of participants working a ``ShiftPattern`` (see
``shifts.patterns``) from a first handoff: its ``start`` date at its ``handoff`` wall-clock time
in the schedule's zone. The pattern's cycle is laid end to end from that first handoff; the
*i*-th slot occurrence (counted from 0) starts at a wall-clock time that ``shifts.localtime``
turns into UTC with the one documented DST rule, and ends where occurrence *i* + 1 starts.
So a single rotation never leaves a hole and never has two occurrences at once.

Restrictions narrow *when* a layer applies without changing who holds each occurrence: a list
of ``TimeWindow`` s (weekdays and a local time-of-day window; the union is used). Outside the
windows the layer is silent and lower layers show through, which is how weekday/weekend splits
and follow-the-sun layers are built. No restrictions means "always". A rotation may also stop at
``ends_at`` (UTC, exclusive), e.g. when the shift lead replaces it with a new one.

Person ids are whatever the caller uses for people: non-empty strings or integers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shifts.errors import RotationError
from shifts.localtime import local_to_utc, require_utc, utc_to_local
from shifts.patterns import Assignment, ShiftPattern

__all__ = [
    "ALL_DAYS",
    "WEEKDAYS",
    "WEEKEND",
    "Occurrence",
    "PersonId",
    "Rotation",
    "TimeWindow",
    "check_person",
    "occurrence_at",
    "occurrences",
    "person_at",
    "restriction_allows",
    "restriction_edges",
]

PersonId = str | int

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS: frozenset[int] = frozenset(range(7))
WEEKDAYS: frozenset[int] = frozenset(range(5))
WEEKEND: frozenset[int] = frozenset({5, 6})


def check_person(value: object, what: str) -> PersonId:
    """Return ``value`` if it is a usable person id, else raise ``RotationError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RotationError(f"{what} must be a person id (text or number), got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise RotationError(f"{what} must be a person id (text or number), got an empty text")
    return value


def _weekday(value: object) -> int:
    if isinstance(value, str) and value[:3].lower() in DAY_NAMES:
        return DAY_NAMES.index(value[:3].lower())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    raise RotationError(
        f"weekday must be 0 (Monday) … 6 (Sunday) or a name such as 'mon', got {value!r}"
    )


def _local_time(value: object, what: str) -> time:
    if not isinstance(value, time):
        raise RotationError(f"{what} must be a time of day such as 08:00, got {value!r}")
    if value.tzinfo is not None:
        raise RotationError(
            f"{what} must be a local wall-clock time without a zone (the schedule's zone "
            f"applies), got {value.isoformat()}"
        )
    return value


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A weekly window in the schedule's local time: on ``weekdays``, from ``start`` to ``end``.

    ``end`` at or before ``start`` means the window runs past midnight into the next day
    (22:00–06:00); ``end == start`` means a whole day (00:00–00:00 is "all of that weekday").
    A window belongs to the weekday it starts on. Weekdays are 0 = Monday … 6 = Sunday or
    names such as ``"sat"``.
    """

    start: time = time(0)
    end: time = time(0)
    weekdays: frozenset[int] = ALL_DAYS

    def __post_init__(self) -> None:
        _local_time(self.start, "restriction start")
        _local_time(self.end, "restriction end")
        days = self.weekdays
        if isinstance(days, str | int):
            days = (days,)
        object.__setattr__(self, "weekdays", frozenset(_weekday(day) for day in days))
        if not self.weekdays:
            raise RotationError("a restriction window needs at least one weekday")

    @classmethod
    def whole_days(cls, weekdays: Iterable[int | str]) -> TimeWindow:
        """All day on the given weekdays, e.g. ``TimeWindow.whole_days(WEEKEND)``."""
        return cls(time(0), time(0), frozenset(_weekday(day) for day in weekdays))

    def intervals_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The UTC interval of the window starting on local ``day`` (``None`` if not that day)."""
        if day.weekday() not in self.weekdays:
            return None
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return (
            local_to_utc(datetime.combine(day, self.start), zone),
            local_to_utc(datetime.combine(end_day, self.end), zone),
        )


@dataclass(frozen=True, slots=True)
class Rotation:
    """One layer of a schedule; see the module docstring for the model."""

    name: str
    participants: tuple[PersonId, ...]
    pattern: ShiftPattern
    handoff: time
    start: date
    restrictions: tuple[TimeWindow, ...] = ()
    ends_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise RotationError(f"rotation name must be a non-empty text, got {self.name!r}")
        people = self.participants
        if isinstance(people, str | int):
            people = (people,)
        people = tuple(people)
        if not people:
            raise RotationError(f"rotation {self.name!r} has no participants")
        for position, person in enumerate(people, start=1):
            check_person(person, f"rotation {self.name!r}: participant {position}")
        object.__setattr__(self, "participants", people)
        if not isinstance(self.pattern, ShiftPattern):
            raise RotationError(
                f"rotation {self.name!r}: pattern must be a ShiftPattern, got {self.pattern!r}"
            )
        self.pattern.check_participants(len(people), self.name)
        _local_time(self.handoff, f"rotation {self.name!r}: handoff")
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise RotationError(
                f"rotation {self.name!r}: start must be a date (the handoff time is separate), "
                f"got {self.start!r}"
            )
        windows = tuple(self.restrictions)
        for window in windows:
            if not isinstance(window, TimeWindow):
                raise RotationError(
                    f"rotation {self.name!r}: restrictions must be TimeWindow values, "
                    f"got {window!r}"
                )
        object.__setattr__(self, "restrictions", windows)
        if self.ends_at is not None:
            object.__setattr__(
                self, "ends_at", require_utc(self.ends_at, f"rotation {self.name!r}: ends_at")
            )

    @property
    def first_handoff(self) -> datetime:
        """The naive local wall-clock time of the first handoff (start date at handoff time)."""
        return datetime.combine(self.start, self.handoff)

    def starts_at(self, zone: ZoneInfo) -> datetime:
        """The UTC instant of the first handoff in ``zone``."""
        return local_to_utc(self.first_handoff, zone)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """The *index*-th slot occurrence of a rotation: ``person`` from ``start`` to ``end`` (UTC).

    Restrictions are not applied; ``end`` is cut at the rotation's ``ends_at``.
    """

    index: int
    person: PersonId
    start: datetime
    end: datetime
    label: str = ""


def occurrence_start(rotation: Rotation, zone: ZoneInfo, index: int) -> datetime:
    """UTC start of slot occurrence ``index`` (>= 0) of ``rotation``."""
    pattern = rotation.pattern
    cycle_number, slot_index = divmod(index, len(pattern.slots))
    wall = (
        rotation.first_handoff
        + cycle_number * pattern.cycle
        + pattern.slots[slot_index].offset
    )
    return local_to_utc(wall, zone)


def occurrence_person(rotation: Rotation, index: int) -> PersonId:
    """Who works slot occurrence ``index`` (the pattern's assignment rule)."""
    pattern = rotation.pattern
    if pattern.assignment is Assignment.CREWS:
        crew = pattern.slots[index % len(pattern.slots)].crew
        return rotation.participants[int(crew or 0)]
    return rotation.participants[index % len(rotation.participants)]


def _occurrence(rotation: Rotation, zone: ZoneInfo, index: int) -> Occurrence:
    end = occurrence_start(rotation, zone, index + 1)
    if rotation.ends_at is not None:
        end = min(end, rotation.ends_at)
    label = rotation.pattern.slots[index % len(rotation.pattern.slots)].label
    return Occurrence(
        index, occurrence_person(rotation, index), occurrence_start(rotation, zone, index), end,
        label,
    )


def _index_at(rotation: Rotation, zone: ZoneInfo, at: datetime) -> int | None:
    """Index of the occurrence whose [start, next start) holds ``at``; None before the start."""
    if occurrence_start(rotation, zone, 0) > at:
        return None
    pattern = rotation.pattern
    # Estimate from the wall clock, then walk: starts are monotonic in the index (localtime
    # rule), so a few steps fix the estimate around DST changes and zero-length slots.
    elapsed = utc_to_local(at, zone) - rotation.first_handoff
    cycle_number = elapsed // pattern.cycle
    within = elapsed - cycle_number * pattern.cycle
    offsets = [slot.offset for slot in pattern.slots]
    index = max(cycle_number * len(offsets) + bisect_right(offsets, within) - 1, 0)
    while occurrence_start(rotation, zone, index) > at:
        index -= 1
    while occurrence_start(rotation, zone, index + 1) <= at:
        index += 1
    return index


def occurrence_at(rotation: Rotation, zone: ZoneInfo, at: datetime) -> Occurrence | None:
    """The occurrence of ``rotation`` holding UTC instant ``at`` (restrictions not applied).

    ``None`` before the first handoff and from ``ends_at`` on.
    """
    at = require_utc(at, "at")
    if rotation.ends_at is not None and at >= rotation.ends_at:
        return None
    index = _index_at(rotation, zone, at)
    return None if index is None else _occurrence(rotation, zone, index)


def person_at(rotation: Rotation, zone: ZoneInfo, at: datetime) -> PersonId | None:
    """Who this layer puts on duty at UTC instant ``at`` (restrictions applied), or ``None``."""
    if rotation.ends_at is not None and at >= rotation.ends_at:
        return None
    index = _index_at(rotation, zone, at)
    if index is None or not restriction_allows(rotation, zone, at):
        return None
    return occurrence_person(rotation, index)


def occurrences(
    rotation: Rotation, zone: ZoneInfo, start: datetime, end: datetime
) -> list[Occurrence]:
    """Occurrences overlapping [start, end), unclipped (restrictions not applied).

    Zero-length occurrences (a slot that falls entirely into a skipped DST hour) are left out.
    """
    start = require_utc(start, "start")
    end = require_utc(end, "end")
    if rotation.ends_at is not None:
        end = min(end, rotation.ends_at)
    first = _index_at(rotation, zone, start)
    if first is None:
        first = 0
    found: list[Occurrence] = []
    index = first
    while True:
        occurrence = _occurrence(rotation, zone, index)
        if occurrence.start >= end:
            break
        if occurrence.end > occurrence.start and occurrence.end > start:
            found.append(occurrence)
        index += 1
    return found


def restriction_allows(rotation: Rotation, zone: ZoneInfo, at: datetime) -> bool:
    """Whether the rotation's restrictions let it apply at UTC instant ``at``."""
    if not rotation.restrictions:
        return True
    today = utc_to_local(at, zone).date()
    for window in rotation.restrictions:
        for day in (today - timedelta(days=1), today):
            interval = window.intervals_on(day, zone)
            if interval is not None and interval[0] <= at < interval[1]:
                return True
    return False


def restriction_edges(
    rotation: Rotation, zone: ZoneInfo, start: datetime, end: datetime
) -> set[datetime]:
    """UTC instants in [start, end) where a restriction window opens or closes."""
    edges: set[datetime] = set()
    if not rotation.restrictions:
        return edges
    day = utc_to_local(start, zone).date() - timedelta(days=1)
    last = utc_to_local(end, zone).date() + timedelta(days=1)
    while day <= last:
        for window in rotation.restrictions:
            interval = window.intervals_on(day, zone)
            if interval is not None:
                edges.update(edge for edge in interval if start <= edge < end)
        day += timedelta(days=1)
    return edges
