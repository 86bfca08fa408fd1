"""Per-person quiet hours: P3/P4 pages wait until they end; P1/P2 always go at once (pure).

A person sets a span of the day in their own time zone, e.g. 22:00–07:00 (it may cross
midnight). A P3 or P4 page that falls inside it is held back and delivered when the span ends
(the outbox's ``not_before``), so nothing is lost and nobody is woken for what can wait. A span
whose start equals its end is empty (no quiet hours). Wall-clock times are read in the person's
zone on the day in question, so a span keeps its local times across DST changes; an end that
falls into a DST gap is taken as the first valid instant after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dutydesk.core.timeutil import ensure_utc
from dutydesk.incidents.priority import Priority

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
#: The priorities quiet hours hold back.
HELD_PRIORITIES = (Priority.P3, Priority.P4)


class QuietHoursError(ValueError):
    """A quiet-hours value cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From ``start`` to ``end`` minutes after local midnight (``end < start``: over midnight)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1440:
                raise QuietHoursError(f"quiet hours {name} must be a time of day, got {value!r}")

    @property
    def empty(self) -> bool:
        return self.start == self.end

    def covers(self, minute_of_day: int) -> bool:
        if self.empty:
            return False
        if self.start < self.end:
            return self.start <= minute_of_day < self.end
        return minute_of_day >= self.start or minute_of_day < self.end

    def label(self) -> str:
        return f"{_hhmm(self.start)}–{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_time_of_day(text: str, name: str) -> int:
    """``"22:00"`` -> 1320 (minutes after midnight); ``QuietHoursError`` naming ``name``."""
    match = _HHMM.match((text or "").strip())
    if match is None:
        raise QuietHoursError(f"{name} must be a time of day like 22:00, got {text!r}")
    return int(match[1]) * 60 + int(match[2])


def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The person's zone, else the site's, else UTC."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_until(
    hours: QuietHours | None, tz: ZoneInfo, priority: Priority, at: datetime
) -> datetime | None:
    """When a page of ``priority`` due at ``at`` may go, if quiet hours hold it back; else
    ``None`` (send as planned). Only P3/P4 are ever held."""
    at = ensure_utc(at, "at")
    if hours is None or hours.empty or priority not in HELD_PRIORITIES:
        return None
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute
    if not hours.covers(minute):
        return None
    day = local.date()
    if hours.start > hours.end and minute >= hours.start:
        day += timedelta(days=1)  # in the evening part: the span ends tomorrow morning
    end = datetime.combine(day, time(hours.end // 60, hours.end % 60), tzinfo=tz)
    # A wall time in a DST gap does not exist: round trip through UTC moves it past the gap.
    end_utc = end.astimezone(ZoneInfo("UTC"))
    return max(end_utc, at)
