"""Looking sites up for screens, APIs and reports that work for one site at a time.

A screen or API that is scoped to a site takes the site's slug (``?site=ams``, a form field, a
JSON ``site`` field). These functions turn the slug into the row, tell an unknown slug apart
from "no site asked for", and give the default site that rows without a site belong to.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core.site_registry import SiteError, find_site
from dutydesk.core.sites import DEFAULT_SITE, Site


class UnknownSite(LookupError):
    """A site slug no site has; ``str()`` is the message for the person who typed it."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"no site with the slug {slug!r}")
        self.slug = slug


def all_sites(session: Session) -> list[Site]:
    """Every site, the default site first, then by name."""
    return list(session.scalars(
        select(Site).order_by((Site.slug != DEFAULT_SITE), Site.name, Site.id)))


def several_sites(session: Session) -> bool:
    """More than one site exists (a single-site installation sees no site selector)."""
    return (session.scalar(select(func.count(Site.id))) or 0) > 1


def site_by_slug(session: Session, slug: str) -> Site:
    """The site with that slug (leading/trailing blanks ignored, case-insensitive: slugs are
    lower case); ``UnknownSite`` if there is none. The one lookup is
    :func:`dutydesk.core.site_registry.find_site`."""
    wanted = (slug or "").strip().lower()
    try:
        return find_site(session, wanted)
    except SiteError:
        raise UnknownSite((slug or "").strip()) from None


def optional_site(session: Session, slug: str | None) -> Site | None:
    """``None`` for a missing or blank slug ("every site" / "not asked"), else ``site_by_slug``."""
    if slug is None or not slug.strip():
        return None
    return site_by_slug(session, slug)


def default_site(session: Session) -> Site:
    """The default site (made if missing, as the ``site_id`` column default does)."""
    return find_site(session, DEFAULT_SITE)


def site_names(session: Session) -> dict[int, Site]:
    """``{site id: Site}`` for labelling rows with their site."""
    return {site.id: site for site in session.scalars(select(Site))}
