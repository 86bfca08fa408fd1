"""Rule 2: badge numbers are unique among open visits, and badges expire the same day.

A badge expires at the first of:
- the end of the local day at the site (the next local midnight, DST-aware),
- the end of the access request's window (for visitors on a request),
- the end of the person's authorisation (``valid_until``; not in the issue's wording, but a
  badge that outlives the authorisation it was issued under would be a hole),
- the escort's badge expiry (for guests: a guest's badge never outlives their escort's).

Badge numbers are one form everywhere: upper case without spaces or separators, so "B001",
"b-001", " B-001 " and "b 001" are one badge. The desk stores that form (``normalise_badge``) and
the database's unique index of open badges compares it, so the rule and the index agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .decision import Decision, RuleCode
from .model import AccessRequest, AuthorisedPerson, Visit, require_aware

_SEPARATORS = re.compile(r"[\s\-_./\u2010-\u2015]+")  # spaces, hyphens and dashes, _ . /


def normalise_badge(number: str | None) -> str:
    """The one form of a badge number: upper case, no whitespace or separators ("" for None).

    ``normalise_badge(" b-001 ") == "B001"``; leading zeros stay (B001 and B1 are two badges).
    """
    return _SEPARATORS.sub("", number or "").upper()


def badge_holder(badge_number: str, visits: Iterable[Visit]) -> Visit | None:
    """The open (on-site) visit currently holding ``badge_number``, if any."""
    wanted = normalise_badge(badge_number)
    for visit in visits:
        if visit.is_on_site and normalise_badge(visit.badge_number) == wanted:
            return visit
    return None


def check_badge_free(badge_number: str | None, visits: Iterable[Visit]) -> Decision:
    """Allowed when ``badge_number`` is given and no open visit holds it.

    Codes: BADGE_MISSING (no number), BADGE_IN_USE (held by an on-site visitor).
    """
    if not normalise_badge(badge_number):
        return Decision.deny(RuleCode.BADGE_MISSING, "a badge number must be given at check-in")
    holder = badge_holder(badge_number or "", visits)
    if holder is not None:
        return Decision.deny(
            RuleCode.BADGE_IN_USE,
            f"badge {badge_number} is already issued to {holder.person_name}, who is on site; "
            "pick another badge",
        )
    return Decision.allow(f"badge {badge_number} is free")


def end_of_local_day(at: datetime, tz: ZoneInfo) -> datetime:
    """The next local midnight after ``at`` in ``tz``, as a UTC datetime.

    On a 23- or 25-hour DST day this is still the real local midnight, not ``at`` + 24 h.
    """
    require_aware("at", at)
    local_day = at.astimezone(tz).date()
    midnight = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=tz)
    return midnight.astimezone(UTC)


def start_of_local_day(at: datetime, tz: ZoneInfo) -> datetime:
    """The local midnight at or before ``at`` in ``tz``, as a UTC datetime."""
    require_aware("at", at)
    local_day = at.astimezone(tz).date()
    return datetime.combine(local_day, time(0), tzinfo=tz).astimezone(UTC)


def badge_expiry(
    checked_in_at: datetime,
    tz: ZoneInfo,
    *,
    request: AccessRequest | None = None,
    person: AuthorisedPerson | None = None,
    escort_visit: Visit | None = None,
) -> datetime:
    """When a badge issued at ``checked_in_at`` expires (UTC): the earliest limit that applies."""
    limits = [end_of_local_day(checked_in_at, tz)]
    if request is not None:
        limits.append(request.window_end)
    if person is not None and person.valid_until is not None:
        limits.append(person.valid_until)
    if escort_visit is not None and escort_visit.badge_expires_at is not None:
        limits.append(escort_visit.badge_expires_at)
    return min(limit.astimezone(UTC) for limit in limits)


def check_badge_back(
    visit: Visit, *, badge_returned: bool, lost_recorded_by: str | None
) -> Decision:
    """Check-out needs the badge back, or its loss recorded by a staff member.

    Code: BADGE_NOT_RETURNED.
    """
    if badge_returned:
        return Decision.allow(f"badge {visit.badge_number} returned")
    if lost_recorded_by and lost_recorded_by.strip():
        return Decision.allow(f"loss of badge {visit.badge_number} recorded by {lost_recorded_by}")
    return Decision.deny(
        RuleCode.BADGE_NOT_RETURNED,
        f"{visit.person_name} cannot check out until badge {visit.badge_number} is returned "
        "or its loss is recorded",
    )
