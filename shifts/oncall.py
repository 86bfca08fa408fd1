"""Who is on duty: the one resolution rule, and the final schedule computed from it.

Resolution at a UTC instant (``on_duty``):

1. layers, highest priority first (the last in ``Schedule.layers``): the first layer that has
   started, has not ended, and whose restrictions allow the instant supplies its engineer for
   the slot occurrence holding the instant; lower layers are not consulted;
2. the schedule's overrides that cover the instant are applied to that set in list order
   (add / remove / replace, see ``shifts.schedule``).

The result is an ordered tuple of people (the layer's engineer first, then anyone added); an
empty tuple means nobody is on duty — a gap.

``final_schedule`` cuts a period into **segments**: maximal intervals during which that tuple
does not change. It evaluates the same rule at every instant where something *could* change
(slot handoffs, restriction window edges, layer starts/ends, override edges), so it agrees with
``on_duty`` by construction. Consecutive shifts of the same person merge into one segment
("Olena 08:00 Mon – 08:00 Wed"), because for the people on duty nothing changes there.
Nothing here is stored; storage keeps rotations and overrides and recomputes.

Segments that run past the requested period are found by looking further out, at most
``horizon`` (default 92 days) each way; ``OnDuty.since``/``until`` are ``None`` when nothing
changes within it, and ``person_shifts`` cuts a longer duty at the horizon.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from shifts.errors import ScheduleError, ShiftConfigError, SwapError
from shifts.localtime import require_utc
from shifts.rotation import (
    PersonId,
    Rotation,
    occurrences,
    person_at,
    restriction_allows,
    restriction_edges,
)
from shifts.schedule import Line, Override, Schedule, Swap

__all__ = [
    "DEFAULT_HORIZON",
    "OnDuty",
    "Shift",
    "check_swap",
    "final_schedule",
    "layer_shifts",
    "next_shift_for",
    "on_duty",
    "on_duty_by_line",
    "person_shifts",
]

DEFAULT_HORIZON = timedelta(days=92)
_FIRST_LOOK = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Shift:
    """``people`` on duty from ``start`` to ``end`` (UTC, end exclusive); ``()`` is a gap."""

    start: datetime
    end: datetime
    people: tuple[PersonId, ...]

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def covered(self) -> bool:
        return bool(self.people)

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class OnDuty:
    """Who is on duty for a schedule at instant ``at``.

    ``since``/``until`` bound the segment of ``final_schedule`` holding ``at`` (``None`` when
    unchanged for longer than the horizon). ``layer`` names the layer that supplied the base
    engineer (``None`` if no layer applies); ``overrides`` are those covering ``at``.
    """

    schedule: str
    line: Line
    at: datetime
    people: tuple[PersonId, ...]
    since: datetime | None
    until: datetime | None
    layer: str | None
    overrides: tuple[Override, ...] = ()

    @property
    def covered(self) -> bool:
        """False when nobody is on duty (a gap)."""
        return bool(self.people)

    @property
    def primary(self) -> PersonId | None:
        """The first person on duty (the layer's engineer unless overridden), or ``None``."""
        return self.people[0] if self.people else None


def _resolve(
    schedule: Schedule, at: datetime
) -> tuple[tuple[PersonId, ...], str | None, tuple[Override, ...]]:
    people: list[PersonId] = []
    layer_name = None
    for rotation in reversed(schedule.layers):
        person = person_at(rotation, schedule.zone, at)
        if person is not None:
            people = [person]
            layer_name = rotation.name
            break
    applied = tuple(override for override in schedule.overrides if override.covers(at))
    for override in applied:
        people = override.apply(people)
    return tuple(people), layer_name, applied


def _change_points(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    points = {start}
    zone = schedule.zone
    for rotation in schedule.layers:
        candidates = {rotation.starts_at(zone)}
        if rotation.ends_at is not None:
            candidates.add(rotation.ends_at)
        candidates.update(item.start for item in occurrences(rotation, zone, start, end))
        candidates.update(restriction_edges(rotation, zone, start, end))
        points.update(moment for moment in candidates if start <= moment < end)
    for override in schedule.overrides:
        points.update(moment for moment in (override.start, override.end) if start <= moment < end)
    return sorted(points)


def _segments(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Segments tiling [start, end) exactly, gaps included, clipped at both ends."""
    if end <= start:
        return []
    points = _change_points(schedule, start, end)
    segments: list[Shift] = []
    for here, after in zip(points, [*points[1:], end], strict=True):
        people = _resolve(schedule, here)[0]
        if segments and segments[-1].people == people:
            segments[-1] = Shift(segments[-1].start, after, people)
        else:
            segments.append(Shift(here, after, people))
    return segments


def _segments_around(
    schedule: Schedule, start: datetime, end: datetime, horizon: timedelta
) -> tuple[list[Shift], bool, bool]:
    """Segments overlapping [start, end) with their true bounds, found up to ``horizon`` out.

    Returns the segments and whether the first/last one was cut at the horizon.
    """
    back = forward = min(_FIRST_LOOK, horizon)
    while True:
        low, high = start - back, end + forward
        segments = _segments(schedule, low, high)
        cut_before = segments[0].end > start  # the segment holding `start` begins at `low`
        cut_after = segments[-1].start < end  # the segment holding `end - ε` ends at `high`
        grow_back = cut_before and back < horizon
        grow_forward = cut_after and forward < horizon
        if not (grow_back or grow_forward):
            inside = [seg for seg in segments if seg.end > start and seg.start < end]
            return inside, cut_before, cut_after
        if grow_back:
            back = min(back * 2, horizon)
        if grow_forward:
            forward = min(forward * 2, horizon)


def _check_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start = require_utc(start, "start")
    end = require_utc(end, "end")
    if end <= start:
        raise ShiftConfigError(
            f"period end ({end.isoformat()}) must be after its start ({start.isoformat()})"
        )
    return start, end


def on_duty(schedule: Schedule, at: datetime, *, horizon: timedelta = DEFAULT_HORIZON) -> OnDuty:
    """Who is on duty for ``schedule`` at UTC instant ``at`` (module docstring for the rule)."""
    at = require_utc(at, "at")
    people, layer_name, applied = _resolve(schedule, at)
    segments, cut_before, cut_after = _segments_around(
        schedule, at, at + timedelta(microseconds=1), horizon
    )
    (segment,) = segments
    return OnDuty(
        schedule=schedule.name,
        line=schedule.line,
        at=at,
        people=people,
        since=None if cut_before else segment.start,
        until=None if cut_after else segment.end,
        layer=layer_name,
        overrides=applied,
    )


def on_duty_by_line(
    schedules: Iterable[Schedule], at: datetime, *, horizon: timedelta = DEFAULT_HORIZON
) -> dict[Line, tuple[OnDuty, ...]]:
    """``on_duty`` for every schedule, grouped by line (for the wall and the routing stage)."""
    grouped: dict[Line, list[OnDuty]] = {}
    for schedule in schedules:
        grouped.setdefault(schedule.line, []).append(on_duty(schedule, at, horizon=horizon))
    return {line: tuple(found) for line, found in grouped.items()}


def final_schedule(
    schedule: Schedule, start: datetime, end: datetime, *, include_gaps: bool = False
) -> list[Shift]:
    """The segments of [start, end) (UTC), clipped to the period, in time order.

    With ``include_gaps`` the result tiles the period exactly, gaps as ``people == ()``;
    without, only staffed segments are returned.
    """
    start, end = _check_period(start, end)
    segments = _segments(schedule, start, end)
    return segments if include_gaps else [seg for seg in segments if seg.people]


def person_shifts(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    person: PersonId | None = None,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
) -> list[Shift]:
    """Each person's continuous duty overlapping [start, end), with its true start and end.

    One ``Shift(start, end, (person,))`` per maximal interval in which that person is on duty,
    whoever else is on duty with them; not clipped to the period (up to ``horizon``). Ordered by
    start, then person. ``person`` limits the result to one person.
    """
    start, end = _check_period(start, end)
    back = forward = min(_FIRST_LOOK, horizon)
    while True:
        low, high = start - back, end + forward
        duties = _duties(_segments(schedule, low, high), person)
        inside = [duty for duty in duties if duty.end > start and duty.start < end]
        # A duty that touches the edge of what we looked at may go on beyond it: look further.
        grow_back = back < horizon and any(duty.start == low for duty in inside)
        grow_forward = forward < horizon and any(duty.end == high for duty in inside)
        if not (grow_back or grow_forward):
            return inside
        if grow_back:
            back = min(back * 2, horizon)
        if grow_forward:
            forward = min(forward * 2, horizon)


def _duties(segments: list[Shift], person: PersonId | None) -> list[Shift]:
    """Merge tiling segments into each person's maximal continuous duty intervals."""
    open_since: dict[PersonId, datetime] = {}
    found: list[Shift] = []
    for segment in segments:
        for someone in [someone for someone in open_since if someone not in segment.people]:
            found.append(Shift(open_since.pop(someone), segment.start, (someone,)))
        for someone in segment.people:
            if person is None or someone == person:
                open_since.setdefault(someone, segment.start)
    if segments:
        last = segments[-1].end
        found.extend(Shift(since, last, (someone,)) for someone, since in open_since.items())
    found.sort(key=lambda shift: (shift.start, str(shift.people[0])))
    return found


def next_shift_for(
    schedule: Schedule,
    person: PersonId,
    after: datetime,
    *,
    within: timedelta = timedelta(days=62),
    horizon: timedelta = DEFAULT_HORIZON,
) -> Shift | None:
    """The person's next continuous duty starting at or after ``after``, within ``within``.

    A duty already running at ``after`` is not "next" (``on_duty`` tells about that one).
    ``None`` if the person has no duty starting in the window.
    """
    after = require_utc(after, "after")
    for shift in person_shifts(schedule, after, after + within, person, horizon=horizon):
        if shift.start >= after:
            return shift
    return None


def layer_shifts(
    schedule: Schedule, layer: str | int, start: datetime, end: datetime
) -> list[Shift]:
    """One layer's own shifts in [start, end): slot occurrences cut to its restrictions.

    ``layer`` is the rotation's name or its index in ``schedule.layers``. Each occurrence is a
    separate ``Shift`` (not merged), clipped to the period — what a rotation preview shows.
    """
    start, end = _check_period(start, end)
    rotation = _find_layer(schedule, layer)
    zone = schedule.zone
    pieces: list[Shift] = []
    for occurrence in occurrences(rotation, zone, start, end):
        low, high = max(occurrence.start, start), min(occurrence.end, end)
        edges = sorted({low, high} | restriction_edges(rotation, zone, low, high))
        run_start = None
        for here, _ in pairwise(edges):
            if restriction_allows(rotation, zone, here):
                run_start = here if run_start is None else run_start
            elif run_start is not None:
                pieces.append(Shift(run_start, here, (occurrence.person,)))
                run_start = None
        if run_start is not None:
            pieces.append(Shift(run_start, high, (occurrence.person,)))
    return pieces


def _find_layer(schedule: Schedule, layer: str | int) -> Rotation:
    if isinstance(layer, int) and not isinstance(layer, bool):
        if 0 <= layer < len(schedule.layers):
            return schedule.layers[layer]
    else:
        for rotation in schedule.layers:
            if rotation.name == layer:
                return rotation
    names = ", ".join(repr(rotation.name) for rotation in schedule.layers) or "none"
    raise ScheduleError(f"schedule {schedule.name!r} has no layer {layer!r}; layers: {names}")


def check_swap(schedule: Schedule, swap: Swap) -> None:
    """Raise ``SwapError`` unless each offered range is the offerer's duty in ``schedule``.

    Every offered range must be covered by ``offered_by`` throughout and ``taken_by`` must not
    already be on duty in it; ranges given back must be ``taken_by``'s duty throughout, with
    ``offered_by`` not on duty in them.
    """
    checks = [(swap.offered_by, swap.taken_by, rng) for rng in swap.shifts]
    checks += [(swap.taken_by, swap.offered_by, rng) for rng in swap.given_back]
    for giver, taker, (start, end) in checks:
        for segment in final_schedule(schedule, start, end, include_gaps=True):
            parts = {"instants": {"start": segment.start, "end": segment.end},
                     "people": {"giver": giver, "taker": taker}}
            if giver not in segment.people:
                raise SwapError(
                    f"{{giver}} is not on duty {{start}} – {{end}} in schedule "
                    f"{schedule.name!r}, so that time cannot be swapped away", **parts
                )
            if taker in segment.people:
                raise SwapError(
                    f"{{taker}} is already on duty {{start}} – {{end}} in schedule "
                    f"{schedule.name!r}", **parts
                )
