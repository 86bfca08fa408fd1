"""Request figures: what came in, first-contact resolution, SLA, times, ping-pong, reopenings,
satisfaction, deflection and categories (pure functions over ``RequestRecord`` values).

The records are the requests that *came in* during the period, narrowed by ``select_requests``
(definitions in ``request_records``). Medians and p90 as for incidents (``incident_figures``):
median of the middle values, p90 nearest-rank. Percentages are of the requests that can have
the figure: first-contact resolution of the resolved ones, SLA "met" of the decided clocks,
"good" of the rated ones, reopened of those ever resolved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dutydesk.reports.incident_figures import (
    HOURS,
    ClockTally,
    TimeStats,
    _tally,
    percent,
)
from dutydesk.reports.period import N_, PRIORITIES, Filters, Period, ReportError
from dutydesk.reports.request_records import RequestRecord, is_other
from dutydesk.requests.models import CHANNELS
from dutydesk.requests.summary import Outcome

GROUPS = ("service", "category", "channel", "line", "engineer")
OTHER = None  # the key of the "other" row (requests outside the catalog)


@dataclass(frozen=True, slots=True)
class RequestFilters:
    """The incident report's filters plus a category, a channel, and what to group by."""

    base: Filters = field(default_factory=Filters)
    category: str | None = None
    channel: str | None = None
    group: str = "service"

    def query(self) -> dict[str, str]:
        extra = {"category": self.category, "channel": self.channel}
        found = {**self.base.query(), **{k: v for k, v in extra.items() if v}}
        if self.group != "service":
            found["group"] = self.group
        return found

    @property
    def any(self) -> bool:
        return bool(self.base.any or self.category or self.channel)


def parse_request_filters(args: Mapping[str, str], base: Filters) -> RequestFilters:
    """``category``, ``channel`` and ``group`` from the query string on top of ``base``."""
    category = (args.get("category") or "").strip() or None
    channel = (args.get("channel") or "").strip() or None
    if channel and channel not in CHANNELS:
        raise ReportError(N_("channel must be one of %(values)s, got %(value)s"),
                          values=", ".join(CHANNELS), value=repr(channel))
    group = (args.get("group") or "").strip() or "service"
    if group not in GROUPS:
        raise ReportError(N_("group must be one of %(values)s, got %(value)s"),
                          values=", ".join(GROUPS), value=repr(group))
    return RequestFilters(base, category[:100] if category else None, channel, group)


def select_requests(records: Iterable[RequestRecord], period: Period,
                    filters: RequestFilters) -> list[RequestRecord]:
    """The records that came in during ``period`` and match ``filters``, oldest first."""
    f = filters.base
    found = [
        r for r in records
        if period.contains(r.created_at)
        and (not f.service or r.service == f.service)
        and (not f.priority or r.priority == f.priority)
        and (not f.line or f.line in r.lines_seen)
        and (not f.engineer or r.involves(f.engineer))
        and (not filters.category or r.category == filters.category)
        and (not filters.channel or r.channel == filters.channel)
    ]
    found.sort(key=lambda r: (r.created_at, r.id))
    return found


# --- what came in -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    total: int
    by_channel: tuple[tuple[str, int], ...]  # every channel, in CHANNELS order
    by_day: tuple[tuple[date, int], ...]  # every local day of the period
    by_hour: tuple[int, ...]  # 24 local hours of the day


def received(records: Sequence[RequestRecord], period: Period) -> Received:
    channels = Counter(r.channel for r in records)
    days: dict[date, int] = {}
    day = period.first_day
    while day <= period.last_day:
        days[day] = 0
        day += timedelta(days=1)
    hours = [0] * HOURS
    for r in records:
        local = period.local(r.created_at)
        if local.date() in days:
            days[local.date()] += 1
        hours[local.hour] += 1
    known = [(c, channels.pop(c, 0)) for c in CHANNELS]
    return Received(len(records), tuple(known + sorted(channels.items())),
                    tuple(days.items()), tuple(hours))


# --- first contact, SLA, times ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstContact:
    resolved: int
    first_contact: int

    @property
    def percent(self) -> float | None:
        return percent(self.first_contact, self.resolved)


def first_contact(records: Iterable[RequestRecord]) -> FirstContact:
    chosen = [r for r in records if r.resolved]
    return FirstContact(len(chosen), sum(1 for r in chosen if r.first_contact))


@dataclass(frozen=True, slots=True)
class RequestSlaRow:
    priority: str  # "P1".."P4", "" for all
    requests: int
    response: ClockTally
    resolve: ClockTally


@dataclass(frozen=True, slots=True)
class RequestBreach:
    request_id: int
    subject: str
    priority: str
    service: str
    clock: str  # "first_response" / "resolve"
    elapsed_s: float
    target_s: float

    @property
    def over_s(self) -> float:
        return self.elapsed_s - self.target_s


@dataclass(frozen=True, slots=True)
class RequestSla:
    rows: tuple[RequestSlaRow, ...]  # P1..P4, then all
    breaches: tuple[RequestBreach, ...]  # worst overrun first


def sla(records: Sequence[RequestRecord]) -> RequestSla:
    """First response and resolve targets met per priority and in total, and every breach."""

    def row(priority: str, members: Sequence[RequestRecord]) -> RequestSlaRow:
        return RequestSlaRow(
            priority, len(members),
            _tally(r.summary.response.outcome if r.summary.response else None for r in members),
            _tally(r.summary.resolve.outcome if r.summary.resolve else None for r in members))

    rows = [row(p, [r for r in records if r.priority == p]) for p in PRIORITIES]
    rows.append(row("", records))
    breaches = [
        RequestBreach(r.id, r.subject, r.priority, r.service, name, clock.elapsed_s,
                      clock.target_s)
        for r in records
        for name, clock in (("first_response", r.summary.response),
                            ("resolve", r.summary.resolve))
        if clock is not None and clock.outcome is Outcome.BREACHED
    ]
    breaches.sort(key=lambda b: (-b.over_s, b.request_id, b.clock))
    return RequestSla(tuple(rows), tuple(breaches))


@dataclass(frozen=True, slots=True)
class RequestTimes:
    priority: str  # "" for all
    requests: int
    response: TimeStats
    resolution: TimeStats


def times(records: Sequence[RequestRecord]) -> tuple[RequestTimes, ...]:
    """Response and resolution times (median, p90) per priority and in total (last row)."""

    def row(priority: str, members: Sequence[RequestRecord]) -> RequestTimes:
        return RequestTimes(
            priority, len(members),
            TimeStats.of([s for r in members if (s := r.response_s) is not None]),
            TimeStats.of([s for r in members if (s := r.resolution_s) is not None]))

    return (*(row(p, [r for r in records if r.priority == p]) for p in PRIORITIES),
            row("", records))


# --- lines, reopenings --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestPingPong:
    request_id: int
    subject: str
    priority: str
    service: str
    hand_backs: int


@dataclass(frozen=True, slots=True)
class Lines:
    requests: int
    escalated: int  # ever on the second line
    with_ping_pong: int  # at least one hand-back
    hand_backs: int  # moves back to a line the request had been on
    top: tuple[RequestPingPong, ...]  # most hand-backs first


def lines(records: Sequence[RequestRecord], top: int = 10) -> Lines:
    bounced = sorted((r for r in records if r.ping_pong_count),
                     key=lambda r: (-r.ping_pong_count, r.id))
    return Lines(
        requests=len(records),
        escalated=sum(1 for r in records if "second_line" in r.lines_seen),
        with_ping_pong=len(bounced),
        hand_backs=sum(r.ping_pong_count for r in records),
        top=tuple(RequestPingPong(r.id, r.subject, r.priority, r.service, r.ping_pong_count)
                  for r in bounced[:top]),
    )


@dataclass(frozen=True, slots=True)
class Reopened:
    ever_resolved: int
    reopened: int  # requests reopened at least once
    reopenings: int
    requests: tuple[tuple[int, str, int], ...]  # (id, subject, times), most first

    @property
    def percent(self) -> float | None:
        return percent(self.reopened, self.ever_resolved)


def reopened(records: Sequence[RequestRecord]) -> Reopened:
    again = sorted((r for r in records if r.reopen_count), key=lambda r: (-r.reopen_count, r.id))
    return Reopened(sum(1 for r in records if r.ever_resolved), len(again),
                    sum(r.reopen_count for r in again),
                    tuple((r.id, r.subject, r.reopen_count) for r in again))


# --- satisfaction, deflection, categories -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comment:
    request_id: int
    subject: str
    rating: str
    comment: str
    rated_at: datetime


@dataclass(frozen=True, slots=True)
class Satisfaction:
    resolved: int
    rated: int
    good: int
    comments: tuple[Comment, ...]  # newest first

    @property
    def bad(self) -> int:
        return self.rated - self.good

    @property
    def percent_good(self) -> float | None:
        return percent(self.good, self.rated)

    @property
    def percent_rated(self) -> float | None:
        return percent(self.rated, self.resolved)


def satisfaction(records: Sequence[RequestRecord]) -> Satisfaction:
    rated = [r for r in records if r.rating]
    comments = sorted((Comment(r.id, r.subject, r.rating or "", r.rating_comment, r.rated_at)
                       for r in rated if r.rating_comment and r.rated_at),
                      key=lambda c: (c.rated_at, c.request_id), reverse=True)
    return Satisfaction(sum(1 for r in records if r.resolved), len(rated),
                        sum(1 for r in rated if r.rating == "good"), tuple(comments))


@dataclass(frozen=True, slots=True)
class Deflection:
    received: int
    me_too: int  # "me too" on an incident instead of a new request (people, in the period)
    linked: int  # requests linked to an incident
    incidents: int  # distinct incidents those are linked to
    knowledge_base: int  # "this solved it" on a suggested article, instead of a request

    @property
    def outage_percent(self) -> float | None:
        """Share of the people who came about a known outage and filed nothing."""
        return percent(self.me_too, self.me_too + self.received)

    @property
    def knowledge_base_percent(self) -> float | None:
        return percent(self.knowledge_base, self.knowledge_base + self.received)


def deflection(records: Sequence[RequestRecord], me_too: int,
               knowledge_base: int = 0) -> Deflection:
    linked = [r.incident_id for r in records if r.incident_id is not None]
    return Deflection(len(records), me_too, len(linked), len(set(linked)), knowledge_base)


def categories(records: Sequence[RequestRecord], top: int = 10
               ) -> tuple[tuple[str | None, int], ...]:
    """The ``top`` categories by requests (most first, then by name), then ``(OTHER, n)``:
    requests outside the catalog (``is_other``), always listed."""
    named = Counter(r.category.strip() for r in records if not is_other(r))
    ranked = sorted(named.items(), key=lambda item: (-item[1], item[0]))[:top]
    return (*ranked, (OTHER, sum(1 for r in records if is_other(r))))


# --- grouped ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str | None  # None: "other" (category) / nobody (engineer)
    received: int
    resolved: int
    first_contact: int
    response: ClockTally
    resolve: ClockTally
    resolution: TimeStats
    reopened: int
    hand_backs: int
    rated: int
    good: int


_KEYS: dict[str, Callable[[RequestRecord], str | None]] = {
    "service": lambda r: r.service,
    "category": lambda r: OTHER if is_other(r) else r.category.strip(),
    "channel": lambda r: r.channel,
    "line": lambda r: r.line,
    "engineer": lambda r: r.engineer or None,
}


def grouped(records: Sequence[RequestRecord], group: str) -> tuple[GroupRow, ...]:
    """The main figures per ``group`` value (most requests first, then by name; the
    "other"/nobody row last)."""
    members: dict[str | None, list[RequestRecord]] = {}
    for r in records:
        members.setdefault(_KEYS[group](r), []).append(r)
    rows = []
    for key, chosen in members.items():
        done = [r for r in chosen if r.resolved]
        rows.append(GroupRow(
            key, len(chosen), len(done), sum(1 for r in done if r.first_contact),
            _tally(r.summary.response.outcome if r.summary.response else None for r in chosen),
            _tally(r.summary.resolve.outcome if r.summary.resolve else None for r in chosen),
            TimeStats.of([s for r in done if (s := r.resolution_s) is not None]),
            sum(1 for r in chosen if r.reopen_count), sum(r.ping_pong_count for r in chosen),
            sum(1 for r in chosen if r.rating), sum(1 for r in chosen if r.rating == "good")))
    rows.sort(key=lambda g: (g.key is None, -g.received, g.key or ""))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class RequestReport:
    period: Period
    filters: RequestFilters
    now: datetime
    requests: tuple[RequestRecord, ...]
    received: Received
    first_contact: FirstContact
    sla: RequestSla
    times: tuple[RequestTimes, ...]
    lines: Lines
    reopened: Reopened
    satisfaction: Satisfaction
    deflection: Deflection
    categories: tuple[tuple[str | None, int], ...]
    groups: tuple[GroupRow, ...]


def build_request_report(records: Iterable[RequestRecord], period: Period,
                         filters: RequestFilters, now: datetime, *, me_too: int = 0,
                         knowledge_base: int = 0) -> RequestReport:
    """Every request figure of the period (``me_too`` and ``knowledge_base``: deflections the
    loader counted, which are not requests)."""
    chosen = select_requests(records, period, filters)
    return RequestReport(
        period=period, filters=filters, now=now, requests=tuple(chosen),
        received=received(chosen, period), first_contact=first_contact(chosen),
        sla=sla(chosen), times=times(chosen), lines=lines(chosen), reopened=reopened(chosen),
        satisfaction=satisfaction(chosen),
        deflection=deflection(chosen, me_too, knowledge_base),
        categories=categories(chosen), groups=grouped(chosen, filters.group),
    )
