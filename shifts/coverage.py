"""Gap and overlap detection for the coming weeks, across all schedules of all duty lines.

A **gap** is an interval in which a duty line has nobody on duty in any of its schedules (a line
may be staffed by several schedules, e.g. follow-the-sun sites). A line is "required" if at least
one schedule staffs it, or if the caller lists it in ``lines`` (then a line without schedules is
one long gap, which is exactly what the shift lead needs to hear).

An **overlap** is one of:

* ``SCHEDULES`` — two or more schedules of the same line have people on duty at once, so the
  line would be paged twice (usually a follow-the-sun hand-over drawn wrongly);
* ``LAYERS`` — two or more layers of one schedule would both have someone on duty, so the
  higher one hides the lower one. That is intended for an override layer, so these are only
  reported when asked for (``layer_overlaps=True``), for the rotation editor.

Everything is computed from ``shifts.oncall`` (the same rule as ``on_duty``); nothing is stored.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from shifts.errors import ShiftConfigError
from shifts.localtime import require_utc
from shifts.oncall import final_schedule, layer_shifts
from shifts.rotation import PersonId
from shifts.schedule import Line, Schedule

__all__ = [
    "CoverageReport",
    "Gap",
    "Overlap",
    "OverlapKind",
    "check_coverage",
    "coverage_ahead",
]


@dataclass(frozen=True, slots=True)
class Gap:
    """``line`` has nobody on duty from ``start`` to ``end`` (UTC) in any of ``schedules``."""

    line: Line
    start: datetime
    end: datetime
    schedules: tuple[str, ...]

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


class OverlapKind(enum.StrEnum):
    """Whether whole schedules of one line overlap, or layers inside one schedule."""

    SCHEDULES = "schedules"
    LAYERS = "layers"


@dataclass(frozen=True, slots=True)
class Overlap:
    """Several ``sources`` (schedule names, or "schedule / layer") staff ``line`` at once."""

    line: Line
    kind: OverlapKind
    start: datetime
    end: datetime
    sources: tuple[str, ...]
    people: tuple[PersonId, ...]

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Gaps and overlaps found in [start, end), each list in time order."""

    start: datetime
    end: datetime
    gaps: tuple[Gap, ...]
    overlaps: tuple[Overlap, ...]

    @property
    def ok(self) -> bool:
        """True when no line has a gap (overlaps are warnings, not failures)."""
        return not self.gaps

    def gaps_for(self, line: Line | str) -> tuple[Gap, ...]:
        """The gaps of one line."""
        wanted = Line.parse(line)
        return tuple(gap for gap in self.gaps if gap.line is wanted)


@dataclass(frozen=True, slots=True)
class _Staffed:
    source: str
    start: datetime
    end: datetime
    people: tuple[PersonId, ...]


def check_coverage(
    schedules: Iterable[Schedule],
    start: datetime,
    end: datetime,
    *,
    lines: Iterable[Line | str] | None = None,
    layer_overlaps: bool = False,
    min_gap: timedelta = timedelta(0),
) -> CoverageReport:
    """Find gaps per line and overlaps in [start, end) (UTC); see the module docstring.

    ``lines`` adds lines that must be covered even without schedules; ``min_gap`` ignores
    shorter gaps (e.g. a minute lost to a handoff typed as 08:01).
    """
    start = require_utc(start, "start")
    end = require_utc(end, "end")
    if end <= start:
        raise ShiftConfigError(
            f"coverage period end ({end.isoformat()}) must be after its start "
            f"({start.isoformat()})"
        )
    by_line: dict[Line, list[Schedule]] = {Line.parse(line): [] for line in lines or ()}
    for schedule in schedules:
        by_line.setdefault(schedule.line, []).append(schedule)

    gaps: list[Gap] = []
    overlaps: list[Overlap] = []
    for line, members in by_line.items():
        staffed = [
            _Staffed(schedule.name, shift.start, shift.end, shift.people)
            for schedule in members
            for shift in final_schedule(schedule, start, end)
        ]
        names = tuple(schedule.name for schedule in members)
        gaps.extend(
            Gap(line, low, high, names)
            for low, high in _uncovered(staffed, start, end)
            if high - low >= min_gap and high > low
        )
        overlaps.extend(_overlaps(line, OverlapKind.SCHEDULES, staffed))
        if layer_overlaps:
            for schedule in members:
                pieces = [
                    _Staffed(f"{schedule.name} / {rotation.name}", shift.start, shift.end,
                             shift.people)
                    for rotation in schedule.layers
                    for shift in layer_shifts(schedule, rotation.name, start, end)
                ]
                overlaps.extend(_overlaps(line, OverlapKind.LAYERS, pieces))
    gaps.sort(key=lambda gap: (gap.start, gap.line.value))
    overlaps.sort(key=lambda overlap: (overlap.start, overlap.line.value, overlap.kind.value))
    return CoverageReport(start, end, tuple(gaps), tuple(overlaps))


def coverage_ahead(
    schedules: Iterable[Schedule],
    now: datetime,
    weeks: int = 4,
    *,
    lines: Iterable[Line | str] | None = None,
    layer_overlaps: bool = False,
    min_gap: timedelta = timedelta(0),
) -> CoverageReport:
    """``check_coverage`` for the next ``weeks`` weeks from ``now`` (the dashboard warning)."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or weeks < 1:
        raise ShiftConfigError(f"weeks must be a whole number of at least 1, got {weeks!r}")
    now = require_utc(now, "now")
    return check_coverage(
        schedules, now, now + timedelta(weeks=weeks),
        lines=lines, layer_overlaps=layer_overlaps, min_gap=min_gap,
    )


def _uncovered(
    staffed: list[_Staffed], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    holes = []
    cursor = start
    for piece in sorted(staffed, key=lambda item: item.start):
        if piece.start > cursor:
            holes.append((cursor, piece.start))
        cursor = max(cursor, piece.end)
    if cursor < end:
        holes.append((cursor, end))
    return holes


def _overlaps(line: Line, kind: OverlapKind, staffed: list[_Staffed]) -> list[Overlap]:
    """Intervals where two or more different sources are staffed at once, merged."""
    edges = sorted({piece.start for piece in staffed} | {piece.end for piece in staffed})
    found: list[Overlap] = []
    for low, high in pairwise(edges):
        active = [piece for piece in staffed if piece.start <= low < piece.end]
        sources = tuple(dict.fromkeys(piece.source for piece in active))
        if len(sources) < 2:
            continue
        people = tuple(dict.fromkeys(person for piece in active for person in piece.people))
        previous = found[-1] if found else None
        if (previous and previous.end == low and previous.sources == sources
                and previous.people == people):
            found[-1] = Overlap(line, kind, previous.start, high, sources, people)
        else:
            found.append(Overlap(line, kind, low, high, sources, people))
    return found
