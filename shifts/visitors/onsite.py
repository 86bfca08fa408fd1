"""Who is inside, who is expected, who overstays: pure views over visits and requests.

- ``people_on_site``: the evacuation list and the wall's "people on site now", with time inside.
- ``expected_today``: every person named on an approved request whose window touches today
  (site time), with what became of them so far.
- ``no_shows``: people whose request window has ended without them arriving.
- ``overstays`` (rule 5): on-site visits past their expected check-out, request end or badge
  expiry, each passed limit with how long ago it passed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .badges import end_of_local_day, start_of_local_day
from .model import AccessRequest, RequestStatus, Visit, VisitorDataError, VisitStatus
from .model import require_aware as _aware
from .names import names_match

_ZERO = timedelta(0)


def _zone(tz: ZoneInfo | str) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise VisitorDataError(
            f"tz must be an IANA zone such as 'Europe/Berlin', got {tz!r}"
        ) from exc


# --- people on site -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnSite:
    """One person inside: their visit, how long they have been in, and who escorts them."""

    visit: Visit
    time_inside: timedelta
    escort_name: str | None


def people_on_site(visits: Iterable[Visit], now: datetime) -> list[OnSite]:
    """Everyone checked in and not out, longest inside first.

    ``time_inside`` is ``now - checked_in_at`` (never negative). ``escort_name`` is the escorting
    visitor's name, or the staff escort, or None.
    """
    _aware("now", now)
    inside = [v for v in visits if v.is_on_site]
    by_id = {v.id: v for v in inside if v.id is not None}
    result = []
    for visit in sorted(inside, key=lambda v: (v.checked_in_at, v.person_name)):
        assert visit.checked_in_at is not None  # guaranteed for ON_SITE by Visit
        escort = by_id.get(visit.escort_visit_id) if visit.escort_visit_id is not None else None
        escort_name = escort.person_name if escort else visit.escort_staff
        result.append(OnSite(visit, max(now - visit.checked_in_at, _ZERO), escort_name))
    return result


# --- expected visitors --------------------------------------------------------------------

# Which visit tells best what became of an expected person, when there are several.
_OUTCOME_ORDER = {
    VisitStatus.ON_SITE: 0,
    VisitStatus.LEFT: 1,
    VisitStatus.DENIED: 2,
    VisitStatus.NO_SHOW: 3,
    VisitStatus.EXPECTED: 4,
}


@dataclass(frozen=True, slots=True)
class ExpectedVisitor:
    """A person named on an approved request, and their visit so far (None: not arrived).

    ``late``: the window has started and the person has not arrived.
    """

    request: AccessRequest
    person_name: str
    visit: Visit | None
    late: bool

    @property
    def status(self) -> VisitStatus:
        return self.visit.status if self.visit is not None else VisitStatus.EXPECTED

    @property
    def arrived(self) -> bool:
        return self.status in (VisitStatus.ON_SITE, VisitStatus.LEFT, VisitStatus.DENIED)


def _visit_for(request: AccessRequest, person: str, visits: tuple[Visit, ...]) -> Visit | None:
    # A visit belongs to the expected person when it was made under this request, or (the
    # person was let in on another basis, e.g. they are also on the authorised list) when it is
    # for the same client and person and began during the request window.
    def belongs(v: Visit) -> bool:
        if not names_match(v.person_name, person):
            return False
        if v.request_id is not None:
            return v.request_id == request.id
        if v.client_id != request.client_id:
            return False
        started = v.checked_in_at or v.recorded_at
        return started is not None and request.window_covers(started)

    mine = [v for v in visits if belongs(v)]
    if not mine:
        return None
    return min(mine, key=lambda v: _OUTCOME_ORDER[v.status])


def _expected(
    requests: Iterable[AccessRequest],
    visits: Iterable[Visit],
    now: datetime,
    keep: Callable[[AccessRequest], bool],
) -> list[ExpectedVisitor]:
    visits = tuple(visits)
    result = []
    for request in requests:
        if request.status is not RequestStatus.APPROVED or not keep(request):
            continue
        for person in request.people:
            visit = _visit_for(request, person, visits)
            arrived = visit is not None and visit.status is not VisitStatus.EXPECTED
            late = not arrived and now >= request.window_start
            result.append(ExpectedVisitor(request, person, visit, late))
    result.sort(key=lambda e: (e.request.window_start, e.person_name.casefold()))
    return result


def expected_today(
    requests: Iterable[AccessRequest],
    visits: Iterable[Visit],
    now: datetime,
    tz: ZoneInfo | str,
) -> list[ExpectedVisitor]:
    """People on approved requests whose window overlaps today (site time zone ``tz``).

    Everyone named is listed, with ``visit`` showing what became of them (None: not arrived);
    sorted by window start, then name. Filter on ``arrived`` for the desk's "still to come".
    """
    _aware("now", now)
    zone = _zone(tz)
    day_start, day_end = start_of_local_day(now, zone), end_of_local_day(now, zone)
    return _expected(
        requests,
        visits,
        now,
        lambda r: r.window_start < day_end and r.window_end > day_start,
    )


def no_shows(
    requests: Iterable[AccessRequest], visits: Iterable[Visit], now: datetime
) -> list[ExpectedVisitor]:
    """People on approved requests whose window has ended without them arriving.

    A denied visitor did arrive (not a no-show); one already recorded as NO_SHOW is not listed
    again.
    """
    _aware("now", now)
    ended = _expected(requests, visits, now, lambda r: r.window_end <= now)
    return [e for e in ended if e.visit is None or e.visit.status is VisitStatus.EXPECTED]


# --- overstays (rule 5) -------------------------------------------------------------------


class Limit(enum.StrEnum):
    EXPECTED_CHECKOUT = "expected_checkout"
    REQUEST_END = "request_end"
    BADGE_EXPIRY = "badge_expiry"


@dataclass(frozen=True, slots=True)
class PassedLimit:
    limit: Limit
    at: datetime
    over_by: timedelta


@dataclass(frozen=True, slots=True)
class Overstay:
    """An on-site visit with every limit it has passed, the longest-passed first."""

    visit: Visit
    passed: tuple[PassedLimit, ...]

    @property
    def over_by(self) -> timedelta:
        """How long ago the first limit passed."""
        return self.passed[0].over_by

    @property
    def limits(self) -> tuple[Limit, ...]:
        return tuple(p.limit for p in self.passed)


def overstays(
    visits: Iterable[Visit], requests: Iterable[AccessRequest], now: datetime
) -> list[Overstay]:
    """On-site visits past their expected check-out, request window end or badge expiry.

    A limit is passed when ``now`` is strictly after it. ``requests`` is looked up by id for
    visits made under a request (requests not given are simply not checked). Sorted by how long
    the visit has overstayed, longest first.
    """
    _aware("now", now)
    request_end = {r.id: r.window_end for r in requests if r.id is not None}
    result = []
    for visit in visits:
        if not visit.is_on_site:
            continue
        limits = [
            (Limit.EXPECTED_CHECKOUT, visit.expected_checkout_at),
            (Limit.REQUEST_END, request_end.get(visit.request_id)),
            (Limit.BADGE_EXPIRY, visit.badge_expires_at),
        ]
        passed = [PassedLimit(name, at, now - at) for name, at in limits if at and now > at]
        if passed:
            passed.sort(key=lambda p: p.over_by, reverse=True)
            result.append(Overstay(visit, tuple(passed)))
    result.sort(key=lambda o: (-o.over_by, o.visit.person_name))
    return result
