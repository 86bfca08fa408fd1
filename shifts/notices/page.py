"""What the public status page shows, as one value built from loaded data (pure, ``now`` given).

The web layer loads groups, services and published notices (:func:`load_page`), calls
:func:`build_page` and renders the result; the snapshot cache keeps the rendered bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.orm import Session

from checks.result import Status as CheckStatus
from dutydesk.core.site_scope import all_sites

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
class SiteBlock:
    """One data center's services on a page that spans several (its name as the heading)."""

    name: str
    groups: tuple[GroupBlock, ...]


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
    #: The services again, by site, when they belong to more than one site (else empty: the
    #: page of a single data center is unchanged).
    sites: tuple[SiteBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class PageData:
    """Everything :func:`build_page` needs, as loaded from the database."""

    groups: list[ServiceGroup]
    services: list[Service]
    notices: list[Notice]
    check_states: dict[str, CheckStatus]
    check_flips: list[CheckFlip]
    #: Site slug → name, the default site first, then by name.
    site_names: dict[str, str] = field(default_factory=dict)


def load_page(session: Session, now: datetime, hold: timedelta = DEFAULT_HOLD) -> PageData:
    """Groups, services, published notices and the linked checks' states and flips, in a fixed
    number of queries (not one per service or notice). Check states are held for ``hold``
    (:mod:`.holddown`) unless a person published about the service since they changed."""
    groups, services = load_services(session)
    notices = load_notices(session, published_only=True)
    states, flips = load_check_links(session, services, now, hold,
                                     released_by_notices(services, notices))
    sites = {site.slug: site.name for site in all_sites(session)}
    return PageData(groups, services, notices, states, flips, sites)


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
               check_flips: Sequence[CheckFlip] = (),
               site_names: Mapping[str, str] | None = None) -> StatusPage:
    """The page at ``now``. Services in auto mode follow ``check_states`` (link → hard state),
    and their uptime bars add the outages replayed from ``check_flips`` to the notices' ones.

    ``site_names`` (slug → name, in page order): when the services belong to more than one
    site, ``sites`` repeats the group blocks per site under the site's name."""
    statuses = service_statuses(services, check_states or {}, notices, now)
    from_checks = check_outages(services, check_flips, now)
    tracked_since = min((s.created_at for s in services if s.created_at), default=None)

    def line(s: Service) -> ServiceLine:
        return ServiceLine(s, statuses[s.id], uptime_history(
            outage_intervals(notices, s.id) + from_checks.get(s.id, []), now, tz,
            tracked_since=s.created_at or tracked_since))

    lines = {s.id: line(s) for s in services}
    blocks = _blocks(groups, services, lines)
    ordered = [ln.service for b in blocks for ln in b.lines]
    sites = _by_site(groups, services, lines, site_names or {})

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
        names={s.id: s.name for s in services}, now=now, sites=sites,
    )


def _blocks(groups: Sequence[ServiceGroup], services: Sequence[Service],
            lines: Mapping[str, ServiceLine]) -> list[GroupBlock]:
    """The services in their groups (group order), then the ungrouped ones."""
    blocks = []
    group_ids = {g.id for g in groups}
    for g in groups:
        members = [s for s in services if s.group == g.id]
        if members:
            blocks.append(GroupBlock(g, tuple(lines[s.id] for s in members)))
    loose = [s for s in services if s.group not in group_ids]
    if loose:
        blocks.append(GroupBlock(None, tuple(lines[s.id] for s in loose)))
    return blocks


def _by_site(groups: Sequence[ServiceGroup], services: Sequence[Service],
             lines: Mapping[str, ServiceLine], site_names: Mapping[str, str]
             ) -> tuple[SiteBlock, ...]:
    """Group blocks per site, in ``site_names`` order (sites not in it after, by slug); empty
    when every service is at one site."""
    present = {s.site for s in services}
    if len(present) < 2:
        return ()
    order = [slug for slug in site_names if slug in present]
    order += sorted((slug for slug in present if slug not in site_names), key=str)
    return tuple(
        SiteBlock(site_names.get(slug or "", slug or ""),
                  tuple(_blocks(groups, [s for s in services if s.site == slug], lines)))
        for slug in order)
