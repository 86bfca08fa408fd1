"""Shift patterns: how a rotation cuts wall-clock time into shifts and who works each one.

The model
---------
A ``ShiftPattern`` is a **repeating cycle of wall-clock slots**. The cycle has a length in
wall-clock time (``cycle``: e.g. 1 day, 4 days, 8 hours, 1 week) and is laid end to end from the
rotation's first handoff (its start date at its handoff time, local to the schedule's zone).
Each ``Slot`` starts at a wall-clock ``offset`` into the cycle and lasts until the next slot
starts (the last one until the next cycle begins), so the slots of one rotation tile time with
no gap and no overlap by construction. Gaps on purpose (business hours only, weekends only)
are made with a rotation's *restrictions*, not with the pattern.

Because the arithmetic is done in wall-clock time, a 12 h night shift that contains a DST change
lasts 11 h or 13 h of real time and every handoff stays at its configured local time (see
``shifts.localtime`` for ambiguous and nonexistent local times).

Who works a slot is decided by one of two rules (``Assignment``):

* ``ROUND_ROBIN`` — the slot occurrences, counted from the rotation's start, go to the
  participants in order and wrap around: occurrence *i* goes to ``participants[i % n]``.
  Works with any number of participants. Fixed-length rotations ("1 week, handoff Monday
  09:00") and the plain "12 h day / 12 h night" alternation use this rule.
* ``CREWS`` — each slot names a crew number; crew *c* is ``participants[c]`` in every cycle.
  This is how data-center shift plans are written: four crews staggered over a four-day cycle.
  The rotation must have exactly one participant per crew (a participant may be a person or,
  if the caller prefers, a crew id that it resolves itself).

The builders below create the classics from this one representation:

* ``fixed_length(hours=…, days=…, weeks=…)`` — one slot per cycle, round robin.
* ``day_night(day_hours=12)`` — a day slot and a night slot per day, round robin.
* ``two_on_two_off()`` — 4-day cycle; crews 0 and 1 work the day shifts two days each, crews 2
  and 3 the night shifts two nights each, so everyone works two, then has two off.
* ``day_night_off_off()`` — 4-day cycle; crew *c* works the day shift on day *c*, the night shift
  on day *c* + 1, then has two days off; the four crews are staggered so every instant is
  covered by exactly one crew.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from shifts.errors import PatternError

__all__ = [
    "Assignment",
    "ShiftPattern",
    "Slot",
    "crew_cycle",
    "day_night",
    "day_night_off_off",
    "fixed_length",
    "format_hours",
    "two_on_two_off",
]

DAY = timedelta(days=1)


def format_hours(value: timedelta) -> str:
    """Render a duration as hours for messages: ``12 h``, ``0 h``, ``-3 h``, ``1.5 h``."""
    hours = value.total_seconds() / 3600
    return f"{hours:g} h"


class Assignment(enum.StrEnum):
    """How slot occurrences are handed to participants (see the module docstring)."""

    ROUND_ROBIN = "round_robin"
    CREWS = "crews"


@dataclass(frozen=True, slots=True)
class Slot:
    """One shift inside a pattern's cycle.

    ``offset`` is wall-clock time from the start of the cycle (the rotation's handoff);
    ``crew`` is the crew number for ``Assignment.CREWS`` patterns and ``None`` for round robin;
    ``label`` is a word for people ("day", "night").
    """

    offset: timedelta
    crew: int | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class ShiftPattern:
    """A repeating cycle of wall-clock slots and the rule that assigns them (module docstring)."""

    name: str
    cycle: timedelta
    slots: tuple[Slot, ...]
    assignment: Assignment = Assignment.ROUND_ROBIN

    def __post_init__(self) -> None:
        if not isinstance(self.cycle, timedelta) or self.cycle <= timedelta(0):
            shown = format_hours(self.cycle) if isinstance(self.cycle, timedelta) else self.cycle
            raise PatternError(f"shift length must be positive, got {shown}")
        object.__setattr__(self, "slots", tuple(self.slots))
        try:
            object.__setattr__(self, "assignment", Assignment(self.assignment))
        except ValueError:
            allowed = ", ".join(a.value for a in Assignment)
            raise PatternError(
                f"pattern {self.name!r}: assignment must be one of {allowed}, "
                f"got {self.assignment!r}"
            ) from None
        if not self.slots:
            raise PatternError(f"pattern {self.name!r} has no slots")
        if self.slots[0].offset != timedelta(0):
            raise PatternError(
                f"pattern {self.name!r}: the first slot must start at the handoff (offset 0 h), "
                f"got {format_hours(self.slots[0].offset)}"
            )
        previous = None
        for slot in self.slots:
            if not timedelta(0) <= slot.offset < self.cycle:
                raise PatternError(
                    f"pattern {self.name!r}: slot offset {format_hours(slot.offset)} is outside "
                    f"the {format_hours(self.cycle)} cycle"
                )
            if previous is not None and slot.offset <= previous:
                raise PatternError(
                    f"pattern {self.name!r}: slot offsets must increase, got "
                    f"{format_hours(slot.offset)} after {format_hours(previous)}"
                )
            previous = slot.offset
        self._check_crews()

    def _check_crews(self) -> None:
        crews = [slot.crew for slot in self.slots]
        if self.assignment is Assignment.ROUND_ROBIN:
            if any(crew is not None for crew in crews):
                raise PatternError(
                    f"pattern {self.name!r} is round robin, so its slots must not name crews"
                )
            return
        if any(not isinstance(crew, int) or isinstance(crew, bool) or crew < 0 for crew in crews):
            raise PatternError(
                f"pattern {self.name!r}: every slot of a crew pattern needs a crew number >= 0, "
                f"got {crews}"
            )
        numbers = [int(crew) for crew in crews if crew is not None]
        highest = max(numbers)
        # at most len(numbers) distinct crews exist, so a hole is below that (never build a
        # range up to a huge crew number someone typed)
        missing = sorted(set(range(min(highest, len(numbers)) + 1)) - set(numbers))
        if missing:
            raise PatternError(
                f"pattern {self.name!r}: crews must be numbered 0..{highest} without holes, "
                f"crew {missing[0]} has no slot"
            )

    @property
    def crews(self) -> int:
        """Number of crews for a crew pattern (0 for round robin)."""
        if self.assignment is Assignment.ROUND_ROBIN:
            return 0
        return max(int(slot.crew or 0) for slot in self.slots) + 1

    def slot_end(self, index: int) -> timedelta:
        """Wall-clock offset at which slot ``index`` ends (the next slot's start or cycle end)."""
        if index + 1 < len(self.slots):
            return self.slots[index + 1].offset
        return self.cycle

    def check_participants(self, count: int, rotation: str) -> None:
        """Raise ``PatternError`` unless ``count`` participants can work this pattern."""
        if self.assignment is Assignment.CREWS and count != self.crews:
            raise PatternError(
                f"pattern {self.name!r} is worked by {self.crews} crews, so rotation {rotation!r} "
                f"needs exactly {self.crews} participants (one per crew), got {count}"
            )


MAX_SHIFT_HOURS = 366 * 24  # a year-long "shift" is a typo, and beyond it time overflows


def _length(hours: float, days: int, weeks: int) -> timedelta:
    for name, value in (("hours", hours), ("days", days), ("weeks", weeks)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PatternError(f"shift length {name} must be a number, got {value!r}")
    total = float(hours) + 24.0 * days + 168.0 * weeks
    if not math.isfinite(total) or abs(total) > MAX_SHIFT_HOURS:
        raise PatternError(
            f"a shift must be at most {MAX_SHIFT_HOURS // 24} days long, got hours={hours!r}, "
            f"days={days!r}, weeks={weeks!r}"
        )
    return timedelta(hours=hours, days=days, weeks=weeks)


def fixed_length(hours: float = 0, *, days: int = 0, weeks: int = 0) -> ShiftPattern:
    """One shift of the given wall-clock length per cycle, handed round robin.

    ``fixed_length(weeks=1)`` is the classic weekly on-call; ``fixed_length(8)`` gives three
    8-hour shifts a day starting at the rotation's handoff time.
    """
    length = _length(hours, days, weeks)
    if length <= timedelta(0):
        raise PatternError(f"shift length must be positive, got {format_hours(length)}")
    if length.total_seconds() % 60:
        raise PatternError(
            f"shift length must be a whole number of minutes, got {format_hours(length)}"
        )
    return ShiftPattern(f"every {_describe(length)}", length, (Slot(timedelta(0)),))


def day_night(day_hours: float = 12) -> ShiftPattern:
    """A day shift and a night shift every day, handed round robin.

    With handoff 08:00 and the default 12 h this is 08:00–20:00 / 20:00–08:00. With two
    participants one always works days and the other nights; with four they take turns
    (A day, B night, C next day, D next night, …).
    """
    day = _length(day_hours, 0, 0)
    if not timedelta(0) < day < DAY:
        raise PatternError(
            f"day shift must be longer than 0 h and shorter than 24 h, got {format_hours(day)}"
        )
    night = DAY - day
    name = f"{_describe(day)} day / {_describe(night)} night"
    return ShiftPattern(name, DAY, (Slot(timedelta(0), label="day"), Slot(day, label="night")))


def two_on_two_off(day_hours: float = 12) -> ShiftPattern:
    """Work two, two off, in a 4-day cycle of day and night shifts worked by four crews.

    Crews 0 and 1 alternate the day shifts (0 on days 1–2, 1 on days 3–4), crews 2 and 3 the
    night shifts the same way. Each crew works two consecutive shifts, then has two days off.
    """
    day = _length(day_hours, 0, 0)
    if not timedelta(0) < day < DAY:
        raise PatternError(
            f"day shift must be longer than 0 h and shorter than 24 h, got {format_hours(day)}"
        )
    day_crews = (0, 0, 1, 1)
    night_crews = (2, 2, 3, 3)
    return _crew_cycle("2 on 2 off", day, day_crews, night_crews)


def day_night_off_off(day_hours: float = 12) -> ShiftPattern:
    """Day, night, off, off: the four-crew data-center classic.

    Crew *c* works the day shift on day *c* of the cycle and the night shift that starts on day
    *c* + 1, then has two days off. Day slots therefore go to crews 0, 1, 2, 3 and night slots
    to crews 3, 0, 1, 2 (the night of day 1 belongs to the crew that worked day 4 of the
    previous cycle).
    """
    day = _length(day_hours, 0, 0)
    if not timedelta(0) < day < DAY:
        raise PatternError(
            f"day shift must be longer than 0 h and shorter than 24 h, got {format_hours(day)}"
        )
    day_crews = (0, 1, 2, 3)
    night_crews = (3, 0, 1, 2)
    return _crew_cycle("day-night-off-off", day, day_crews, night_crews)


def crew_cycle(
    name: str, day_hours: float, day_crews: Iterable[int], night_crews: Iterable[int]
) -> ShiftPattern:
    """A custom day/night crew plan: one day and one night slot per cycle day.

    ``day_crews[d]`` works the day shift of cycle day *d*, ``night_crews[d]`` the night shift
    that starts that evening. Both lists must be as long as the cycle is in days.
    """
    day = _length(day_hours, 0, 0)
    if not timedelta(0) < day < DAY:
        raise PatternError(
            f"day shift must be longer than 0 h and shorter than 24 h, got {format_hours(day)}"
        )
    return _crew_cycle(name, day, tuple(day_crews), tuple(night_crews))


def _crew_cycle(
    name: str, day: timedelta, day_crews: tuple[int, ...], night_crews: tuple[int, ...]
) -> ShiftPattern:
    if len(day_crews) != len(night_crews) or not day_crews:
        raise PatternError(
            f"pattern {name!r}: need one day crew and one night crew per cycle day, got "
            f"{len(day_crews)} day and {len(night_crews)} night crews"
        )
    slots = []
    for index, (day_crew, night_crew) in enumerate(zip(day_crews, night_crews, strict=True)):
        slots.append(Slot(index * DAY, crew=day_crew, label="day"))
        slots.append(Slot(index * DAY + day, crew=night_crew, label="night"))
    return ShiftPattern(name, len(day_crews) * DAY, tuple(slots), Assignment.CREWS)


def _describe(length: timedelta) -> str:
    if length % timedelta(weeks=1) == timedelta(0):
        weeks = length // timedelta(weeks=1)
        return "1 week" if weeks == 1 else f"{weeks} weeks"
    if length % DAY == timedelta(0):
        days = length // DAY
        return "1 day" if days == 1 else f"{days} days"
    return format_hours(length)
