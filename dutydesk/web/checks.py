"""Check screens for everyone signed in: the list grouped by hall/system and the detail page,
plus "Run now" for engineers. Editing lives in :mod:`dutydesk.web.checks_edit` (shift lead and
admin); ``register_check_screens`` wires both and the /metrics collector into the app.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select, update

from checks.maintenance import MaintenanceError, next_occurrences
from checks.models import (
    Check,
    CheckGroup,
    CheckStateRow,
    HeartbeatLogRow,
    MaintenanceWindowRow,
)
from checks.probes import CHECK_TYPES
from checks.queries import (
    STATE_FILTERS,
    STATUS_ORDER,
    CheckFilters,
    FilterError,
    check_detail,
    group_rows,
    list_page,
    sparkline,
    status_totals,
    uptime_from_rollups,
)
from checks.secrets import masked
from checks.windows import build_window
from dutydesk.context import db_session, principal, require_role
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.sites import Site
from dutydesk.models import Role
from dutydesk.pagination import PaginationError, parse_page_args

bp = Blueprint("checks", __name__)
#: Who may create, edit, disable and delete checks, groups, dependencies and windows.
EDIT_ROLE = Role.SHIFT_LEAD


def register_check_screens(app: Flask) -> None:
    """The check screens and the per-check /metrics collector (called once per app)."""
    from dutydesk.web.checks_edit import bp as edit_bp
    from dutydesk.web.checks_metrics import register_check_metrics
    from dutydesk.web.checks_sites import bp as sites_bp

    app.register_blueprint(bp)
    app.register_blueprint(edit_bp)
    app.register_blueprint(sites_bp)
    state = app.extensions["dutydesk"]
    register_check_metrics(state.metrics.registry, state.db)


def can_edit() -> bool:
    return principal().can(EDIT_ROLE)


@bp.route("/checks")
@require_role(Role.VIEWER)
def check_list() -> Any:
    try:
        filters = CheckFilters.from_args(request.args)
    except FilterError as exc:
        flash(_("Filter ignored: %(message)s", message=str(exc)), "error")
        filters = CheckFilters()
    try:
        page, per_page = parse_page_args(request.args, default_per_page=50)
    except PaginationError as exc:
        flash(_("Page ignored: %(message)s", message=str(exc)), "error")
        page, per_page = 1, 50
    s = db_session()
    sites = list(s.scalars(select(Site).order_by(Site.name)))
    if filters.site and filters.site not in {site.slug for site in sites}:
        flash(_("Filter ignored: there is no site “%(value)s”.", value=filters.site), "error")
        filters = replace(filters, site="")
    rows, total = list_page(s, filters, page, per_page)
    pages = max(1, -(-total // per_page))
    groups = [path for (path,) in s.execute(select(CheckGroup.path).order_by(CheckGroup.path))]
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "checks/list.html", blocks=group_rows(rows), shown=total, filters=filters,
        page=min(page, pages), pages=pages, per_page=per_page, page_args=args,
        totals=status_totals(s), state_filters=STATE_FILTERS, status_order=STATUS_ORDER,
        types=sorted(CHECK_TYPES), groups=groups, can_edit=can_edit(), sites=sites,
    )


def window_timing(row: MaintenanceWindowRow, now: datetime) -> dict[str, Any]:
    """When a stored window is active or next starts; ``error`` if it no longer validates."""
    try:
        window = build_window(row.kind, dict(row.definition), row.zone, row.name)
        current = window.occurrence_at(now)
        upcoming = next_occurrences(window, now, 1)
    except MaintenanceError as exc:
        return {"error": str(exc), "active_until": None, "next_start": None}
    return {"error": None, "active_until": current.end if current else None,
            "next_start": upcoming[0].start if upcoming else None}


@bp.route("/checks/<int:check_id>")
@require_role(Role.VIEWER)
def check_page(check_id: int) -> Any:
    s = db_session()
    now = utcnow()
    detail = check_detail(s, check_id, now)
    if detail is None:
        abort(404)
    samples = [(r.duration, r.status) for r in reversed(detail.results)]
    flap_percent = (detail.state.state or {}).get("flap_percent") if detail.state else None
    since = (detail.state.state or {}).get("since") if detail.state else None
    others: list[tuple[int, str]] = []
    if can_edit():
        linked = {detail.check.id, *(p[0] for p in detail.parents)}
        others = [(cid, slug) for cid, slug in s.execute(select(Check.id, Check.slug)
                                                         .order_by(Check.slug))
                  if cid not in linked]
    pings = []
    if detail.check.type == "heartbeat":  # what the cron job said lately (pings, exit, log)
        pings = list(s.scalars(select(HeartbeatLogRow)
                               .where(HeartbeatLogRow.check_id == check_id)
                               .order_by(HeartbeatLogRow.id.desc()).limit(20)))
    from dutydesk.sites.service import runs_on

    return render_template(
        "checks/detail.html", d=detail, check=detail.check, state=detail.state, pings=pings,
        runs_on=runs_on(s, check_id),
        spec=masked(detail.check.type, detail.check.spec),
        spark=sparkline(samples), uptime=uptime_from_rollups(detail.rollups, now),
        flap_percent=flap_percent, since=datetime.fromisoformat(since) if since else None,
        windows=[(w, path, window_timing(w, now)) for w, path in detail.windows],
        can_run=principal().can(Role.ENGINEER), can_edit=can_edit(), other_checks=others,
        now=now,
    )


@bp.route("/checks/<int:check_id>/run", methods=["POST"])
@require_role(Role.ENGINEER)
def check_run_now(check_id: int) -> Any:
    """Make the check due now (the same update as ``CheckStore.request_run``), audited in the
    same transaction; the engine picks it up within its claim interval."""
    s = db_session()
    check = s.get(Check, check_id)
    if check is None:
        abort(404)
    if s.get(CheckStateRow, check_id) is None:
        flash(_("This check has no state yet; the engine creates it shortly."), "error")
        return redirect(url_for("checks.check_page", check_id=check_id), 303)
    now = utcnow()
    s.execute(update(CheckStateRow).where(CheckStateRow.check_id == check_id)
              .values(next_due_at=now))
    audit.record(s, principal(), "check.run_now", "check", check_id,
                 summary=f"run now requested for check {check.slug}")
    s.commit()
    flash(_("Check %(name)s will run within a few seconds.", name=check.slug), "ok")
    return redirect(url_for("checks.check_page", check_id=check_id), 303)
