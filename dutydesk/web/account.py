"""A person's own account: name, language, time zone, password."""

from __future__ import annotations

import zoneinfo
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session
from flask_babel import gettext as _

from dutydesk import accounts
from dutydesk.context import db_session, principal, require_role
from dutydesk.core import audit
from dutydesk.core.security import verify_password
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.web.auth import sign_in_here
from dutydesk.web.forms import flash_validation

bp = Blueprint("account", __name__)


@bp.route("/account", methods=["GET", "POST"])
@require_role(Role.VIEWER)
def profile() -> Any:
    who = principal()
    if who.user is None:
        raise ApiError(403, _("Kiosk screens have no account settings."))
    user = who.user
    if request.method == "POST":
        s = db_session()
        form = request.form
        changes: dict[str, Any] = {
            "name": form.get("name", user.name),
            "language": form.get("language") or None,
            "timezone": form.get("timezone") or None,
        }
        if form.get("new_password") and not user.external:
            if not verify_password(user.password_hash, form.get("current_password", "")):
                flash(_("The current password is wrong; nothing was changed."), "error")
                return redirect("/account")
            changes["password"] = form["new_password"]
        try:
            accounts.update_user(s, who, user, **changes)
        except accounts.ValidationError as exc:
            s.rollback()
            flash_validation(exc)
            return redirect("/account")
        if "password" in changes:
            sign_in_here(user)  # stay signed in here; every other session has ended
        s.commit()
        flash(_("Saved."), "ok")
        return redirect("/account")
    zones = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc")
    )
    return render_template("account/profile.html", user=user, zones=zones)


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@require_role(Role.VIEWER)
def sign_out_everywhere() -> Any:
    """End every session of this person, this browser's included (a lost phone, a shared PC)."""
    who = principal()
    if who.user is None:
        raise ApiError(403, _("Kiosk screens have no account settings."))
    s = db_session()
    ended = accounts.end_all_sessions(s, who.user)
    audit.record(s, who, "user.sign_out_everywhere", "user", who.user.id,
                 summary=f"{who.user.email} signed out everywhere ({ended} sessions)")
    s.commit()
    session.clear()
    flash(_("You are signed out everywhere."), "ok")
    return redirect("/login")
