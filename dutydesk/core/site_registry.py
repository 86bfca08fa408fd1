"""The rules for managing sites, one layer shared by the CLI (``dutydesk site``), the admin page
(``/admin/sites``) and every place that names a site by its slug (checks-as-code, the checks
API, filters).

- A slug is 1-64 of ``a-z 0-9 -`` starting with a letter or digit (it appears in URLs, YAML and
  the probe's ``--site``); it never changes once made (probes and files refer to it).
- A name is 1-200 printable characters; a zone is an IANA name this machine knows.
- A site is deleted only when nothing belongs to it: every table whose rows belong to a site
  (a foreign key to ``sites.id`` that is not ``SET NULL``) is asked, so a table added later is
  counted without changing this module. Incidents only *mention* a site (``SET NULL``) and do
  not hold a site back. The default site is never deleted: rows written without a site land in
  it.

Functions raise :class:`SiteError` (a ValueError) with a message a person can act on; they
change the session, the caller commits (with its audit entry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core.db import Base
from dutydesk.core.sites import DEFAULT_SITE, Site, valid_zone

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
NAME_LIMIT = 200

#: How a person calls the rows of a table that belong to a site (others: the table's name).
_TABLE_WORDS = {
    "checks": "checks",
    "probes": "probes",
    "status_services": "status page services",
    "shift_schedules": "duty schedules",
    "visitor_access_requests": "visitor access requests",
    "visitor_visits": "visits",
    "kiosk_links": "kiosk links",
    "maintenance_windows": "maintenance windows",
}


class SiteError(ValueError):
    """A site request a person can fix (a CLI error with exit 1 or a 4xx). ``code`` names the
    rule (``bad_slug``, ``bad_name``, ``bad_zone``, ``unknown``, ``exists``, ``default``,
    ``not_empty``) and ``params`` its values, so a screen can say it in the reader's language;
    ``str()`` is the English message."""

    def __init__(self, code: str, message: str, **params: str) -> None:
        super().__init__(message)
        self.code, self.params = code, params
        #: ``not_empty``: what still belongs to the site, {what: how many}.
        self.held: dict[str, int] = {}


@dataclass(frozen=True, slots=True)
class SiteSummary:
    """A site and how many checks and probes (not revoked) it has."""

    site: Site
    checks: int
    probes: int


def check_slug(slug: str) -> str:
    """``slug`` when it is a valid site slug; else :class:`SiteError` saying what is allowed."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise SiteError("bad_slug", "site slug must be 1-64 of a-z 0-9 - (starting with a "
                        f"letter or digit), got {slug!r}", value=str(slug))
    return slug


def check_name(name: str) -> str:
    """The trimmed name when it is 1-200 printable characters."""
    name = (name or "").strip()
    if not name or len(name) > NAME_LIMIT or not name.isprintable():
        raise SiteError("bad_name", f"site name must be 1-{NAME_LIMIT} printable characters, "
                        f"got {name!r}", value=name)
    return name


def check_zone(zone: str) -> str:
    """``zone`` when it is an IANA time zone this machine knows."""
    zone = (zone or "").strip()
    if not valid_zone(zone) or zone != zone.strip("/") or zone.lower() == "localtime":
        raise SiteError("bad_zone", f"zone must be an IANA time zone such as Europe/Kyiv or "
                        f"UTC, got {zone!r}", value=zone)
    return zone


def find_site(s: Session, slug: str) -> Site:
    """The site of ``slug``; the default site is made again when it is missing."""
    site = s.scalar(select(Site).where(Site.slug == slug))
    if site is None and slug == DEFAULT_SITE:
        site = Site(slug=DEFAULT_SITE, name="Default site", time_zone="UTC")
        s.add(site)
        s.flush()
    if site is None:
        known = ", ".join(s.scalars(select(Site.slug).order_by(Site.slug))) or DEFAULT_SITE
        raise SiteError("unknown", f"no site {slug!r} (known: {known})", value=str(slug),
                        known=known)
    return site


def site_ids(s: Session) -> dict[str, int]:
    """Slug -> id of every site (one query; for resolving many slugs at once)."""
    return {slug: id_ for slug, id_ in s.execute(select(Site.slug, Site.id))}


def create_site(s: Session, slug: str, name: str, zone: str = "UTC") -> Site:
    """A new site; refused when the slug is taken or a field is invalid."""
    slug, name, zone = check_slug(slug), check_name(name), check_zone(zone)
    if s.scalar(select(Site.id).where(Site.slug == slug)) is not None:
        raise SiteError("exists", f"a site {slug!r} already exists", value=slug)
    site = Site(slug=slug, name=name, time_zone=zone)
    s.add(site)
    s.flush()
    return site


def edit_site(s: Session, slug: str, name: str | None = None,
              zone: str | None = None) -> tuple[Site, dict[str, str]]:
    """Change the name and/or zone of a site; returns it and the fields before the change."""
    site = find_site(s, slug)
    before = {"name": site.name, "time_zone": site.time_zone}
    new_name = check_name(name) if name is not None else site.name
    new_zone = check_zone(zone) if zone is not None else site.time_zone
    site.name, site.time_zone = new_name, new_zone
    s.flush()
    return site, before


def belongings(s: Session, site_id: int) -> dict[str, int]:
    """What belongs to the site: {what: how many}, only the non-zero ones."""
    found: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        if table.name == "sites":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name != "sites" or (fk.ondelete or "").upper() == "SET NULL":
                continue
            count = s.scalar(select(func.count()).select_from(table)
                             .where(fk.parent == site_id)) or 0
            if count:
                word = _TABLE_WORDS.get(table.name, table.name.replace("_", " "))
                found[word] = found.get(word, 0) + int(count)
    return found


def delete_site(s: Session, slug: str) -> Site:
    """Delete an empty site (not the default one); returns the deleted row."""
    site = find_site(s, slug)
    if site.slug == DEFAULT_SITE:
        raise SiteError("default", "the default site cannot be deleted: rows written without "
                        "a site belong to it", value=slug)
    held = belongings(s, site.id)
    if held:
        what = ", ".join(f"{n} {word}" for word, n in sorted(held.items()))
        refusal = SiteError("not_empty", f"site {slug!r} still has {what}: move or delete "
                            "them first", value=slug, what=what)
        refusal.held = held
        raise refusal
    s.delete(site)
    s.flush()
    return site


def summaries(s: Session) -> list[SiteSummary]:
    """Every site by slug, the default first, with its checks and live probes counted
    (two grouped queries, not one per site)."""
    find_site(s, DEFAULT_SITE)
    counts: dict[str, dict[int, int]] = {}
    for table_name, live in (("checks", None), ("probes", "revoked_at")):
        table = Base.metadata.tables.get(table_name)
        if table is None:
            counts[table_name] = {}
            continue
        query = select(table.c.site_id, func.count()).group_by(table.c.site_id)
        if live is not None:
            query = query.where(table.c[live].is_(None))
        counts[table_name] = {site_id: n for site_id, n in s.execute(query)}
    sites = sorted(s.scalars(select(Site)), key=lambda x: (x.slug != DEFAULT_SITE, x.slug))
    return [SiteSummary(site, counts["checks"].get(site.id, 0),
                        counts["probes"].get(site.id, 0)) for site in sites]
