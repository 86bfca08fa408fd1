"""Signed page tokens: what lets a person act on an incident from the page itself (pure).

A page to one person carries one token per action (the links: acknowledge, resolve, escalate,
snooze, open) and one *reply* token (in the mail's subject and Message-ID, for replies by mail).
A token names the incident, the person (user id), the action and a random nonce shared by the
tokens of one page, and is signed with the site's secret by ``itsdangerous`` (the same library
and secret as the requesters' "my requests" links, with a salt of its own) with the time it
was issued. Nothing is stored when a token is issued; a use is stored once it is acted on
(``page_token_uses``: nonce + action), so each link works once.

``read_token(secret, token, now, max_age)`` raises ``BadActionToken`` whose ``reason`` says why
a token cannot be used: ``"forged"`` (altered, made up, or for another site) or ``"expired"``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, TimestampSigner

from dutydesk.core.timeutil import ensure_utc

SALT = "dutydesk.incidents.page-action"
#: Action codes as they appear in tokens and URLs.
ACTIONS = ("ack", "resolve", "escalate", "snooze", "open", "reply")
#: The link actions, in the order a page lists them.
LINK_ACTIONS = ("ack", "resolve", "escalate", "snooze", "open")
SNOOZE_MINUTES = 30
_VALUE = re.compile(r"^(?P<incident>\d{1,12})-(?P<user>\d{1,12})-(?P<action>[a-z]{2,10})-"
                    r"(?P<nonce>[A-Za-z0-9_]{6,32})$")
#: What a token looks like inside a subject line: ``[#<token>]``.
TOKEN_IN_TEXT = re.compile(r"\[#(?P<token>\d{1,12}-\d{1,12}-[a-z]{2,10}-[A-Za-z0-9_]{6,32}"
                           r"\.[A-Za-z0-9_-]{2,16}\.[A-Za-z0-9_-]{10,100})\]")


class BadActionToken(ValueError):
    """The token cannot be used: ``reason`` is ``"forged"`` or ``"expired"``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ActionClaim:
    """What a valid token says: who may do what to which incident, issued when."""

    incident_id: int
    user_id: int
    action: str
    nonce: str
    issued_at: datetime

    @property
    def use_key(self) -> str:
        """The key a use of this token is stored under (one use per page and action)."""
        return f"{self.nonce}:{self.action}"


class _SignerAt(TimestampSigner):
    """A ``TimestampSigner`` whose clock is ``now`` (decisions get their time injected)."""

    def __init__(self, secret: str, now: datetime) -> None:
        super().__init__(secret, salt=SALT)
        self._now = int(ensure_utc(now, "now").timestamp())

    def get_timestamp(self) -> int:
        return self._now


def new_nonce() -> str:
    """A fresh random nonce for one page (shared by that page's tokens)."""
    return secrets.token_hex(8)


def make_token(secret: str, incident_id: int, user_id: int, action: str, nonce: str,
               now: datetime) -> str:
    """The signed token for one person, incident and action, issued at ``now``."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    value = f"{int(incident_id)}-{int(user_id)}-{action}-{nonce}"
    if not _VALUE.match(value):
        raise ValueError(f"not a token value: {value!r}")
    return _SignerAt(secret, now).sign(value).decode()


def read_token(secret: str, token: str, now: datetime, max_age: timedelta) -> ActionClaim:
    """The claim a token makes, if it is ours and not older than ``max_age`` at ``now``."""
    now = ensure_utc(now, "now")
    if not isinstance(token, str) or len(token) > 200:
        raise BadActionToken("forged", "this link is not one of ours")
    try:
        raw, issued_at = _SignerAt(secret, now).unsign(token, return_timestamp=True)
    except (BadSignature, ValueError, TypeError, OverflowError):
        raise BadActionToken("forged", "this link is not one of ours (altered or made up)") \
            from None
    match = _VALUE.match(raw.decode("ascii", "replace"))
    if match is None or match["action"] not in ACTIONS:
        raise BadActionToken("forged", "this link is not one of ours")
    issued_at = issued_at.astimezone(UTC)
    if now - issued_at > max_age:
        ended = issued_at + max_age
        raise BadActionToken("expired", f"this link expired at {ended:%Y-%m-%d %H:%M} UTC")
    return ActionClaim(int(match["incident"]), int(match["user"]), match["action"],
                       match["nonce"], issued_at)


def token_in_text(text: str) -> str | None:
    """The first ``[#token]`` in ``text`` (a subject line), else ``None``."""
    match = TOKEN_IN_TEXT.search(text or "")
    return match["token"] if match else None


def message_id(token: str, host: str) -> str:
    """The Message-ID of a page mail carrying ``token`` (a reply's In-Reply-To names it)."""
    return f"<page.{token}@{host or 'dutydesk'}>"


_MESSAGE_ID = re.compile(r"<page\.(?P<token>[^@<>\s]{20,200})@[^<>\s]+>")


def tokens_in_references(*headers: str | None) -> list[str]:
    """Every page token named in In-Reply-To / References header values, newest last."""
    found: list[str] = []
    for header in headers:
        for match in _MESSAGE_ID.finditer(header or ""):
            found.append(match["token"])
    return found


def link_url(base_url: str, token: str) -> str:
    """The confirmation page of one action link."""
    return f"{base_url.rstrip('/')}/act/{token}"
