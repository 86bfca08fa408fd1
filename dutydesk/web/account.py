"""A person's own account: name, language, time zone, password."""

from __future__ import annotations

import zoneinfo
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask_babel import gettext as _

from dutydesk import accounts
from dutydesk.context import db_session, principal, require_role
from dutydesk.core.security import verify_password
from dutydesk.errors import ApiError
from dutydesk.models import Role
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
        if form.get("new_password") and user.directory_dn is None:
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
        s.commit()
        if "password" in changes:
            from flask import session

            session["sv"] = user.session_version  # stay signed in here, signed out elsewhere
        flash(_("Saved."), "ok")
        return redirect("/account")
    zones = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc")
    )
    return render_template("account/profile.html", user=user, zones=zones)
