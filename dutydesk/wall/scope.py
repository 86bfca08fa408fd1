"""Which site a wall shows, and reading the sites' and probes' rows for it.

A wall shows one site (``/wall?site=kyiv-dc2``, or the one site of a site's kiosk link) or
every site (the head office). A site's wall reads that site's checks and incidents only; the
head office's wall, when more than one site exists, adds one summary per site on a strip at the
top. Either shows the remote probes in trouble (its site's, or every site's).

Queries, whatever the number of sites and checks: one for the sites, one for the probes, and
for the head office's strip one GROUP BY over the checks and one over the open incidents — on
top of the wall's own (``sources.load_view``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.wall.rows import CheckStatus, WallLimits
from dutydesk.wall.sitesview import (
    ProbeRow,
    SiteInfo,
    probe_troubles,
    site_summaries,
)
from dutydesk.wall.snapshot import Counts, WallView
from dutydesk.wall.sources import incidents_available, load_view

_OPEN = ("triggered", "acknowledged", "pending")


class UnknownSite(LookupError):
    """No site has this slug."""


def load_sites(session: Session) -> list[SiteInfo]:
    """Every site, by name (one query)."""
    from dutydesk.core.sites import Site

    return [
        SiteInfo(*row)
        for row in session.execute(
            select(Site.id, Site.slug, Site.name, Site.time_zone).order_by(Site.name, Site.slug)
        )
    ]


def find_site(sites: list[SiteInfo], slug: str) -> SiteInfo:
    for site in sites:
        if site.slug == slug:
            return site
    raise UnknownSite(slug)


def load_probes(session: Session, site_id: int | None) -> list[ProbeRow]:
    """Enrolled, not revoked probes (of one site or all), one query."""
    from dutydesk.core.sites import Site
    from dutydesk.sites.models import Probe

    query = (
        select(
            Probe.id, Probe.name, Site.slug, Site.name, Site.time_zone, Probe.last_contact_at,
            Probe.grace_seconds, Probe.buffer_depth, Probe.dropped_total,
        )
        .join(Site, Site.id == Probe.site_id)
        .where(Probe.revoked_at.is_(None), Probe.credential_hash.is_not(None))
    )
    if site_id is not None:
        query = query.where(Probe.site_id == site_id)
    return [
        ProbeRow(
            id=r[0], name=r[1], site_slug=r[2], site_name=r[3], time_zone=r[4],
            last_contact_at=r[5], grace_seconds=float(r[6]), buffer_depth=int(r[7] or 0),
            dropped_total=int(r[8] or 0),
        )
        for r in session.execute(query)
    ]


def load_site_counts(session: Session) -> dict[int, Counts]:
    """Per site, its enabled checks counted by status (one GROUP BY)."""
    from checks.models import Check, CheckStateRow

    out: dict[int, Counts] = {}
    for site_id, status, in_maintenance, n in session.execute(
        select(Check.site_id, CheckStateRow.status, CheckStateRow.in_maintenance, func.count())
        .select_from(Check)
        .join(CheckStateRow, CheckStateRow.check_id == Check.id, isouter=True)
        .where(Check.enabled.is_(True))
        .group_by(Check.site_id, CheckStateRow.status, CheckStateRow.in_maintenance)
    ):
        bucket = "maintenance" if in_maintenance else _bucket(status)
        out[site_id] = out.get(site_id, Counts()) + Counts(**{bucket: n})
    return out


def _bucket(status: str | None) -> str:
    try:
        return CheckStatus((status or "PENDING").lower()).value
    except ValueError:
        return CheckStatus.UNKNOWN.value


def load_site_incidents(session: Session) -> dict[int, tuple[int, int]]:
    """Per site, (open incidents, not yet acknowledged) (one GROUP BY)."""
    if not incidents_available():
        return {}
    from dutydesk.incidents.models import Incident

    out: dict[int, tuple[int, int]] = {}
    for site_id, status, n in session.execute(
        select(Incident.site_id, Incident.status, func.count())
        .where(Incident.status.in_(_OPEN), Incident.site_id.is_not(None))
        .group_by(Incident.site_id, Incident.status)
    ):
        opened, unacked = out.get(site_id, (0, 0))
        out[site_id] = (opened + n, unacked + (n if status == "triggered" else 0))
    return out


def load_wall(
    session: Session,
    now: datetime,
    limits: WallLimits,
    site: SiteInfo | None,
    sites: list[SiteInfo] | None = None,
) -> WallView:
    """The wall of ``site`` (``None``: every site, with the per-site strip when there are
    several). ``sites``: every site, if the caller has read them already."""
    view = load_view(session, now, limits, site.id if site is not None else None)
    troubles = probe_troubles(load_probes(session, site.id if site else None), now)
    strip: tuple = ()
    if site is None:
        sites = load_sites(session) if sites is None else sites
        if len(sites) > 1:
            strip = site_summaries(
                sites, load_site_counts(session), load_site_incidents(session), troubles
            )
    return replace(view, site=site, sites=strip, probes=troubles)
