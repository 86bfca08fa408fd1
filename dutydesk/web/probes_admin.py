"""Admin screen of remote probes (``/admin/probes``): each probe's site, state, version, last
contact, push lag and buffer; create one (its enrolment token shown once) or revoke it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.models import Role
from dutydesk.sites.health import ProbeSeen, is_offline
from dutydesk.sites.models import Probe, Site
from dutydesk.sites.service import ProbeError, create_probe, revoke_probe, site_by_slug

bp = Blueprint("probes_admin", __name__, url_prefix="/admin/probes")


def _state(probe: Probe, site: Site, now: Any) -> str:
    if probe.revoked_at is not None:
        return "revoked"
    if probe.credential_hash is None:
        return "awaiting"
    seen = ProbeSeen(probe.id, probe.name, site.slug, site.time_zone, probe.last_contact_at,
                     probe.grace_seconds)
    return "offline" if is_offline(seen, now) else "online"


@bp.route("", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def probes() -> Any:
    s = db_session()
    created: str | None = None
    if request.method == "POST":
        site, name = request.form.get("site", "")[:64], request.form.get("name", "")[:64]
        try:
            issued = create_probe(s, site, name, utcnow())
        except ProbeError as exc:
            s.rollback()
            flash(str(exc), "error")
            return redirect(url_for("probes_admin.probes"))
        audit.record(s, principal(), "probe.create", "probe", issued.probe_id,
                     summary=f"probe {name} created at site {site}")
        s.commit()
        created = issued.secret
    site_by_slug(s, "default")  # the default site exists even after a wipe
    now = utcnow()
    rows = [(p, site, _state(p, site, now)) for p, site in s.execute(
        select(Probe, Site).join(Site, Site.id == Probe.site_id)
        .order_by(Site.slug, Probe.name)).all()]
    sites = list(s.scalars(select(Site).order_by(Site.slug)))
    s.commit()
    return render_template("admin/probes.html", rows=rows, sites=sites, created=created,
                           lags={p.id: lag_seconds(p.last_contact_at, now) for p, _s, _t in rows})


def lag_seconds(last_contact_at: Any, now: Any) -> int | None:
    """Whole seconds since the probe's last contact (its push lag as the centre sees it)."""
    if last_contact_at is None:
        return None
    return max(int((now - last_contact_at).total_seconds()), 0)


@bp.route("/<int:probe_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
def probe_revoke(probe_id: int) -> Any:
    s = db_session()
    probe = s.get(Probe, probe_id) or abort(404, _("No such probe."))
    revoke_probe(s, probe, utcnow())
    audit.record(s, principal(), "probe.revoke", "probe", probe.id,
                 summary=f"probe {probe.name} revoked")
    s.commit()
    flash(_("Probe %(name)s revoked.", name=probe.name), "ok")
    return redirect(url_for("probes_admin.probes"))
