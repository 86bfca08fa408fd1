"""Parsing instants from people and clients: always ends as aware UTC, never guesses a zone."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_instant(value: str, field: str = "time") -> datetime:
    """Parse ISO 8601 with an offset or ``Z``; naive times are refused (which zone was meant?)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{field}: expected an ISO 8601 time like 2026-11-23T08:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{field}: {value!r} has no UTC offset; add Z or +02:00")
    return moment.astimezone(UTC)
