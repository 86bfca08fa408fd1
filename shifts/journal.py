"""The shift journal (notes, handovers, events during a shift) and calendar subscription
secrets: every write audited; callers commit. Re-exported by ``shifts.service``."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dutydesk.core.audit import record
from dutydesk.core.security import Principal
from shifts.errors import ShiftConfigError
from shifts.models import JOURNAL_KINDS, CalendarTokenRow, ShiftJournalEntryRow


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


__all__ = [
    "add_journal_entry",
    "calendar_user",
    "new_calendar_token",
    "revoke_calendar_tokens",
    "search_journal",
]
