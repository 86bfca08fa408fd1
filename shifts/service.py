"""Changing stored schedules: every write is validated by the pure core first, then audited.

Each function builds the pure value the change leads to (a ``Rotation``, an ``Override``, a
whole ``Schedule``, a ``Swap``) *before* anything is added to the session, so bad input raises
the core's ``ShiftConfigError`` with its message and nothing is saved. Callers commit.
A change to a schedule also enqueues "schedule changed" to its participants (idempotent per
schedule, change and person).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core.audit import record
from dutydesk.core.models.accounts import User
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.security import Principal
from dutydesk.core.site_scope import UnknownSite, default_site, optional_site, site_names
from dutydesk.core.sites import Site
from dutydesk.core.validation import (
    ValidationError,
    clock_time,
    iso_date,
    record_id,
    weekdays,
)
from shifts.errors import (
    NotFound,
    ScheduleConflict,
    ShiftConfigError,
    SwapStateError,
)
from shifts.journal import (
    add_journal_entry,
    calendar_user,
    new_calendar_token,
    revoke_calendar_tokens,
    search_journal,
)
from shifts.models import (
    ShiftOverrideRow,
    ShiftRotationRow,
    ShiftScheduleRow,
    ShiftSwapRow,
)
from shifts.oncall import check_swap
from shifts.schedule import Line, Override, Schedule, Swap
from shifts.storage import (
    load_schedule,
    override_from_row,
    pattern_from,
    restrictions_from,
    rotation_from_row,
    schedule_from_row,
)

MAX_SWAP_RANGE = timedelta(days=31)
_NOBODY = "\x00nobody"  # a taker that is never on duty, to check an offer before anyone takes it


class NotAllowed(ShiftConfigError):
    """The signed-in person may not do this (e.g. approve their own swap)."""


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL; a larger one names nothing


def stored_id(value: Any) -> int | None:
    """``value`` as a storable row id (1 … 2^31-1), else ``None`` (never raises)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if isinstance(value, float) and value != number:
        return None
    return number if 0 < number <= MAX_ID else None


def _get(session: Session, model: Any, row_id: Any) -> Any:
    key = stored_id(row_id)
    return session.get(model, key) if key is not None else None


def _schedule_row(session: Session, schedule_id: int) -> ShiftScheduleRow:
    row = _get(session, ShiftScheduleRow, schedule_id)
    if row is None:
        raise NotFound(f"schedule {schedule_id} does not exist")
    return row


def _name(session: Session, user_id: int | None) -> str:
    """A person as the audit log shows them: their name (e-mail if none), never a bare id."""
    if user_id is None:
        return "nobody"
    user = _get(session, User, user_id)
    return (user.name or user.email) if user is not None else f"user {user_id}"


def _current(session: Session, row: ShiftScheduleRow) -> Schedule:
    overrides = session.scalars(
        select(ShiftOverrideRow).where(ShiftOverrideRow.schedule_id == row.id)
    )
    return schedule_from_row(row, overrides)


def notify_changed(
    session: Session, row: ShiftScheduleRow, change_key: str, summary: str, base_url: str = ""
) -> int:
    """Enqueue "schedule changed" to every participant of ``row`` once per ``change_key``."""
    people = {int(p) for r in row.rotations for p in (r.participants or ())}
    users = session.scalars(select(User).where(User.id.in_(people), User.active)) if people else []
    count = 0
    for user in users:
        message = enqueue(
            session,
            channel="email",
            target=user.email,
            subject=f"Schedule changed: {row.name}",
            body_text=(
                f"The duty schedule {row.name!r} ({Line.parse(row.line).label}) changed: "
                f"{summary}\n\n{base_url.rstrip('/')}/shifts/schedules/{row.id}\n"
            ),
            idempotency_key=f"shifts:schedule:{row.id}:changed:{change_key}:user:{user.id}",
            source_type="shift_schedule",
            source_id=row.id,
        )
        count += message is not None
    return count


def create_schedule(
    session: Session,
    who: Principal,
    *,
    name: str,
    line: str,
    time_zone: str,
    self_service: bool = False,
    site: str | None = None,
) -> ShiftScheduleRow:
    """Add a schedule after the core accepted name, line and zone. ``site``: the slug of the
    site whose duty it covers (``None`` or blank: the default site); an unknown slug is
    refused (``ShiftConfigError``) and nothing is saved."""
    pure = Schedule(name=name.strip(), line=Line.parse(line), time_zone=time_zone.strip())
    site_row = _site(session, site) or default_site(session)
    if session.scalar(select(ShiftScheduleRow.id).where(ShiftScheduleRow.name == pure.name)):
        raise ScheduleConflict(f"a schedule named {pure.name!r} already exists")
    row = ShiftScheduleRow(
        name=pure.name, line=pure.line.value, time_zone=pure.time_zone, self_service=self_service,
        site_id=site_row.id,
    )
    session.add(row)
    session.flush()
    record(session, who, "shifts.schedule.create", "shift_schedule", row.id,
           summary=f"created schedule {row.name} ({pure.line.label}, {row.time_zone}, "
                   f"site {site_row.slug})",
           after={"name": row.name, "line": row.line, "time_zone": row.time_zone,
                  "self_service": self_service, "site": site_row.slug})
    return row


def _site(session: Session, slug: str | None) -> Site | None:
    """The site a form or API body names (``None``: not named); unknown → ``ShiftConfigError``."""
    try:
        return optional_site(session, slug)
    except UnknownSite as exc:
        raise ShiftConfigError(str(exc)) from None


def update_schedule(
    session: Session,
    who: Principal,
    schedule_id: int,
    *,
    name: str,
    line: str,
    time_zone: str,
    self_service: bool,
    now: datetime,
    site: str | None = None,
) -> ShiftScheduleRow:
    """Rename / move / re-zone a schedule, or move it to another site (``site``: a slug;
    ``None`` or blank: unchanged); its layers are re-checked in the new zone."""
    row = _schedule_row(session, schedule_id)
    current = _current(session, row)
    pure = replace(current, name=name.strip(), line=Line.parse(line), time_zone=time_zone.strip())
    site_row = _site(session, site)
    if session.scalar(select(ShiftScheduleRow.id).where(
            ShiftScheduleRow.name == pure.name, ShiftScheduleRow.id != row.id)):
        raise ScheduleConflict(f"a schedule named {pure.name!r} already exists")
    slugs = site_names(session)
    before = {"name": row.name, "line": row.line, "time_zone": row.time_zone,
              "self_service": row.self_service, "site": slugs[row.site_id].slug}
    row.name, row.line, row.time_zone = pure.name, pure.line.value, pure.time_zone
    row.self_service = self_service
    if site_row is not None:
        row.site_id = site_row.id
    row.updated_at = now
    record(session, who, "shifts.schedule.update", "shift_schedule", row.id,
           summary=f"changed schedule {row.name}", before=before,
           after={"name": row.name, "line": row.line, "time_zone": row.time_zone,
                  "self_service": self_service, "site": slugs[row.site_id].slug})
    notify_changed(session, row, now.isoformat(), "name, line or time zone changed")
    return row


def rotation_fields(form: dict[str, Any]) -> dict[str, Any]:
    """Normalise editor or API input into row fields: people are ids, the start a date, each
    restriction's weekdays 0..6 (``"sat"`` becomes 5), using ``dutydesk.core.validation``; anything
    malformed is a ``ShiftConfigError`` naming the field. The core judges the rest."""
    participants = form.get("participants") or []
    if not isinstance(participants, str | list | tuple):
        raise ShiftConfigError(f"participants must be a list of user ids, got {participants!r}")
    if isinstance(participants, str):
        participants = [p for p in participants.replace(",", " ").split() if p]
    try:
        if not isinstance(participants, list | tuple):
            raise ValidationError("participants", "expected a list of user ids")
        people = [record_id(p, "participants") for p in participants]
        start = form.get("start_date")
        if isinstance(start, str) or start is None:
            start = iso_date(start, "start_date", optional=True)
        restrictions = [_restriction(item) for item in _listed(form, "restrictions")]
        pattern_params = form.get("pattern_params") or {}
        if not isinstance(pattern_params, dict):
            raise ValidationError("pattern_params", "expected an object")
    except ValidationError as exc:
        raise ShiftConfigError(str(exc)) from None
    for key, kinds, what in (("name", str, "a text"), ("pattern", str, "a text"),
                             ("handoff_time", str, "a time such as 08:00")):
        value = form.get(key)
        if value is not None and not isinstance(value, kinds):
            raise ShiftConfigError(f"{key.replace('_', ' ')} must be {what}, got {value!r}")
    if not isinstance(start, date):
        raise ShiftConfigError(f"start date must look like 2026-03-01, got {start!r}")
    return {
        "name": str(form.get("name", "")).strip(),
        "participants": people,
        "pattern": str(form.get("pattern", "fixed_length")),
        "pattern_params": dict(pattern_params),
        "handoff_time": str(form.get("handoff_time", "08:00")).strip(),
        "start_date": start,
        "restrictions": restrictions,
    }


def _listed(form: dict[str, Any], name: str) -> list[Any]:
    value = form.get(name) or []
    if not isinstance(value, list | tuple):
        raise ValidationError(name, "expected a list")
    return list(value)


def _restriction(item: Any) -> dict[str, Any]:
    """One restriction window as stored: weekdays as numbers, times as ``HH:MM`` text."""
    if not isinstance(item, dict):
        raise ValidationError("restrictions", "each restriction must be an object")
    days = item.get("weekdays", list(range(7)))
    return {
        "weekdays": weekdays([days] if isinstance(days, str | int) else days, "weekdays"),
        "start": clock_time(item.get("start") or "00:00", "start").strftime("%H:%M"),
        "end": clock_time(item.get("end") or "00:00", "end").strftime("%H:%M"),
    }


def add_rotation(
    session: Session, who: Principal, schedule_id: int, fields: dict[str, Any], now: datetime
) -> ShiftRotationRow:
    """Add a layer on top (highest priority) after the core accepted it in this schedule."""
    row = _schedule_row(session, schedule_id)
    unknown = _unknown_users(session, fields["participants"])
    if unknown:
        raise ShiftConfigError(f"participants must be existing users; unknown ids: {unknown}")
    position = max((r.position for r in row.rotations), default=-1) + 1
    candidate = ShiftRotationRow(position=position, **fields)
    rotation = rotation_from_row(candidate)  # the core's checks, before anything is saved
    current = _current(session, row)
    replace(current, layers=(*current.layers, rotation))  # unique names, ends after start
    candidate.schedule_id = row.id
    session.add(candidate)
    row.rotations.append(candidate)
    row.updated_at = now
    session.flush()
    record(session, who, "shifts.rotation.create", "shift_schedule", row.id,
           summary=f"added rotation {candidate.name} to {row.name}",
           after={**fields, "start_date": str(fields["start_date"]), "position": position})
    notify_changed(session, row, f"rotation:{candidate.id}:added",
                   f"rotation {candidate.name} added")
    return candidate


def delete_schedule(session: Session, who: Principal, schedule_id: int) -> None:
    """Remove a schedule with its layers, overrides, swaps and handoff reports (journal stays)."""
    row = _schedule_row(session, schedule_id)
    record(session, who, "shifts.schedule.delete", "shift_schedule", row.id,
           summary=f"deleted schedule {row.name}",
           before={"name": row.name, "line": row.line, "time_zone": row.time_zone,
                   "rotations": [r.name for r in row.rotations]})
    for model in (ShiftOverrideRow, ShiftSwapRow):
        for child in session.scalars(select(model).where(model.schedule_id == row.id)):
            session.delete(child)
    session.flush()
    session.delete(row)
    session.flush()


def update_rotation(
    session: Session, who: Principal, schedule_id: int, rotation_id: int,
    fields: dict[str, Any], now: datetime,
) -> ShiftRotationRow:
    """Replace a layer's settings (same position) after the core accepted them in this schedule."""
    row = _schedule_row(session, schedule_id)
    rotation = _get(session, ShiftRotationRow, rotation_id)
    if rotation is None or rotation.schedule_id != row.id:
        raise NotFound(f"rotation {rotation_id} is not in schedule {row.name!r}")
    unknown = _unknown_users(session, fields["participants"])
    if unknown:
        raise ShiftConfigError(f"participants must be existing users; unknown ids: {unknown}")
    candidate = ShiftRotationRow(position=rotation.position, **fields)
    pure = rotation_from_row(candidate)  # the core's checks, before anything changes
    current = _current(session, row)
    layers = tuple(pure if layer.name == rotation.name else layer for layer in current.layers)
    if pure.name != rotation.name:
        layers = (*(la for la in current.layers if la.name != rotation.name), pure)
    replace(current, layers=layers)  # unique names, ends after start
    before = {"name": rotation.name, "participants": rotation.participants,
              "pattern": rotation.pattern, "pattern_params": rotation.pattern_params,
              "handoff_time": rotation.handoff_time, "start_date": str(rotation.start_date),
              "restrictions": rotation.restrictions}
    for key, value in fields.items():
        setattr(rotation, key, value)
    row.updated_at = now
    session.flush()
    record(session, who, "shifts.rotation.update", "shift_schedule", row.id,
           summary=f"changed rotation {rotation.name} in {row.name}", before=before,
           after={**fields, "start_date": str(fields["start_date"])})
    notify_changed(session, row, f"rotation:{rotation.id}:changed:{now.isoformat()}",
                   f"rotation {rotation.name} changed")
    return rotation


def delete_rotation(
    session: Session, who: Principal, schedule_id: int, rotation_id: int, now: datetime
) -> None:
    row = _schedule_row(session, schedule_id)
    rotation = _get(session, ShiftRotationRow, rotation_id)
    if rotation is None or rotation.schedule_id != row.id:
        raise NotFound(f"rotation {rotation_id} is not in schedule {row.name!r}")
    record(session, who, "shifts.rotation.delete", "shift_schedule", row.id,
           summary=f"removed rotation {rotation.name} from {row.name}",
           before={"name": rotation.name, "participants": rotation.participants,
                   "pattern": rotation.pattern})
    row.rotations.remove(rotation)
    session.delete(rotation)
    row.updated_at = now
    notify_changed(session, row, f"rotation:{rotation_id}:removed",
                   f"rotation {rotation.name} removed")


def _unknown_users(session: Session, ids: list[int]) -> list[int]:
    storable = [i for i in ids if stored_id(i) is not None]
    known = (set(session.scalars(select(User.id).where(User.id.in_(storable))))
             if storable else set())
    return sorted(set(ids) - known)


def add_override(
    session: Session,
    who: Principal,
    schedule_id: int,
    *,
    kind: str,
    person_id: int,
    starts_at: datetime,
    ends_at: datetime,
    replaces_id: int | None = None,
    note: str = "",
    swap_id: int | None = None,
    now: datetime,
) -> ShiftOverrideRow:
    """Store an override the core accepted (kind, person, range, replaces)."""
    row = _schedule_row(session, schedule_id)
    pure = Override(kind, person_id, starts_at, ends_at, replaces_id, note)
    unknown = _unknown_users(session, [i for i in (person_id, replaces_id) if i is not None])
    if unknown:
        raise ShiftConfigError(f"override people must be existing users; unknown ids: {unknown}")
    override = ShiftOverrideRow(
        schedule_id=row.id, kind=pure.kind.value, person_id=person_id, replaces_id=replaces_id,
        starts_at=pure.start, ends_at=pure.end, note=note, swap_id=swap_id,
        created_by=who.label, created_at=now,
    )
    session.add(override)
    row.updated_at = now
    session.flush()
    record(session, who, "shifts.override.create", "shift_schedule", row.id,
           summary=f"override {pure.kind.value} {_name(session, person_id)} in {row.name} "
                   f"{pure.start:%Y-%m-%d %H:%M}–{pure.end:%Y-%m-%d %H:%M} UTC",
           after={"kind": pure.kind.value, "person_id": person_id, "replaces_id": replaces_id,
                  "starts_at": pure.start.isoformat(), "ends_at": pure.end.isoformat(),
                  "note": note, "swap_id": swap_id})
    notify_changed(session, row, f"override:{override.id}", "an override was added")
    return override


def delete_override(
    session: Session, who: Principal, schedule_id: int, override_id: int, now: datetime
) -> None:
    override = _get(session, ShiftOverrideRow, override_id)
    if override is None or override.schedule_id != schedule_id:
        raise NotFound(f"override {override_id} is not in schedule {schedule_id}")
    row = _schedule_row(session, schedule_id)
    pure = override_from_row(override)
    record(session, who, "shifts.override.delete", "shift_schedule", schedule_id,
           summary=f"removed override {pure.kind.value} {_name(session, override.person_id)} "
                   f"in {row.name}",
           before={"kind": pure.kind.value, "person_id": override.person_id,
                   "starts_at": pure.start.isoformat(), "ends_at": pure.end.isoformat()})
    session.delete(override)
    row.updated_at = now
    notify_changed(session, row, f"override:{override_id}:removed", "an override was removed")


def publish(session: Session, who: Principal, schedule_id: int, now: datetime) -> None:
    row = _schedule_row(session, schedule_id)
    row.published_at = now
    record(session, who, "shifts.schedule.publish", "shift_schedule", row.id,
           summary=f"published schedule {row.name}")
    notify_changed(session, row, f"published:{now.isoformat()}", "the schedule was published")


# ------------------------------------------------------------------------------------- swaps


def _ranges(items: list[Any]) -> tuple[tuple[datetime, datetime], ...]:
    return tuple(
        (datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in items
    )


def offer_swap(
    session: Session,
    who: Principal,
    schedule_id: int,
    offered_by: int,
    shifts: list[tuple[datetime, datetime]],
    note: str,
    now: datetime,
) -> ShiftSwapRow:
    """An engineer offers their own shifts; the core checks each range really is theirs."""
    row = _schedule_row(session, schedule_id)
    if _unknown_users(session, [offered_by]):
        raise NotFound(f"no user {offered_by}")
    for start, end in shifts:
        if end - start > MAX_SWAP_RANGE:  # checking duty over years would hold the request
            raise ShiftConfigError(
                f"an offered shift can be at most {MAX_SWAP_RANGE.days} days long; offer "
                "longer absences as several shifts or ask the lead for an override")
    probe = Swap(offered_by, _NOBODY, tuple(shifts), note=note)
    check_swap(_current(session, row), probe)
    swap = ShiftSwapRow(
        schedule_id=row.id, offered_by_id=offered_by, status="offered", note=note,
        shifts=[[start.isoformat(), end.isoformat()] for start, end in probe.shifts],
        created_at=now,
    )
    session.add(swap)
    session.flush()
    record(session, who, "shifts.swap.offer", "shift_swap", swap.id,
           summary=f"{_name(session, offered_by)} offered {len(probe.shifts)} shift(s) in "
                   f"{row.name}",
           after={"shifts": swap.shifts, "note": note})
    return swap


def take_swap(
    session: Session, who: Principal, swap_id: int, taker: int, now: datetime
) -> ShiftSwapRow:
    """Another engineer takes an offer; with ``self_service`` it is approved at once."""
    swap = _swap(session, swap_id, "offered")
    if taker is None or _unknown_users(session, [taker]):
        raise NotFound(f"no user {taker}")
    row = _schedule_row(session, swap.schedule_id)
    pure = Swap(swap.offered_by_id, taker, _ranges(swap.shifts), note=swap.note)
    check_swap(_current(session, row), pure)
    swap.taken_by_id = taker
    swap.status = "taken"
    record(session, who, "shifts.swap.take", "shift_swap", swap.id,
           summary=f"{_name(session, taker)} took swap {swap.id} in {row.name}")
    if row.self_service:
        _apply_swap(session, who, swap, row, pure, now)
    return swap


def decide_swap(
    session: Session, who: Principal, swap_id: int, approve: bool, now: datetime
) -> ShiftSwapRow:
    """The shift lead approves (overrides are stored) or rejects a taken swap."""
    swap = _swap(session, swap_id, "taken" if approve else None)
    if swap.status not in ("offered", "taken"):
        raise SwapStateError(f"swap {swap_id} is already {swap.status}")
    row = _schedule_row(session, swap.schedule_id)
    if not approve:
        swap.status, swap.approver_id, swap.decided_at = "rejected", who.user_id, now
        record(session, who, "shifts.swap.reject", "shift_swap", swap.id,
               summary=f"rejected swap {swap.id} in {row.name}")
        return swap
    assert swap.taken_by_id is not None
    pure = Swap(swap.offered_by_id, swap.taken_by_id, _ranges(swap.shifts), note=swap.note)
    check_swap(_current(session, row), pure)  # the schedule may have changed meanwhile
    _apply_swap(session, who, swap, row, pure, now)
    return swap


def _apply_swap(
    session: Session, who: Principal, swap: ShiftSwapRow, row: ShiftScheduleRow, pure: Swap,
    now: datetime,
) -> None:
    for override in pure.overrides():
        add_override(session, who, row.id, kind=override.kind.value, person_id=int(override.person),
                     starts_at=override.start, ends_at=override.end,
                     replaces_id=int(override.replaces) if override.replaces is not None else None,
                     note=override.note, swap_id=swap.id, now=now)
    swap.status, swap.approver_id, swap.decided_at = "approved", who.user_id, now
    record(session, who, "shifts.swap.approve", "shift_swap", swap.id,
           summary=f"swap {swap.id} in {row.name} approved: "
                   f"{_name(session, swap.offered_by_id)} → {_name(session, swap.taken_by_id)}")


def _swap(session: Session, swap_id: int, status: str | None) -> ShiftSwapRow:
    swap = _get(session, ShiftSwapRow, swap_id)
    if swap is None:
        raise NotFound(f"swap {swap_id} does not exist")
    if status is not None and swap.status != status:
        raise SwapStateError(f"swap {swap_id} is {swap.status}, it must be {status} for this")
    return swap


def schedule_or_none(session: Session, schedule_id: int) -> Schedule | None:
    return load_schedule(session, schedule_id)


__all__ = [
    "NotAllowed",
    "add_journal_entry",
    "add_override",
    "add_rotation",
    "calendar_user",
    "create_schedule",
    "decide_swap",
    "delete_override",
    "delete_rotation",
    "delete_schedule",
    "new_calendar_token",
    "notify_changed",
    "offer_swap",
    "pattern_from",
    "publish",
    "restrictions_from",
    "revoke_calendar_tokens",
    "rotation_fields",
    "search_journal",
    "take_swap",
    "update_rotation",
    "update_schedule",
]
