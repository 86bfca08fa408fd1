"""Storage of duty schedules (rows only; the rules live in the pure ``shifts`` core).

``shifts.storage`` maps these rows to ``shifts.schedule.Schedule`` values and back. Nothing
computed is stored: the final schedule is always recomputed from rotations and overrides.
Person ids in rotations, overrides and swaps are ``users.id`` values.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dutydesk.core.db import Base, utcnow
from dutydesk.core.sites import site_column

SWAP_STATUSES = ("offered", "taken", "approved", "rejected", "withdrawn")
JOURNAL_KINDS = ("event", "call", "round", "note")


class ShiftScheduleRow(Base):
    """A duty line's schedule in one IANA zone."""

    __tablename__ = "shift_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    line: Mapped[str] = mapped_column(String(20), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # Engineers may swap shifts without the shift lead's approval.
    self_service: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The data center whose duty this schedule covers (a duty rotation per site).
    site_id: Mapped[int] = site_column()
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    rotations: Mapped[list[ShiftRotationRow]] = relationship(
        back_populates="schedule",
        cascade="all, delete-orphan",
        order_by="ShiftRotationRow.position",
    )


class ShiftRotationRow(Base):
    """One layer; ``position`` is its priority (higher wins), ``participants`` user ids."""

    __tablename__ = "shift_rotations"
    __table_args__ = (UniqueConstraint("schedule_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("shift_schedules.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    participants: Mapped[list[Any]] = mapped_column(default=list)
    pattern: Mapped[str] = mapped_column(String(40))
    pattern_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    handoff_time: Mapped[str] = mapped_column(String(5))  # "HH:MM" local
    start_date: Mapped[date] = mapped_column(Date)
    # [{"weekdays": [0..6], "start": "HH:MM", "end": "HH:MM"}]
    restrictions: Mapped[list[Any]] = mapped_column(default=list)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    schedule: Mapped[ShiftScheduleRow] = relationship(back_populates="rotations")


class ShiftOverrideRow(Base):
    """An override (add / remove / replace) of ``person`` for [starts_at, ends_at)."""

    __tablename__ = "shift_overrides"
    __table_args__ = (Index("ix_shift_overrides_schedule_end", "schedule_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("shift_schedules.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    person_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    note: Mapped[str] = mapped_column(String(500), default="")
    swap_id: Mapped[int | None] = mapped_column(
        ForeignKey("shift_swaps.id", ondelete="SET NULL"), default=None
    )
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShiftSwapRow(Base):
    """A swap request: ``offered_by`` offers ``shifts`` ([[start, end], ...] ISO UTC)."""

    __tablename__ = "shift_swaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("shift_schedules.id", ondelete="CASCADE"), index=True
    )
    offered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    shifts: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(12), default="offered", index=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class HandoffReportRow(Base):
    """The report handed from the outgoing to the incoming engineer at one handoff."""

    __tablename__ = "shift_handoff_reports"
    __table_args__ = (UniqueConstraint("schedule_id", "shift_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("shift_schedules.id", ondelete="CASCADE"))
    shift_start: Mapped[datetime] = mapped_column()  # the handoff instant (incoming shift start)
    shift_end: Mapped[datetime | None] = mapped_column(default=None)
    previous_start: Mapped[datetime | None] = mapped_column(default=None)
    outgoing_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    incoming_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outgoing_notes: Mapped[str] = mapped_column(Text, default="")
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class ShiftJournalEntryRow(Base):
    """A line of the duty log written during a shift."""

    __tablename__ = "shift_journal"
    __table_args__ = (Index("ix_shift_journal_schedule_at", "schedule_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("shift_schedules.id", ondelete="SET NULL"), default=None
    )
    shift_start: Mapped[datetime | None] = mapped_column(default=None)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    author: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(10), default="note")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarTokenRow(Base):
    """A per-user secret for iCalendar feed URLs; only its SHA-256 is stored; revocable."""

    __tablename__ = "shift_calendar_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
