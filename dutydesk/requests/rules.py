"""Small pure decisions about requests: numbers, priority, who may be a requester, closing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from dutydesk.incidents.priority import Priority, PriorityError, priority_for

MAX_ID = 2**63 - 1
_NUMBER = re.compile(r"^\s*(?:REQ-?)?#?(\d{1,19})\s*$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,253}\.[^@\s<>\".]{2,63}$")


class RequestInputError(ValueError):
    """A request or its field is not acceptable; the message says which and why (HTTP 400)."""


def request_number(request_id: int) -> str:
    """``1042`` → ``"REQ-1042"`` (what people read, say on the phone and put in subjects)."""
    return f"REQ-{request_id}"


def parse_request_number(text: str) -> int | None:
    """``"REQ-1042"``, ``"req1042"``, ``"#1042"`` or ``"1042"`` → 1042; ``None`` otherwise
    (including numbers beyond the database's 64-bit ids)."""
    match = _NUMBER.match(str(text))
    if not match:
        return None
    number = int(match.group(1))
    return number if 0 < number <= MAX_ID else None


def request_priority(impact: object, urgency: object) -> Priority:
    """The incidents' impact × urgency matrix (one table for both)."""
    try:
        return priority_for(impact, urgency)  # type: ignore[arg-type]
    except PriorityError as exc:
        raise RequestInputError(str(exc)) from None


def normalise_email(value: str) -> str:
    """A requester's address, trimmed and lower-cased; ``RequestInputError`` when not one."""
    if not isinstance(value, str):
        raise RequestInputError(f"an e-mail address must be text, got {value!r}")
    email = value.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise RequestInputError(f"{value!r} is not an e-mail address (name@example.com)")
    return email


def close_due(resolved_at: datetime | None, now: datetime, after: timedelta) -> bool:
    """Whether a resolved request closes itself: ``after`` has passed without an answer."""
    return resolved_at is not None and now - resolved_at >= after


ESCALATION_REASON = "time to resolve breached: escalated to the second line"


def escalates(breached_clocks: set[str], line: str, is_open: bool) -> bool:
    """Functional escalation: a request still with the first line whose time to resolve has just
    breached goes to the second line (as an incident's breach moves its escalation on)."""
    return is_open and line == "first_line" and "resolve" in breached_clocks
