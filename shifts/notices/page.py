"""What the public status page shows, as one value built from loaded data (pure, ``now`` given).

The web layer loads groups, services and published notices (:func:`load_page`), calls
:func:`build_page` and renders the result; the snapshot cache keeps the rendered bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.orm import Session

from checks.result import Status as CheckStatus

from .checklinks import CheckFlip, check_outages, load_check_links
from .holddown import DEFAULT_HOLD
from .maintenance import current_status, is_active, is_upcoming
from .model import Notice, NoticeKind, Service, ServiceGroup, ServiceStatus
from .status import Headline, PageState, headline, page_state, service_statuses
from .storage import load_notices, load_services
from .uptime import OutageInterval, OutageSeverity, UptimeHistory, uptime_history

_SEVERITY = {ServiceStatus.MAJOR_OUTAGE: OutageSeverity.MAJOR,
             ServiceStatus.PARTIAL_OUTAGE: OutageSeverity.PARTIAL,
             ServiceStatus.DEGRADED_PERFORMANCE: OutageSeverity.PARTIAL}


@dataclass(frozen=True, slots=True)
class ServiceLine:
    service: Service
    status: ServiceStatus
    uptime: UptimeHistory


@dataclass(frozen=True, slots=True)
class GroupBlock:
    group: ServiceGroup | None
    lines: tuple[ServiceLine, ...]


@dataclass(frozen=True, slots=True)
class StatusPage:
    headline: Headline
    state: PageState
    groups: tuple[GroupBlock, ...]
    active: tuple[Notice, ...]
    active_maintenance: tuple[Notice, ...]
    upcoming: tuple[Notice, ...]
    history: tuple[tuple[str, tuple[Notice, ...]], ...]  # ("2026-05", notices) newest first
    names: dict[str, str]
    now: datetime


@dataclass(frozen=True, slots=True)
class PageData:
    """Everything :func:`build_page` needs, as loaded from the database."""

    groups: list[ServiceGroup]
    services: list[Service]
    notices: list[Notice]
    check_states: dict[str, CheckStatus]
    check_flips: list[CheckFlip]


def load_page(session: Session, now: datetime, hold: timedelta = DEFAULT_HOLD) -> PageData:
    """Groups, services, published notices and the linked checks' states and flips, in a fixed
    number of queries (not one per service or notice). Check states are held for ``hold``
    (:mod:`.holddown`) unless a person published about the service since they changed."""
    groups, services = load_services(session)
    notices = load_notices(session, published_only=True)
    states, flips = load_check_links(session, services, now, hold,
                                     released_by_notices(services, notices))
    return PageData(groups, services, notices, states, flips)


def released_by_notices(services: Sequence[Service], notices: Sequence[Notice]
                        ) -> dict[str, list[datetime]]:
    """Check link → the instants a person published a notice update about one of its services
    (worker-made updates, such as a maintenance starting by the clock, do not count)."""
    links = {s.id: s.check_ids for s in services}
    found: dict[str, list[datetime]] = {}
    for n in notices:
        moments = [u.created_at for u in n.updates if not u.automatic]
        for a in n.affected:
            for link in links.get(a.service_id, ()):
                found.setdefault(link, []).extend(moments)
    return found


def outage_intervals(notices: Sequence[Notice], service_id: str) -> list[OutageInterval]:
    """Outages of one service, as told by published incident notices (start → resolution)."""
    found = []
    for n in notices:
        if n.kind is not NoticeKind.INCIDENT or not n.is_published:
            continue
        for a in n.affected:
            if a.service_id == service_id and a.impact in _SEVERITY:
                start = n.started_at or n.published_at
                assert start is not None
                found.append(OutageInterval(start, n.resolved_at, _SEVERITY[a.impact], n.title))
    return found


def build_page(groups: Sequence[ServiceGroup], services: Sequence[Service],
               notices: Sequence[Notice], now: datetime, tz: tzinfo,
               check_states: Mapping[str, CheckStatus] | None = None,
               history_months: int = 6,
               check_flips: Sequence[CheckFlip] = ()) -> StatusPage:
    """The page at ``now``. Services in auto mode follow ``check_states`` (link → hard state),
    and their uptime bars add the outages replayed from ``check_flips`` to the notices' ones."""
    statuses = service_statuses(services, check_states or {}, notices, now)
    from_checks = check_outages(services, check_flips, now)
    tracked_since = min((s.created_at for s in services if s.created_at), default=None)

    def line(s: Service) -> ServiceLine:
        return ServiceLine(s, statuses[s.id], uptime_history(
            outage_intervals(notices, s.id) + from_checks.get(s.id, []), now, tz,
            tracked_since=s.created_at or tracked_since))

    blocks = []
    group_ids = {g.id for g in groups}
    for g in groups:
        members = [s for s in services if s.group == g.id]
        if members:
            blocks.append(GroupBlock(g, tuple(line(s) for s in members)))
    loose = [s for s in services if s.group not in group_ids]
    if loose:
        blocks.append(GroupBlock(None, tuple(line(s) for s in loose)))
    ordered = [ln.service for b in blocks for ln in b.lines]

    incidents = [n for n in notices if n.kind is NoticeKind.INCIDENT]
    active = sorted((n for n in incidents if not n.is_closed),
                    key=lambda n: n.updated_at or now, reverse=True)
    maint = [n for n in notices if n.kind is NoticeKind.MAINTENANCE]
    upcoming = sorted((n for n in maint if is_upcoming(n, now)),
                      key=lambda n: n.window.scheduled_for if n.window else now)
    running = [n for n in maint if is_active(n, now)]
    past = sorted((n for n in notices if (n.kind is NoticeKind.INCIDENT and n.is_closed)
                   or (n.kind is NoticeKind.MAINTENANCE and current_status(n, now).is_final)),
                  key=lambda n: n.started_at or n.published_at or now, reverse=True)
    months: dict[str, list[Notice]] = {}
    for n in past:
        key = (n.started_at or n.published_at or now).astimezone(tz).strftime("%Y-%m")
        if key in months or len(months) < history_months:
            months.setdefault(key, []).append(n)
    return StatusPage(
        headline=headline(ordered, statuses), state=page_state(statuses.values(), notices),
        groups=tuple(blocks), active=tuple(active), active_maintenance=tuple(running),
        upcoming=tuple(upcoming),
        history=tuple((k, tuple(v)) for k, v in months.items()),
        names={s.id: s.name for s in services}, now=now,
    )
