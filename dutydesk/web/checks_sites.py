"""Maintenance of a whole site (``/checks/sites/<slug>``): power or cooling work in one data
center mutes every check of that site and no other. The windows are the same rows as a check's
or a group's (``maintenance_windows.site_id``), validated by the same ``validate_window``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, url_for
from sqlalchemy import func, select

from checks.models import Check, MaintenanceWindowRow
from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.core.sites import Site
from dutydesk.models import Role
from dutydesk.web.checks import EDIT_ROLE, window_timing
from dutydesk.web.checks_edit import add_window

bp = Blueprint("checks_sites", __name__)


def _site_or_404(slug: str) -> Site:
    site = db_session().scalar(select(Site).where(Site.slug == slug))
    if site is None:
        abort(404)
    return site


@bp.route("/checks/sites/<slug>", methods=["GET"])
@require_role(Role.VIEWER)
def site_maintenance(slug: str) -> Any:
    """The site's windows (active, next, over) and, for shift leads, a form to add one."""
    s = db_session()
    site = _site_or_404(slug)
    now = utcnow()
    windows = s.scalars(select(MaintenanceWindowRow).where(
        MaintenanceWindowRow.site_id == site.id).order_by(MaintenanceWindowRow.id)).all()
    count = s.scalar(select(func.count()).select_from(Check).where(Check.site_id == site.id))
    return render_template("checks/site.html", site=site, checks=count or 0,
                           can_edit=principal().can(EDIT_ROLE),
                           windows=[(w, site.name, window_timing(w, now)) for w in windows])


@bp.route("/checks/sites/<slug>/windows", methods=["POST"])
@require_role(EDIT_ROLE)
def site_window_add(slug: str) -> Any:
    site = _site_or_404(slug)
    return add_window({"site": site.slug, "site_id": site.id},
                      url_for("checks_sites.site_maintenance", slug=site.slug))
