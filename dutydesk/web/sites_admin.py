"""Admin screen of sites (``/admin/sites``): every data center with its zone and how many
checks and probes it has; create one, change its name or zone, delete an empty one.

The rules are :mod:`dutydesk.core.site_registry` (the CLI uses the same); a refused change
shows the page again with the reason in the reader's language and a 4xx status."""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from dutydesk.context import db_session, principal, require_role
from dutydesk.core import audit
from dutydesk.core.site_registry import (
    SiteError,
    create_site,
    delete_site,
    edit_site,
    find_site,
    summaries,
)
from dutydesk.models import Role

bp = Blueprint("sites_admin", __name__, url_prefix="/admin/sites")

#: HTTP status of a refusal: a bad field 400, an unknown site 404, a state conflict 409.
_STATUS = {"unknown": 404, "exists": 409, "default": 409, "not_empty": 409}


def _held(held: dict[str, int]) -> str:
    """"2 checks, 1 probe" in the reader's language (a table not named here: its own words)."""
    words = {
        "checks": lambda n: ngettext("%(num)d check", "%(num)d checks", n),
        "probes": lambda n: ngettext("%(num)d probe", "%(num)d probes", n),
        "status page services": lambda n: ngettext("%(num)d status page service",
                                                   "%(num)d status page services", n),
        "duty schedules": lambda n: ngettext("%(num)d duty schedule", "%(num)d duty schedules",
                                             n),
        "visitor access requests": lambda n: ngettext("%(num)d visitor access request",
                                                      "%(num)d visitor access requests", n),
        "visits": lambda n: ngettext("%(num)d visit", "%(num)d visits", n),
        "kiosk links": lambda n: ngettext("%(num)d kiosk link", "%(num)d kiosk links", n),
        "maintenance windows": lambda n: ngettext("%(num)d maintenance window",
                                                  "%(num)d maintenance windows", n),
    }
    return ", ".join(words[word](n) if word in words else f"{n} {word}"
                     for word, n in sorted(held.items()))


def site_problem(exc: SiteError) -> str:
    """The refusal in the reader's language."""
    p = exc.params
    messages = {
        "bad_slug": _("A site slug is 1-64 of a-z, 0-9 and -, starting with a letter or digit "
                      "(got “%(value)s”).", value=p.get("value", "")),
        "bad_name": _("A site name is 1-200 printable characters."),
        "bad_zone": _("“%(value)s” is not a known IANA time zone (e.g. Europe/Kyiv, UTC).",
                      value=p.get("value", "")),
        "unknown": _("There is no site “%(value)s”.", value=p.get("value", "")),
        "exists": _("A site “%(value)s” already exists.", value=p.get("value", "")),
        "default": _("The default site cannot be deleted: everything made without a site "
                     "belongs to it."),
        "not_empty": _("Site “%(value)s” still has %(what)s. Move or delete them first.",
                       value=p.get("value", ""), what=_held(exc.held) or p.get("what", "")),
    }
    return messages.get(exc.code, str(exc))


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _page(problem: str | None = None, status: int = 200, form: dict[str, str] | None = None,
          editing: str | None = None) -> Any:
    s = db_session()
    rows = summaries(s)
    s.commit()
    return render_template("admin/sites.html", rows=rows, problem=problem, form=form or {},
                           editing=editing, zones=_zones()), status


@bp.route("", methods=["GET"])
@require_role(Role.ADMIN)
def sites() -> Any:
    return _page(editing=request.args.get("edit"))


@bp.route("", methods=["POST"])
@require_role(Role.ADMIN)
def site_create() -> Any:
    s = db_session()
    form = {k: request.form.get(k, "")[:300] for k in ("slug", "name", "zone")}
    try:
        made = create_site(s, form["slug"].strip(), form["name"], form["zone"] or "UTC")
    except SiteError as exc:
        s.rollback()
        return _page(site_problem(exc), _STATUS.get(exc.code, 400), form)
    audit.record(s, principal(), "site.create", "site", made.id,
                 summary=f"site {made.slug} ({made.name}, {made.time_zone}) created",
                 after={"slug": made.slug, "name": made.name, "time_zone": made.time_zone})
    s.commit()
    flash(_("Site %(name)s created.", name=made.name), "ok")
    return redirect(url_for("sites_admin.sites"))


@bp.route("/<slug>", methods=["POST"])
@require_role(Role.ADMIN)
def site_edit(slug: str) -> Any:
    s = db_session()
    try:
        find_site(s, slug)
        changed, before = edit_site(s, slug, request.form.get("name", "")[:300],
                                    request.form.get("zone", "")[:300])
    except SiteError as exc:
        s.rollback()
        return _page(site_problem(exc), _STATUS.get(exc.code, 400), editing=slug)
    audit.record(s, principal(), "site.edit", "site", changed.id,
                 summary=f"site {changed.slug} edited", before=before,
                 after={"name": changed.name, "time_zone": changed.time_zone})
    s.commit()
    flash(_("Site %(name)s saved.", name=changed.name), "ok")
    return redirect(url_for("sites_admin.sites"))


@bp.route("/<slug>/delete", methods=["POST"])
@require_role(Role.ADMIN)
def site_delete(slug: str) -> Any:
    s = db_session()
    try:
        gone = delete_site(s, slug)
    except SiteError as exc:
        s.rollback()
        return _page(site_problem(exc), _STATUS.get(exc.code, 400))
    audit.record(s, principal(), "site.delete", "site", gone.id, summary=f"site {slug} deleted",
                 before={"slug": gone.slug, "name": gone.name, "time_zone": gone.time_zone})
    s.commit()
    flash(_("Site %(name)s deleted.", name=gone.name), "ok")
    return redirect(url_for("sites_admin.sites"))
