"""Wall-clock time in a schedule's zone, and the one rule that turns it into UTC.

Shifts are defined in the wall-clock time of the schedule's IANA zone ("day shift 08:00–20:00
in Kyiv"), while every instant the rest of DutyDesk sees is timezone-aware UTC. The conversion
from a local wall-clock time (a naive ``datetime``) to UTC is where DST bites, so it lives here,
once, with one documented rule:

* **Ambiguous** local times (the repeated hour when clocks go back) mean the *first*
  occurrence, as in RFC 5545 §3.3.5. A handoff at 01:30 on the New York fall-back day happens
  at 01:30 EDT (05:30 UTC); when the clock shows 01:30 again an hour later nothing changes.
* **Nonexistent** local times (the hour skipped when clocks go forward) mean the instant the
  clocks jump. A handoff configured for 02:30 on the New York spring-forward day happens at
  03:00 EDT (07:00 UTC), i.e. the first instant that exists after the gap.

RFC 5545 would read a nonexistent 02:30 with the pre-gap offset (03:30 EDT). We deliberately
differ: with our rule the map from wall-clock to UTC is monotonic (never goes backwards), so
boundaries computed from ordered wall-clock times stay ordered and consecutive shifts can never
overlap or leave a hole, whatever handoff times a shift lead picks. A slot that lies entirely
inside the skipped hour collapses to zero length and is simply not worked that night.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shifts.errors import ShiftConfigError, TimeZoneError

__all__ = ["UTC", "load_zone", "local_to_utc", "require_utc", "utc_to_local"]


@lru_cache(maxsize=256)
def load_zone(name: str) -> ZoneInfo:
    """Return the ``ZoneInfo`` for an IANA name, or raise ``TimeZoneError`` naming it."""
    if not isinstance(name, str) or not name.strip():
        raise TimeZoneError(f"time zone must be an IANA name such as 'Europe/Kyiv', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError/OSError cover malformed keys such as '../etc/passwd' or 'Europe/'.
        raise TimeZoneError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Kyiv' "
            "or 'America/New_York'"
        ) from None


def require_utc(value: datetime, what: str) -> datetime:
    """Return ``value`` converted to UTC; reject naive datetimes with a message naming ``what``."""
    if not isinstance(value, datetime):
        raise ShiftConfigError(f"{what} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ShiftConfigError(
            f"{what} must be timezone-aware (UTC), got naive {value.isoformat(sep=' ')}"
        )
    return value.astimezone(UTC)


def utc_to_local(at: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock reading in ``zone`` at UTC instant ``at`` (``fold`` kept)."""
    return at.astimezone(zone).replace(tzinfo=None)


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of naive wall-clock time ``wall`` in ``zone`` (rule in the module doc)."""
    return _local_to_utc(wall.replace(fold=0, tzinfo=None), zone)


@lru_cache(maxsize=65536)
def _local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None, fold=0) == wall:
        return first  # exists (for an ambiguous time fold=0 is the first occurrence)
    # Nonexistent: fold=0 read it with the pre-gap offset (lands after the jump), fold=1 with the
    # post-gap offset (lands before it). The jump instant lies between; find it to the second.
    late = first
    early = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if early > late:
        early, late = late, early
    after_offset = late.astimezone(zone).utcoffset()
    lo, hi = 0, int((late - early).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if (early + timedelta(seconds=mid)).astimezone(zone).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid + 1
    return early + timedelta(seconds=lo)
