"""Schedules, overrides and swaps: the value objects that ``shifts.oncall`` resolves.

A ``Schedule`` belongs to one duty line (first line, second line, shift lead) and one IANA time
zone, in whose wall-clock time all its rotations are defined. Its ``layers`` are rotations in
**ascending priority**: ``layers[0]`` is the base layer and every later layer overrides the ones
before it wherever it has someone on duty (PagerDuty numbers layers the same way: a higher
layer wins). Where a layer is silent (before its start, after its end, outside its
restrictions) the next lower layer shows through.

``overrides`` are applied on top of the layers, in list order, to the set of people the layers
put on duty:

* ``ADD`` — ``person`` is on duty alongside whoever is (a second engineer for a migration night);
* ``REMOVE`` — ``person`` is taken off duty (leaving a gap if nobody else is on);
* ``REPLACE`` — ``person`` takes over from ``replaces`` wherever ``replaces`` is on duty in the
  range; with ``replaces=None`` ``person`` takes the whole range from whoever is on duty, and
  covers it even if nobody was (the classic PagerDuty override).

A ``Swap`` (engineer A offers shifts, B takes them, optionally giving some of B's back) is
stored as a request by the application; its *effect* on the schedule is ``Swap.overrides()``:
REPLACE overrides, appended to the schedule's overrides once approved.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from shifts.errors import OverrideError, ScheduleError, SwapError
from shifts.localtime import load_zone, require_utc
from shifts.rotation import PersonId, Rotation, check_person

__all__ = ["Line", "Override", "OverrideKind", "Schedule", "Swap"]


class Line(enum.StrEnum):
    """The duty line a schedule staffs."""

    FIRST_LINE = "first_line"
    SECOND_LINE = "second_line"
    SHIFT_LEAD = "shift_lead"

    @property
    def label(self) -> str:
        """Human label: "First line", "Second line", "Shift lead"."""
        return {
            Line.FIRST_LINE: "First line",
            Line.SECOND_LINE: "Second line",
            Line.SHIFT_LEAD: "Shift lead",
        }[self]

    @classmethod
    def parse(cls, value: object) -> Line:
        """Accept a ``Line`` or its value; raise ``ScheduleError`` listing the allowed ones."""
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(line.value for line in cls)
            raise ScheduleError(f"unknown line {value!r}; allowed: {allowed}") from None


class OverrideKind(enum.StrEnum):
    """What an override does to the people on duty (see the module docstring)."""

    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _range(start: datetime, end: datetime, what: str) -> tuple[datetime, datetime]:
    start = require_utc(start, f"{what} start")
    end = require_utc(end, f"{what} end")
    if end < start:
        raise OverrideError(f"{what} ends ({{end}}) before it starts ({{start}})",
                            instants={"start": start, "end": end})
    if end == start:
        raise OverrideError(f"{what} must end after it starts, both are {{start}}",
                            instants={"start": start})
    return start, end


@dataclass(frozen=True, slots=True)
class Override:
    """A change to who is on duty for [start, end) (UTC); see the module docstring."""

    kind: OverrideKind
    person: PersonId
    start: datetime
    end: datetime
    replaces: PersonId | None = None
    note: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", OverrideKind(self.kind))
        except ValueError:
            allowed = ", ".join(kind.value for kind in OverrideKind)
            raise OverrideError(
                f"override kind must be one of {allowed}, got {self.kind!r}"
            ) from None
        try:
            check_person(self.person, "override person")
            if self.replaces is not None:
                check_person(self.replaces, "override replaces")
        except ValueError as error:
            raise OverrideError.wrap(error) from None
        start, end = _range(self.start, self.end, "override")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        if self.replaces is not None and self.kind is not OverrideKind.REPLACE:
            raise OverrideError(
                f"only a replace override names who is replaced; a {self.kind.value} override "
                f"got replaces={self.replaces!r}"
            )
        if self.replaces is not None and self.replaces == self.person:
            raise OverrideError(
                "an override cannot replace {person} with themselves",
                people={"person": self.person},
            )

    def covers(self, at: datetime) -> bool:
        """Whether UTC instant ``at`` is inside [start, end)."""
        return self.start <= at < self.end

    def apply(self, people: list[PersonId]) -> list[PersonId]:
        """Return the people on duty after this override, given those on duty before it."""
        if self.kind is OverrideKind.ADD:
            return people if self.person in people else [*people, self.person]
        if self.kind is OverrideKind.REMOVE:
            return [someone for someone in people if someone != self.person]
        if self.replaces is None:
            return [self.person]
        if self.replaces not in people:
            return people
        if self.person in people:
            return [someone for someone in people if someone != self.replaces]
        return [self.person if someone == self.replaces else someone for someone in people]


@dataclass(frozen=True, slots=True)
class Swap:
    """Engineer ``offered_by`` gives ``shifts`` (UTC ranges) to ``taken_by``.

    ``given_back`` lists ranges of ``taken_by``'s own duty that ``offered_by`` works in return
    (a trade). ``shifts.oncall.check_swap`` verifies against a schedule that each range really
    is the giver's; ``overrides()`` is the effect once approved.
    """

    offered_by: PersonId
    taken_by: PersonId
    shifts: tuple[tuple[datetime, datetime], ...]
    given_back: tuple[tuple[datetime, datetime], ...] = ()
    note: str = field(default="")

    def __post_init__(self) -> None:
        try:
            check_person(self.offered_by, "swap offered_by")
            check_person(self.taken_by, "swap taken_by")
        except ValueError as error:
            raise SwapError.wrap(error) from None
        if self.offered_by == self.taken_by:
            raise SwapError(
                "a swap needs two different people, got {person} twice",
                people={"person": self.offered_by},
            )
        if not self.shifts:
            raise SwapError("a swap needs at least one offered shift")
        for name in ("shifts", "given_back"):
            ranges = []
            for start, end in getattr(self, name):
                try:
                    ranges.append(_range(start, end, "swapped shift"))
                except ValueError as error:
                    raise SwapError.wrap(error) from None
            object.__setattr__(self, name, tuple(sorted(ranges)))

    def overrides(self) -> tuple[Override, ...]:
        """The REPLACE overrides that make this swap happen."""
        note = self.note or f"swap: {self.offered_by} → {self.taken_by}"
        taken = tuple(
            Override(OverrideKind.REPLACE, self.taken_by, start, end, self.offered_by, note)
            for start, end in self.shifts
        )
        back = tuple(
            Override(OverrideKind.REPLACE, self.offered_by, start, end, self.taken_by, note)
            for start, end in self.given_back
        )
        return taken + back


@dataclass(frozen=True, slots=True)
class Schedule:
    """A duty line's schedule in one time zone; see the module docstring.

    ``id`` is the storage id (used for stable iCalendar UIDs); pure code does not need it.
    ``site_id`` is the stored site whose duty the schedule covers (``None``: not stored yet).
    """

    name: str
    line: Line
    time_zone: str
    layers: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()
    id: int | str | None = None
    site_id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScheduleError(f"schedule name must be a non-empty text, got {self.name!r}")
        object.__setattr__(self, "line", Line.parse(self.line))
        load_zone(self.time_zone)
        layers = tuple(self.layers)
        names: set[str] = set()
        for layer in layers:
            if not isinstance(layer, Rotation):
                raise ScheduleError(
                    f"schedule {self.name!r}: layers must be Rotation values, got {layer!r}"
                )
            if layer.name in names:
                raise ScheduleError(
                    f"schedule {self.name!r} has two layers named {layer.name!r}"
                )
            names.add(layer.name)
            if layer.ends_at is not None and layer.ends_at <= layer.starts_at(self.zone):
                raise ScheduleError(
                    f"rotation {layer.name!r} ends ({_fmt(layer.ends_at)}) before it starts "
                    f"({_fmt(layer.starts_at(self.zone))})"
                )
        object.__setattr__(self, "layers", layers)
        overrides = tuple(self.overrides)
        for override in overrides:
            if not isinstance(override, Override):
                raise ScheduleError(
                    f"schedule {self.name!r}: overrides must be Override values, "
                    f"got {override!r}"
                )
        object.__setattr__(self, "overrides", overrides)

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's ``ZoneInfo``."""
        return load_zone(self.time_zone)

    @property
    def title(self) -> str:
        """"First line (Kyiv)": the line's label and the schedule's name."""
        return f"{self.line.label} ({self.name})"

    def with_overrides(self, *more: Override) -> Schedule:
        """A copy with ``more`` overrides appended (applied after the existing ones)."""
        return replace(self, overrides=self.overrides + tuple(more))

    def with_swap(self, swap: Swap) -> Schedule:
        """A copy with an approved swap's overrides appended."""
        return self.with_overrides(*swap.overrides())
