"""The report's period and filters, parsed from a bookmarkable query string (pure).

Period
    ``month=YYYY-MM`` (a calendar month of the site's time zone), or ``from=YYYY-MM-DD`` and
    ``to=YYYY-MM-DD`` (local dates, both inclusive), or nothing: the current month. Months and
    days start at local midnight (``DUTYDESK_TIMEZONE``), so a Kyiv month starts at 22:00 or
    21:00 UTC of the day before. A period is at most ``MAX_DAYS`` long (a year and a day), to
    keep a single report request bounded.

Filters
    ``service`` (exact name), ``priority`` (P1..P4), ``line`` (first_line / second_line: the
    incidents that line worked on, and its duty hours), ``engineer`` (a login: the incidents the
    engineer acknowledged, resolved or was assigned, and their duty hours).

Bad input raises ``ReportError``, whose ``msgid`` and ``params`` the web layer translates; the
exception text is the English sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from shifts.localtime import local_to_utc, utc_to_local

MAX_DAYS = 367
PRIORITIES = ("P1", "P2", "P3", "P4")
LINES = ("first_line", "second_line")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it here (gettext_noop)."""
    return message


class ReportError(ValueError):
    """Bad report input; ``msgid`` % ``params`` is the English message (HTTP 400)."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC, cut at local midnights of ``zone``; ``month`` set for a month."""

    start: datetime
    end: datetime
    zone: ZoneInfo
    first_day: date
    last_day: date
    month: str | None = None

    @property
    def label(self) -> str:
        if self.month:
            return self.month
        return f"{self.first_day.isoformat()} – {self.last_day.isoformat()}"

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def local(self, at: datetime) -> datetime:
        """``at`` as a naive wall-clock time of the site."""
        return utc_to_local(at, self.zone)

    def query(self) -> dict[str, str]:
        """The query-string arguments that select this period again."""
        if self.month:
            return {"month": self.month}
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day begins (a midnight skipped by DST: when the day begins)."""
    return local_to_utc(datetime.combine(day, time(0)), zone)


def month_period(month: str, zone: ZoneInfo) -> Period:
    """The calendar month ``YYYY-MM`` in ``zone``."""
    match = _MONTH.match(month.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ReportError(N_("month must look like 2026-11 (year-month), got %(value)s"),
                          value=repr(month))
    year, number = int(match.group(1)), int(match.group(2))
    if year < 1970:
        raise ReportError(N_("month must look like 2026-11 (year-month), got %(value)s"),
                          value=repr(month))
    first = date(year, number, 1)
    following = date(year + (number == 12), number % 12 + 1, 1)
    last = following - timedelta(days=1)
    return Period(day_start(first, zone), day_start(following, zone), zone, first, last,
                  f"{year:04d}-{number:02d}")


def _day(value: str, name: str) -> date:
    text = value.strip()
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(N_("%(name)s must be a date such as 2026-11-01, got %(value)s"),
                          name=name, value=repr(value)) from None


def parse_period(args: Mapping[str, str], zone: ZoneInfo, now: datetime) -> Period:
    """The period the query string asks for (module docstring); ``now`` picks the month."""
    month = (args.get("month") or "").strip()
    since = (args.get("from") or "").strip()
    until = (args.get("to") or "").strip()
    if month and (since or until):
        raise ReportError(N_("give either a month or a from/to range, not both"))
    if month:
        return month_period(month, zone)
    if not since and not until:
        return month_period(utc_to_local(now, zone).strftime("%Y-%m"), zone)
    if not since or not until:
        raise ReportError(N_("a range needs both from and to dates"))
    first, last = _day(since, "from"), _day(until, "to")
    if first > last:
        raise ReportError(N_("from (%(first)s) is after to (%(last)s)"),
                          first=first.isoformat(), last=last.isoformat())
    if (last - first).days + 1 > MAX_DAYS:
        raise ReportError(N_("a report covers at most %(days)d days, got %(got)d"),
                          days=MAX_DAYS, got=(last - first).days + 1)
    return Period(day_start(first, zone), day_start(last + timedelta(days=1), zone), zone,
                  first, last)


@dataclass(frozen=True, slots=True)
class Filters:
    """What the report is narrowed to; ``None`` means everything."""

    service: str | None = None
    priority: str | None = None
    line: str | None = None
    engineer: str | None = None
    #: A site's slug: incidents, checks, schedules, status services and visits of that site.
    site: str | None = None

    def query(self) -> dict[str, str]:
        return {name: value for name in ("service", "priority", "line", "engineer", "site")
                if (value := getattr(self, name))}

    @property
    def any(self) -> bool:
        return bool(self.query())


def parse_filters(args: Mapping[str, str], engineers: Iterable[str] | None = None) -> Filters:
    """Filters from the query string; ``engineers`` (known logins) validates ``engineer``."""
    service = (args.get("service") or "").strip() or None
    priority = (args.get("priority") or "").strip().upper() or None
    if priority and priority not in PRIORITIES:
        raise ReportError(N_("priority must be P1, P2, P3 or P4, got %(value)s"),
                          value=repr(args.get("priority")))
    line = (args.get("line") or "").strip() or None
    if line and line not in LINES:
        raise ReportError(N_("line must be first_line or second_line, got %(value)s"),
                          value=repr(line))
    engineer = (args.get("engineer") or "").strip().lower() or None
    if engineer and engineers is not None and engineer not in {e.lower() for e in engineers}:
        raise ReportError(N_("no engineer with the login %(value)s"), value=repr(engineer))
    site = (args.get("site") or "").strip().lower() or None
    return Filters(service=service, priority=priority, line=line, engineer=engineer, site=site)


def query_string(period: Period, filters: Filters, **extra: str) -> str:
    """The bookmarkable query string of a report view (for links to CSV and print)."""
    return urlencode({**period.query(), **filters.query(), **extra})
