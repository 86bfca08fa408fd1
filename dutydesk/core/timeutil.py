"""Small time helpers shared by the alert and incident cores.

Every decision in DutyDesk works with timezone-aware UTC datetimes; these helpers reject naive
values early, with a message that names the field, instead of letting them slip into comparisons
that would raise (or, worse, silently compare wall-clock times in different zones).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# RFC 3339 as Go's time.RFC3339Nano writes it (up to 9 fractional digits), plus the ISO 8601
# variants PagerDuty's own examples use: "+0000" offsets without a colon and a space separator.
_TIMESTAMP_RE = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})$"
)


class TimestampError(ValueError):
    """A timestamp string or datetime is unusable; the message names the field."""


def ensure_utc(value: datetime, name: str) -> datetime:
    """Return ``value`` converted to UTC; raise ``TimestampError`` if it is naive.

    ``name`` is the field's name as the caller knows it (e.g. ``"now"``, ``"Silence.ends_at"``).
    """
    if not isinstance(value, datetime):
        raise TimestampError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TimestampError(
            f"{name} must be timezone-aware (UTC), got a naive datetime {value.isoformat()}"
        )
    return value.astimezone(UTC)


def parse_timestamp(text: str, name: str) -> datetime | None:
    """Parse an RFC 3339 / ISO 8601 timestamp with an explicit zone into an aware UTC datetime.

    Returns ``None`` for Go's zero time (year 1, e.g. Alertmanager's ``"0001-01-01T00:00:00Z"``),
    which means "unset". A timestamp without a zone is refused: we cannot guess the sender's zone.
    Fractions beyond microseconds are truncated (Python datetimes stop at microseconds).
    """
    if not isinstance(text, str):
        raise TimestampError(f"{name} must be a string timestamp, got {json_type(text)}")
    match = _TIMESTAMP_RE.match(text.strip())
    if match is None:
        raise TimestampError(
            f'{name} must be an RFC 3339 timestamp like "2024-05-01T12:00:00Z", got {text!r}'
        )
    parts = match.groupdict()
    if parts["year"] == "0001":
        return None
    fraction = (parts["fraction"] or "").ljust(6, "0")[:6]
    zone_text = parts["zone"]
    if zone_text in ("Z", "z"):
        zone = UTC
    else:
        sign = -1 if zone_text[0] == "-" else 1
        digits = zone_text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise TimestampError(f"{name} has an impossible zone offset {zone_text!r} in {text!r}")
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        parsed = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"]),
            int(fraction),
            tzinfo=zone,
        )
    except ValueError as exc:  # e.g. month 13, February 30th, second 61
        raise TimestampError(f"{name} is not a real date/time: {text!r} ({exc})") from None
    return parsed.astimezone(UTC)


def json_type(value: object) -> str:
    """Name a decoded JSON value's type the way a JSON author would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
