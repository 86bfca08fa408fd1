"""The ``?site=`` of screens that work for one site at a time, and their site selector.

``site_arg()`` reads the slug (blank or missing: every site / not chosen) and answers an unknown
slug with a 404 that names it, never a 500. ``site_choices()`` is what the selector lists: the
sites when there is more than one, else nothing (a single-site installation sees no selector).
The selector itself is ``templates/_site_select.html``.
"""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _

from dutydesk.context import db_session
from dutydesk.core.site_scope import UnknownSite, all_sites, optional_site
from dutydesk.core.sites import Site


def site_from(slug: str | None) -> Site | None:
    """The site a slug names (blank: ``None``); unknown → 404 with a message."""
    try:
        return optional_site(db_session(), slug)
    except UnknownSite as exc:
        abort(404, _("No site with the slug %(slug)s.", slug=exc.slug))


def site_arg(name: str = "site") -> Site | None:
    """``site_from`` for the request's query argument ``name``."""
    return site_from(request.args.get(name))


def site_choices() -> list[Site]:
    """The sites a selector offers: all of them when there are several, else none."""
    sites = all_sites(db_session())
    return sites if len(sites) > 1 else []
