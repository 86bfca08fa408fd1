"""Process one inbound mail through the handlers, exactly once (by Message-ID).

A handler is ``handler(session, mail, now) -> bool``: it works inside the given session (the
transaction that also writes the ledger row) and returns True when it consumed the mail. The
shell assembles the list (``dutydesk.jobs``); the first handler that consumes wins, so the
catch-all (a new request) goes last. Automatic mail (``loops.automatic_reason``) reaches no
handler. A handler that raises rolls its work back; the mail stays in the inbox and is tried
again, at most ``MAX_ATTEMPTS`` times, then it is set aside (``failed``) for a person to look at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.core.db import Database
from dutydesk.core.mailin.loops import automatic_reason
from dutydesk.core.mailin.message import InboundMail, parse_mail
from dutydesk.core.models.mailin import MailIntakeRow

log = logging.getLogger("dutydesk.mailin")
MAX_ATTEMPTS = 3


class MailHandler(Protocol):
    def __call__(self, session: Session, mail: InboundMail, now: datetime) -> bool: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one mail. ``done``: it may leave the inbox (stored, ignored, a repeat);
    ``set_aside``: it failed too often and goes to the failed folder."""

    status: str  # handled | ignored | unhandled | duplicate | failed
    message_id: str
    handler: str = ""
    reason: str = ""
    attempts: int = 0

    @property
    def done(self) -> bool:
        return self.status != "failed"

    @property
    def set_aside(self) -> bool:
        return self.status == "failed" and self.attempts >= MAX_ATTEMPTS


def handler_name(handler: Callable[..., object]) -> str:
    inner = getattr(handler, "func", handler)  # functools.partial
    return str(getattr(inner, "__name__", type(inner).__name__))[:100]


def process_mail(db: Database, mail: InboundMail, handlers: Sequence[MailHandler],
                 now: datetime, own_addresses: Iterable[str] = ()) -> Outcome:
    """Run ``mail`` through ``handlers`` once. A mail whose Message-ID is in the ledger is a
    repeat (``duplicate``: nothing runs again), unless it failed before and may be retried."""
    with db.session() as session:
        seen = session.scalar(select(MailIntakeRow).where(
            MailIntakeRow.message_id == mail.message_id))
        attempts = seen.attempts if seen is not None else 0
        if seen is not None and seen.status != "failed":
            return Outcome("duplicate", mail.message_id, seen.handler, seen.status, attempts)
        if seen is not None and attempts >= MAX_ATTEMPTS:
            return Outcome("failed", mail.message_id, seen.handler, seen.reason, attempts)
    try:
        with db.session() as session:
            row = session.scalar(select(MailIntakeRow).where(
                MailIntakeRow.message_id == mail.message_id))
            if row is None:
                row = MailIntakeRow(message_id=mail.message_id, attempts=0,
                                    status="unhandled", handler="", reason="")
                session.add(row)
            row.from_email, row.subject = mail.from_email[:254], mail.subject[:300]
            row.size, row.received_at, row.attempts = mail.size, now, row.attempts + 1
            reason = automatic_reason(mail, own_addresses)
            status, used = ("ignored", "") if reason else ("unhandled", "")
            if reason is None:
                for handler in handlers:
                    if handler(session, mail, now):
                        status, used = "handled", handler_name(handler)
                        break
            row.status, row.handler, row.reason = status, used, (reason or "")[:300]
            session.flush()
            attempts = row.attempts
    except IntegrityError as exc:
        if _stored(db, mail.message_id):  # another worker stored the same Message-ID first
            return Outcome("duplicate", mail.message_id, reason="stored by another worker")
        log.exception("mail intake: a handler failed", extra={"message_id": mail.message_id})
        return _record_failure(db, mail, now, f"{type(exc).__name__}: {exc}"[:300])
    except Exception as exc:
        log.exception("mail intake: a handler failed", extra={"message_id": mail.message_id})
        return _record_failure(db, mail, now, f"{type(exc).__name__}: {exc}"[:300])
    if status == "ignored":
        log.info("mail intake: ignored automatic mail",
                 extra={"message_id": mail.message_id, "reason": reason})
    return Outcome(status, mail.message_id, used, reason or "", attempts)


def _stored(db: Database, message_id: str) -> bool:
    with db.session() as session:
        status = session.scalar(select(MailIntakeRow.status).where(
            MailIntakeRow.message_id == message_id))
    return status is not None and status != "failed"


def _record_failure(db: Database, mail: InboundMail, now: datetime, reason: str) -> Outcome:
    try:
        with db.session() as session:
            row = session.scalar(select(MailIntakeRow).where(
                MailIntakeRow.message_id == mail.message_id))
            if row is None:
                row = MailIntakeRow(message_id=mail.message_id, attempts=0, status="failed",
                                    handler="", reason="", from_email=mail.from_email[:254],
                                    subject=mail.subject[:300], size=mail.size)
                session.add(row)
            row.attempts += 1
            row.status, row.reason, row.received_at = "failed", reason, now
            session.flush()
            attempts = row.attempts
    except Exception:
        log.exception("mail intake: could not record a failure")
        attempts = 0
    return Outcome("failed", mail.message_id, reason=reason, attempts=attempts)


def process_raw(db: Database, raw: bytes, handlers: Sequence[MailHandler], now: datetime,
                own_addresses: Iterable[str] = (), *, too_large: int = 0) -> Outcome:
    """Parse ``raw`` and process it. ``too_large``: the real size of a mail of which only the
    header was read (it was over the size limit); it is handled with an empty text and a
    warning, so the person who wrote it is still answered."""
    mail = parse_mail(raw)
    if too_large:
        mail = _header_only(mail, too_large)
    return process_mail(db, mail, handlers, now, own_addresses)


def _header_only(mail: InboundMail, size: int) -> InboundMail:
    from dataclasses import replace

    note = (f"the mail was {size / 1_048_576:.1f} MB, over the intake's limit: only its "
            "header was read (no text, no attachments)")
    return replace(mail, text="", attachments=(), size=size, warnings=(note,))
