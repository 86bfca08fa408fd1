"""Rows ⇄ the pure shift value objects, and the on-duty lookups the rest of DutyDesk uses.

Every rule lives in the pure core (``shifts.patterns``, ``rotation``, ``schedule``, ``oncall``);
this module only translates: a ``ShiftRotationRow`` becomes a ``Rotation`` (so a stored row that
the core refuses raises the core's own ``ShiftConfigError``), a ``ShiftScheduleRow`` with its
rotations and overrides becomes a ``Schedule`` whose ``id`` is the row id and whose person ids
are ``users.id`` values.

Lookups used elsewhere:

* ``on_duty_now(session, now)`` — for the wall: one ``LineDuty`` per staffed line (people by
  display name), in line order; iterating it gives ``.line``, ``.people``, ``.until``.
* ``on_duty_logins(session, now)`` — ``{line: (login, ...)}`` for every line that has a
  schedule at any site, or ``None`` when no schedule is stored at all.
* ``on_duty_logins_by_site(session, now)`` — for incident routing: the same per site
  (``{site id: {line: (login, ...)}}``); ``shifts.site_duty`` picks the incident's site's.

``site_id`` arguments (``None``: every site) narrow a lookup to one site's schedules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from dutydesk.core.models.accounts import User
from shifts.errors import PatternError, RotationError
from shifts.models import ShiftOverrideRow, ShiftRotationRow, ShiftScheduleRow
from shifts.oncall import OnDuty, on_duty
from shifts.patterns import (
    ShiftPattern,
    crew_cycle,
    day_night,
    day_night_off_off,
    fixed_length,
    two_on_two_off,
)
from shifts.rotation import PersonId, Rotation, TimeWindow
from shifts.schedule import Line, Override, Schedule

__all__ = [
    "PATTERN_CHOICES",
    "LineDuty",
    "load_schedule",
    "load_schedules",
    "on_duty_by_line_now",
    "on_duty_logins",
    "on_duty_logins_by_site",
    "on_duty_now",
    "parse_handoff",
    "pattern_from",
    "restrictions_from",
    "rotation_from_row",
    "schedule_from_row",
    "user_names",
]

# Pattern name → (builder, the params it accepts with their defaults). The editor lists these.
PATTERN_CHOICES: dict[str, dict[str, Any]] = {
    "fixed_length": {"hours": 0, "days": 0, "weeks": 1},
    "day_night": {"day_hours": 12},
    "two_on_two_off": {"day_hours": 12},
    "day_night_off_off": {"day_hours": 12},
    "crew_cycle": {"name": "custom", "day_hours": 12, "day_crews": [0], "night_crews": [0]},
}


def pattern_from(name: str, params: Mapping[str, Any] | None) -> ShiftPattern:
    """Build the named pattern from stored params; unknown name or params: ``PatternError``."""
    if name not in PATTERN_CHOICES:
        allowed = ", ".join(PATTERN_CHOICES)
        raise PatternError(f"unknown shift pattern {name!r}; allowed: {allowed}")
    values = dict(params or {})
    extra = sorted(set(values) - set(PATTERN_CHOICES[name]))
    if extra:
        raise PatternError(f"pattern {name!r} does not take {', '.join(extra)}")
    if name == "fixed_length":
        return fixed_length(
            values.get("hours", 0), days=values.get("days", 0), weeks=values.get("weeks", 0)
        )
    if name == "day_night":
        return day_night(values.get("day_hours", 12))
    if name == "two_on_two_off":
        return two_on_two_off(values.get("day_hours", 12))
    if name == "day_night_off_off":
        return day_night_off_off(values.get("day_hours", 12))
    return crew_cycle(
        str(values.get("name", "custom")),
        values.get("day_hours", 12),
        values.get("day_crews", ()),
        values.get("night_crews", ()),
    )


def parse_handoff(value: str | time) -> time:
    """``"08:00"`` → ``time(8, 0)``; anything else raises ``RotationError`` naming the value."""
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise RotationError(f"handoff time must look like 08:00, got {value!r}") from None


def restrictions_from(items: Iterable[Mapping[str, Any]] | None) -> tuple[TimeWindow, ...]:
    """Stored restriction dicts (``weekdays``, ``start``, ``end``) → ``TimeWindow`` values."""
    windows = []
    if items is not None and not isinstance(items, list | tuple):
        raise RotationError(f"restrictions must be a list of windows, got {items!r}")
    for item in items or ():
        if not isinstance(item, Mapping):
            raise RotationError(
                f"a restriction must be an object with weekdays, start and end, got {item!r}"
            )
        weekdays = item.get("weekdays", range(7))
        if isinstance(weekdays, str | bytes) or not isinstance(weekdays, Iterable):
            raise RotationError(f"restriction weekdays must be a list, got {weekdays!r}")
        start, end = item.get("start", "00:00"), item.get("end", "00:00")
        for value in (start, end):
            if not isinstance(value, str):
                raise RotationError(f"restriction times must look like 08:00, got {value!r}")
        try:
            days = frozenset(weekdays)
        except TypeError:
            raise RotationError(f"restriction weekdays must be a list, got {weekdays!r}") from None
        windows.append(TimeWindow(parse_handoff(start), parse_handoff(end), days))
    return tuple(windows)


def rotation_from_row(row: ShiftRotationRow) -> Rotation:
    """One stored layer as a pure ``Rotation`` (raises the core's error if the row is invalid)."""
    start = row.start_date
    if isinstance(start, str):
        start = date.fromisoformat(start)
    return Rotation(
        name=row.name,
        participants=tuple(int(p) for p in row.participants or ()),
        pattern=pattern_from(row.pattern, row.pattern_params),
        handoff=parse_handoff(row.handoff_time),
        start=start,
        restrictions=restrictions_from(row.restrictions),
        ends_at=row.ends_at,
    )


def override_from_row(row: ShiftOverrideRow) -> Override:
    return Override(
        row.kind, row.person_id, row.starts_at, row.ends_at, row.replaces_id, row.note or ""
    )


def schedule_from_row(
    row: ShiftScheduleRow, overrides: Iterable[ShiftOverrideRow] = ()
) -> Schedule:
    """A stored schedule (its ``rotations`` loaded, ordered by position) as a pure ``Schedule``."""
    layers = tuple(rotation_from_row(r) for r in sorted(row.rotations, key=lambda r: r.position))
    ordered = sorted(overrides, key=lambda o: (o.created_at, o.id or 0))
    return Schedule(
        name=row.name,
        line=Line.parse(row.line),
        time_zone=row.time_zone,
        layers=layers,
        overrides=tuple(override_from_row(o) for o in ordered),
        id=row.id,
        site_id=row.site_id,
    )


def load_schedule(session: Session, schedule_id: int) -> Schedule | None:
    """The schedule with that id (2 queries: schedule + rotations, overrides), or ``None``."""
    found = load_schedules(session, ids=[schedule_id])
    return found[0] if found else None


def load_schedules(
    session: Session, *, line: Line | str | None = None, ids: Iterable[int] | None = None,
    site_id: int | None = None,
) -> list[Schedule]:
    """All stored schedules (optionally of one line / some ids / one site) as ``Schedule``
    values, by id.

    Three queries in all, however many schedules: schedules, their rotations, their overrides.
    """
    query = select(ShiftScheduleRow).options(selectinload(ShiftScheduleRow.rotations))
    if line is not None:
        query = query.where(ShiftScheduleRow.line == Line.parse(line).value)
    if ids is not None:
        query = query.where(ShiftScheduleRow.id.in_(list(ids)))
    if site_id is not None:
        query = query.where(ShiftScheduleRow.site_id == site_id)
    rows = list(session.scalars(query.order_by(ShiftScheduleRow.id)))
    if not rows:
        return []
    by_schedule: dict[int, list[ShiftOverrideRow]] = {}
    for override in session.scalars(
        select(ShiftOverrideRow).where(ShiftOverrideRow.schedule_id.in_([r.id for r in rows]))
    ):
        by_schedule.setdefault(override.schedule_id, []).append(override)
    return [schedule_from_row(row, by_schedule.get(row.id, ())) for row in rows]


def user_names(session: Session, ids: Iterable[PersonId]) -> dict[PersonId, str]:
    """Display names of the given user ids (unknown ids are left out)."""
    wanted = {int(i) for i in ids}
    if not wanted:
        return {}
    return {
        user_id: (name or email)
        for user_id, name, email in session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(wanted))
        )
    }


@dataclass(frozen=True, slots=True)
class LineDuty:
    """Who is on duty for one line: ``people`` display names, ``person_ids`` user ids.

    ``since``/``until`` bound the current state across the line's schedules (the latest
    ``since``, the earliest ``until``; ``None`` if unknown within the horizon).
    """

    line: Line
    people: tuple[str, ...]
    person_ids: tuple[PersonId, ...]
    since: datetime | None
    until: datetime | None
    schedules: tuple[OnDuty, ...]


def on_duty_by_line_now(
    session: Session, now: datetime, site_id: int | None = None
) -> dict[Line, LineDuty]:
    """``{line: LineDuty}`` for every line that has at least one stored schedule (of the site
    ``site_id``; ``None``: of every site)."""
    return _board(session, load_schedules(session, site_id=site_id), now)


def _board(session: Session, schedules: list[Schedule], now: datetime) -> dict[Line, LineDuty]:
    grouped: dict[Line, list[OnDuty]] = {}
    for schedule in schedules:
        grouped.setdefault(schedule.line, []).append(on_duty(schedule, now))
    ids = {p for duties in grouped.values() for d in duties for p in d.people}
    names = user_names(session, ids)
    result: dict[Line, LineDuty] = {}
    for line in Line:
        duties = grouped.get(line)
        if not duties:
            continue
        people: list[PersonId] = []
        for duty in duties:
            people.extend(p for p in duty.people if p not in people)
        sinces = [d.since for d in duties if d.since is not None]
        untils = [d.until for d in duties if d.until is not None]
        result[line] = LineDuty(
            line=line,
            people=tuple(names.get(p, str(p)) for p in people),
            person_ids=tuple(people),
            since=max(sinces) if sinces else None,
            until=min(untils) if untils else None,
            schedules=tuple(duties),
        )
    return result


def on_duty_now(session: Session, now: datetime) -> list[LineDuty]:
    """Who is on duty now per line (for the wall), in line order; see ``LineDuty``."""
    return list(on_duty_by_line_now(session, now).values())


def on_duty_logins(session: Session, now: datetime) -> dict[str, tuple[str, ...]] | None:
    """``{line value: logins on duty}`` at every site; ``None`` if no schedule exists."""
    board = on_duty_by_line_now(session, now)
    return _logins(session, board) if board else None


def _logins(session: Session, board: Mapping[Line, LineDuty]) -> dict[str, tuple[str, ...]]:
    ids = {int(p) for duty in board.values() for p in duty.person_ids}
    logins = dict(
        session.execute(
            select(User.id, func.lower(User.email)).where(User.id.in_(ids), User.active)
        ).all()
    ) if ids else {}
    return {
        line.value: tuple(logins[int(p)] for p in duty.person_ids if int(p) in logins)
        for line, duty in board.items()
    }


def on_duty_logins_by_site(
    session: Session, now: datetime
) -> dict[int, dict[str, tuple[str, ...]]]:
    """``{site id: {line value: logins on duty}}`` for incident routing (sites and lines
    without a schedule are left out; ``shifts.site_duty.duty_for_site`` applies the rule)."""
    by_site: dict[int, list[Schedule]] = {}
    for schedule in load_schedules(session):
        by_site.setdefault(int(schedule.site_id or 0), []).append(schedule)
    return {site: _logins(session, _board(session, schedules, now))
            for site, schedules in by_site.items()}
