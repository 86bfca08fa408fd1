"""Chat accounts linked to DutyDesk users by one-time codes.

A person asks for a code on their profile (``issue_code``: 8 characters, shown once, valid for
``CODE_LIFETIME``; only its SHA-256 is stored) and sends it to the bot (``/link CODE`` or
``/start CODE``). ``redeem_code`` uses it with compare-and-set (``used_at IS NULL AND
expires_at > now``), so a code works once even when two redemptions race. A chat account is
linked to one user at a time; linking it again moves it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dutydesk.core.models.accounts import Role, User
from dutydesk.incidents.chat.models import PROVIDERS, ChatLink, ChatLinkCode

CODE_LIFETIME = timedelta(minutes=15)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen, typed on a phone


class LinkError(ValueError):
    """The code or request cannot link an account; the message says why (shown in the chat)."""


def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _digest(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def issue_code(session: Session, user_id: int, now: datetime) -> str:
    """A new one-time code for ``user_id`` (earlier unused codes of theirs stop working)."""
    session.execute(delete(ChatLinkCode).where(ChatLinkCode.user_id == user_id,
                                               ChatLinkCode.used_at.is_(None)))
    code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    session.add(ChatLinkCode(user_id=user_id, code_hash=_digest(code), created_at=now,
                             expires_at=now + CODE_LIFETIME))
    session.flush()
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True, slots=True)
class Linked:
    user: User
    moved_from: int | None  # the user this chat account was linked to before, if another


def redeem_code(session: Session, code: str, provider: str, external_id: str, now: datetime,
                *, label: str = "") -> Linked:
    """Link ``provider``/``external_id`` to the code's user; ``LinkError`` when the code is
    unknown, used or expired (one message for all three, so codes cannot be probed)."""
    if provider not in PROVIDERS:
        raise LinkError(f"unknown chat provider {provider!r}")
    digest = _digest(code)
    if len(normalise_code(code)) != 8:
        raise LinkError("that is not a DutyDesk link code (8 letters and digits, e.g. ABCD-EFGH)")
    row = session.scalar(select(ChatLinkCode).where(ChatLinkCode.code_hash == digest))
    claimed = session.execute(
        update(ChatLinkCode)
        .where(ChatLinkCode.code_hash == digest, ChatLinkCode.used_at.is_(None),
               ChatLinkCode.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if row is None or claimed != 1:
        raise LinkError("this code is unknown, already used or expired; get a new one on your "
                        "DutyDesk profile (Notifications)")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise LinkError("the DutyDesk account of this code is not active")
    return Linked(user, link(session, provider, external_id, user.id, now, label=label))


def link(session: Session, provider: str, external_id: str, user_id: int, now: datetime,
         *, label: str = "") -> int | None:
    """Link the chat account to ``user_id``; returns the user it was linked to before (if
    another)."""
    existing = session.scalar(select(ChatLink).where(ChatLink.provider == provider,
                                                     ChatLink.external_id == external_id))
    if existing is not None:
        before = existing.user_id
        existing.user_id, existing.label, existing.created_at = user_id, label[:200], now
        session.flush()
        return before if before != user_id else None
    session.add(ChatLink(provider=provider, external_id=external_id[:200], label=label[:200],
                         user_id=user_id, created_at=now))
    session.flush()
    return None


def linked_user(session: Session, provider: str, external_id: str) -> User | None:
    return session.scalar(
        select(User).join(ChatLink, ChatLink.user_id == User.id)
        .where(ChatLink.provider == provider, ChatLink.external_id == str(external_id))
    )


def links_of(session: Session, user_id: int) -> list[ChatLink]:
    return list(session.scalars(select(ChatLink).where(ChatLink.user_id == user_id)
                                .order_by(ChatLink.id)))


def unlink(session: Session, user_id: int, link_id: int) -> ChatLink | None:
    """Remove one of ``user_id``'s links; ``None`` when it is not theirs."""
    row = session.get(ChatLink, link_id)
    if row is None or row.user_id != user_id:
        return None
    session.delete(row)
    session.flush()
    return row


def may_act(user: User | None) -> str | None:
    """Why ``user`` may not act on incidents from chat, or ``None`` when they may (the same
    least privilege as the web: engineers, shift leads and admins)."""
    if user is None:
        return "not linked"
    if not user.active:
        return "your DutyDesk account is deactivated"
    if not Role(user.role).at_least(Role.ENGINEER):
        return "your DutyDesk role may not act on incidents (engineers and above may)"
    return None
