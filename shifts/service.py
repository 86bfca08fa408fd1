"""Changing stored schedules: every write is validated by the pure core first, then audited.

Each function builds the pure value the change leads to (a ``Rotation``, an ``Override``, a
whole ``Schedule``, a ``Swap``) *before* anything is added to the session, so bad input raises
the core's ``ShiftConfigError`` with its message and nothing is saved. Callers commit.
A change to a schedule also enqueues "schedule changed" to its participants (idempotent per
schedule, change and person).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dutydesk.core.audit import record
from dutydesk.core.models.accounts import User
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.security import Principal
from dutydesk.validation import (
    ValidationError,
    clock_time,
    iso_date,
    record_id,
    weekdays,
)
from shifts.errors import ShiftConfigError, SwapError
from shifts.models import (
    JOURNAL_KINDS,
    CalendarTokenRow,
    ShiftJournalEntryRow,
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

_NOBODY = "\x00nobody"  # a taker that is never on duty, to check an offer before anyone takes it


class NotAllowed(ShiftConfigError):
    """The signed-in person may not do this (e.g. approve their own swap)."""


def _schedule_row(session: Session, schedule_id: int) -> ShiftScheduleRow:
    row = session.get(ShiftScheduleRow, schedule_id)
    if row is None:
        raise ShiftConfigError(f"schedule {schedule_id} does not exist")
    return row


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
) -> ShiftScheduleRow:
    """Add a schedule after the core accepted name, line and zone."""
    pure = Schedule(name=name.strip(), line=Line.parse(line), time_zone=time_zone.strip())
    if session.scalar(select(ShiftScheduleRow.id).where(ShiftScheduleRow.name == pure.name)):
        raise ShiftConfigError(f"a schedule named {pure.name!r} already exists")
    row = ShiftScheduleRow(
        name=pure.name, line=pure.line.value, time_zone=pure.time_zone, self_service=self_service
    )
    session.add(row)
    session.flush()
    record(session, who, "shifts.schedule.create", "shift_schedule", row.id,
           summary=f"created schedule {row.name} ({pure.line.label}, {row.time_zone})",
           after={"name": row.name, "line": row.line, "time_zone": row.time_zone,
                  "self_service": self_service})
    return row


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
) -> ShiftScheduleRow:
    """Rename / move / re-zone a schedule; its layers are re-checked in the new zone."""
    row = _schedule_row(session, schedule_id)
    current = _current(session, row)
    pure = replace(current, name=name.strip(), line=Line.parse(line), time_zone=time_zone.strip())
    before = {"name": row.name, "line": row.line, "time_zone": row.time_zone,
              "self_service": row.self_service}
    row.name, row.line, row.time_zone = pure.name, pure.line.value, pure.time_zone
    row.self_service = self_service
    row.updated_at = now
    record(session, who, "shifts.schedule.update", "shift_schedule", row.id,
           summary=f"changed schedule {row.name}", before=before,
           after={"name": row.name, "line": row.line, "time_zone": row.time_zone,
                  "self_service": self_service})
    notify_changed(session, row, now.isoformat(), "name, line or time zone changed")
    return row


def rotation_fields(form: dict[str, Any]) -> dict[str, Any]:
    """Normalise editor or API input into row fields: people are ids, the start a date, each
    restriction's weekdays 0..6 (``"sat"`` becomes 5), using ``dutydesk.validation``; anything
    malformed is a ``ShiftConfigError`` naming the field. The core judges the rest."""
    participants = form.get("participants") or []
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


def delete_rotation(
    session: Session, who: Principal, schedule_id: int, rotation_id: int, now: datetime
) -> None:
    row = _schedule_row(session, schedule_id)
    rotation = session.get(ShiftRotationRow, rotation_id)
    if rotation is None or rotation.schedule_id != row.id:
        raise ShiftConfigError(f"rotation {rotation_id} is not in schedule {row.name!r}")
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
    known = set(session.scalars(select(User.id).where(User.id.in_(ids)))) if ids else set()
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
           summary=f"override {pure.kind.value} user {person_id} in {row.name} "
                   f"{pure.start:%Y-%m-%d %H:%M}–{pure.end:%Y-%m-%d %H:%M} UTC",
           after={"kind": pure.kind.value, "person_id": person_id, "replaces_id": replaces_id,
                  "starts_at": pure.start.isoformat(), "ends_at": pure.end.isoformat(),
                  "note": note, "swap_id": swap_id})
    notify_changed(session, row, f"override:{override.id}", "an override was added")
    return override


def delete_override(
    session: Session, who: Principal, schedule_id: int, override_id: int, now: datetime
) -> None:
    override = session.get(ShiftOverrideRow, override_id)
    if override is None or override.schedule_id != schedule_id:
        raise ShiftConfigError(f"override {override_id} is not in schedule {schedule_id}")
    row = _schedule_row(session, schedule_id)
    pure = override_from_row(override)
    record(session, who, "shifts.override.delete", "shift_schedule", schedule_id,
           summary=f"removed override {pure.kind.value} user {pure.person} in {row.name}",
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
           summary=f"user {offered_by} offered {len(probe.shifts)} shift(s) in {row.name}",
           after={"shifts": swap.shifts, "note": note})
    return swap


def take_swap(
    session: Session, who: Principal, swap_id: int, taker: int, now: datetime
) -> ShiftSwapRow:
    """Another engineer takes an offer; with ``self_service`` it is approved at once."""
    swap = _swap(session, swap_id, "offered")
    row = _schedule_row(session, swap.schedule_id)
    pure = Swap(swap.offered_by_id, taker, _ranges(swap.shifts), note=swap.note)
    check_swap(_current(session, row), pure)
    swap.taken_by_id = taker
    swap.status = "taken"
    record(session, who, "shifts.swap.take", "shift_swap", swap.id,
           summary=f"user {taker} took swap {swap.id} in {row.name}")
    if row.self_service:
        _apply_swap(session, who, swap, row, pure, now)
    return swap


def decide_swap(
    session: Session, who: Principal, swap_id: int, approve: bool, now: datetime
) -> ShiftSwapRow:
    """The shift lead approves (overrides are stored) or rejects a taken swap."""
    swap = _swap(session, swap_id, "taken" if approve else None)
    if swap.status not in ("offered", "taken"):
        raise SwapError(f"swap {swap_id} is already {swap.status}")
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
           summary=f"swap {swap.id} in {row.name} approved: user {pure.offered_by} → "
                   f"user {pure.taken_by}")


def _swap(session: Session, swap_id: int, status: str | None) -> ShiftSwapRow:
    swap = session.get(ShiftSwapRow, swap_id)
    if swap is None:
        raise SwapError(f"swap {swap_id} does not exist")
    if status is not None and swap.status != status:
        raise SwapError(f"swap {swap_id} is {swap.status}, it must be {status} for this")
    return swap


# ----------------------------------------------------------------------------------- journal


def add_journal_entry(
    session: Session, who: Principal, *, kind: str, text: str, at: datetime,
    schedule_id: int | None = None, shift_start: datetime | None = None,
) -> ShiftJournalEntryRow:
    if kind not in JOURNAL_KINDS:
        raise ShiftConfigError(f"journal kind must be one of {', '.join(JOURNAL_KINDS)}, "
                               f"got {kind!r}")
    if not text.strip():
        raise ShiftConfigError("a journal entry needs some text")
    entry = ShiftJournalEntryRow(
        schedule_id=schedule_id, shift_start=shift_start, author_id=who.user_id,
        author=who.label, at=at, kind=kind, text=text.strip(),
    )
    session.add(entry)
    session.flush()
    record(session, who, "shifts.journal.add", "shift_journal", entry.id,
           summary=f"journal {kind}: {text.strip()[:120]}")
    return entry


def search_journal(
    session: Session, query: str = "", *, schedule_id: int | None = None, limit: int = 200
) -> list[ShiftJournalEntryRow]:
    """Newest first; ``query`` matches text or author, case-insensitively."""
    stmt = select(ShiftJournalEntryRow).order_by(
        ShiftJournalEntryRow.at.desc(), ShiftJournalEntryRow.id.desc()
    )
    if query.strip():
        like = f"%{query.strip()}%"
        stmt = stmt.where(or_(ShiftJournalEntryRow.text.ilike(like),
                              ShiftJournalEntryRow.author.ilike(like)))
    if schedule_id is not None:
        stmt = stmt.where(ShiftJournalEntryRow.schedule_id == schedule_id)
    return list(session.scalars(stmt.limit(limit)))


# ------------------------------------------------------------------------ calendar tokens


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_calendar_token(session: Session, who: Principal, user_id: int, now: datetime) -> str:
    """Revoke the user's previous calendar secrets and return a new one (shown once)."""
    revoke_calendar_tokens(session, who, user_id, now)
    token = secrets.token_urlsafe(24)
    session.add(CalendarTokenRow(user_id=user_id, token_hash=_hash(token), created_at=now))
    record(session, who, "shifts.calendar_token.create", "user", user_id,
           summary="new calendar subscription link")
    return token


def revoke_calendar_tokens(session: Session, who: Principal, user_id: int, now: datetime) -> int:
    rows = list(session.scalars(select(CalendarTokenRow).where(
        CalendarTokenRow.user_id == user_id, CalendarTokenRow.revoked_at.is_(None))))
    for row in rows:
        row.revoked_at = now
    if rows:
        record(session, who, "shifts.calendar_token.revoke", "user", user_id,
               summary=f"revoked {len(rows)} calendar link(s)")
    return len(rows)


def calendar_user(session: Session, token: str) -> int | None:
    """The user id owning a live calendar secret, else ``None``."""
    if not token:
        return None
    return session.scalar(select(CalendarTokenRow.user_id).where(
        CalendarTokenRow.token_hash == _hash(token), CalendarTokenRow.revoked_at.is_(None)))


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
    "update_schedule",
]
