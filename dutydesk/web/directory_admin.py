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


def sso_stage_label(stage: str) -> str:
    """The failed stage of an OpenID Connect test in the admin's language."""
    return {
        "provider": _("Provider: the discovery document or the keys could not be read"),
        "state": _("State: the answer belongs to no sign-in started here"),
        "denied": _("The provider refused the sign-in"),
        "token": _("Token: the code could not be exchanged (client id, secret or redirect URI?)"),
        "id_token": _("ID token: signature, issuer, audience, expiry or nonce is wrong"),
        "claims": _("Claims: no email, or an email the provider did not verify"),
        "no_group": _("Groups: the person is in none of the mapped groups"),
    }.get(stage, stage)


def sso_page(result: dict[str, Any] | None) -> Any:
    cfg = settings().oidc
    if result and not result["ok"]:
        result = {**result, "stage": sso_stage_label(result["stage"])}
    return render_template("admin/sso.html", config=cfg.public() if cfg else None,
                           result=result, callback_url=settings().base_url.rstrip("/")
                           + "/login/oidc/callback")


@bp.route("/sso", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def sso() -> Any:
    """The OpenID Connect provider: its configuration without the client secret, a button that
    reads its discovery document and keys, and a test sign-in that changes nothing."""
    from dutydesk.core.oidc import OidcError
    from dutydesk.web.auth_oidc import check_provider

    cfg = settings().oidc
    result: dict[str, Any] | None = None
    if request.method == "POST" and cfg is not None:
        try:
            result = {"ok": True, "text": check_provider(cfg)}
        except OidcError as exc:
            result = {"ok": False, "stage": exc.stage, "text": exc.detail}
        s = db_session()
        audit.record(s, principal(), "sso_test", "sso", None, summary="test the provider")
        s.commit()
    return sso_page(result)


@bp.app_context_processor
def _directory_helpers() -> dict[str, Any]:
    return {"directory_sign_in": lambda: settings().ldap is not None}
