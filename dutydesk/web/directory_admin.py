"""The admin page of the company directory: its configuration without secrets, and buttons that
test the connection or one person's sign-in and say exactly which stage failed."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core import audit
from dutydesk.models import Role
from dutydesk.web.auth_ldap import DirectoryError, authenticate, check_connection

bp = Blueprint("directory_admin", __name__, url_prefix="/admin")


def stage_label(stage: str) -> str:
    """The failed stage in the admin's language."""
    return {
        "tls": _("TLS: the server's certificate could not be verified, or TLS failed"),
        "connect": _("Connection: the server cannot be reached"),
        "bind": _("Bind: the service account was refused"),
        "search": _("Search: the person's entry could not be found or read"),
        "group": _("Groups: the group search failed"),
        "credentials": _("Credentials: wrong user name or password"),
        "disabled": _("The account is disabled in the directory"),
        "no_group": _("Groups: the person is in none of the mapped groups"),
        "username": _("User name: characters a user name never has (injection attempt?)"),
        "conflict": _("A local account already uses this person's email"),
    }.get(stage, stage)


@bp.route("/directory", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def directory() -> Any:
    cfg = settings().ldap
    result: dict[str, Any] | None = None
    status = 200
    if request.method == "POST" and cfg is not None:
        username = request.form.get("username", "").strip()
        try:
            if request.form.get("action") == "user":
                person = authenticate(cfg, username, request.form.get("password", ""))
                result = {"ok": True, "text": _(
                    "%(dn)s signs in as %(role)s (%(email)s).",
                    dn=person.dn, role=person.role.value if person.role else "requester",
                    email=person.email)}
            else:
                result = {"ok": True, "text": check_connection(cfg)}
        except DirectoryError as exc:
            result = {"ok": False, "stage": stage_label(exc.stage), "text": exc.detail}
        s = db_session()
        audit.record(s, principal(), "directory_test", "directory", None,
                     summary=("test a user " + username[:80]) if request.form.get("action")
                     == "user" else "test the connection")
        s.commit()
    return render_template(
        "admin/directory.html", config=cfg.public() if cfg else None, result=result
    ), status


@bp.app_context_processor
def _directory_helpers() -> dict[str, Any]:
    return {"directory_sign_in": lambda: settings().ldap is not None}
