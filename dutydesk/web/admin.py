"""Admin screens: users, API tokens, kiosk links, and the audit log browser."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk import accounts
from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core import audit
from dutydesk.core.sites import Site
from dutydesk.models import ApiToken, KioskLink, Role, User
from dutydesk.pagination import PaginationError, paginate, parse_page_args
from dutydesk.web.forms import checkbox, flash_validation, parse_local_date

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@require_role(Role.ADMIN)
def users() -> Any:
    rows = list(db_session().scalars(select(User).order_by(User.active.desc(), User.email)))
    return render_template("admin/users.html", users=rows, roles=list(Role))


@bp.route("/users/new", methods=["POST"])
@require_role(Role.ADMIN)
def user_create() -> Any:
    s = db_session()
    form = request.form
    try:
        user = accounts.create_user(
            s,
            principal(),
            email=form.get("email", ""),
            password=form.get("password", ""),
            role=form.get("role", "engineer"),
            name=form.get("name", ""),
        )
    except accounts.ValidationError as exc:
        s.rollback()
        flash_validation(exc)
        return redirect(url_for("admin.users"))
    s.commit()
    flash(_("User %(email)s created.", email=user.email), "ok")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def user_edit(user_id: int) -> Any:
    s = db_session()
    user = s.get(User, user_id) or abort(404, _("No such user."))
    if request.method == "POST":
        form = request.form
        changes: dict[str, Any] = {
            "name": form.get("name", ""),
            "email": form.get("email", user.email),
            "role": form.get("role", user.role.value),
            "active": checkbox(form, "active"),
        }
        if form.get("password"):
            changes["password"] = form["password"]
        try:
            losing_admin = (
                user.role is Role.ADMIN
                and user.active
                and (changes["role"] != Role.ADMIN.value or not changes["active"])
            )
            if losing_admin:
                accounts.require_another_active_admin(s, user)
            accounts.update_user(s, principal(), user, **changes)
        except accounts.ValidationError as exc:
            s.rollback()
            flash_validation(exc)
            return redirect(url_for("admin.user_edit", user_id=user_id))
        s.commit()
        flash(_("Saved."), "ok")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", user=user, roles=list(Role))


@bp.route("/users/<int:user_id>/sign-out", methods=["POST"])
@require_role(Role.ADMIN)
def user_sign_out(user_id: int) -> Any:
    """End every session of a person (a stolen laptop, someone leaving the team)."""
    s = db_session()
    user = s.get(User, user_id) or abort(404, _("No such user."))
    ended = accounts.end_all_sessions(s, user)
    audit.record(s, principal(), "user.sign_out_everywhere", "user", user.id,
                 summary=f"{user.email} signed out everywhere by an admin ({ended} sessions)")
    s.commit()
    flash(_("%(email)s is signed out everywhere.", email=user.email), "ok")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.route("/tokens", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def tokens() -> Any:
    s = db_session()
    created: str | None = None
    if request.method == "POST":
        try:
            _token, created = accounts.create_token(
                s,
                principal(),
                name=request.form.get("name", ""),
                role=request.form.get("role", "viewer"),
            )
        except accounts.ValidationError as exc:
            s.rollback()
            flash_validation(exc)
            return redirect(url_for("admin.tokens"))
        s.commit()
    rows = list(
        s.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.name))
    )
    return render_template("admin/tokens.html", tokens=rows, created=created, roles=list(Role))


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
def token_revoke(token_id: int) -> Any:
    s = db_session()
    token = s.get(ApiToken, token_id) or abort(404, _("No such token."))
    try:
        accounts.revoke_token(s, principal(), token)
    except accounts.ValidationError as exc:
        s.rollback()
        flash_validation(exc)
        return redirect(url_for("admin.tokens"))
    s.commit()
    flash(_("Token %(name)s revoked.", name=token.name), "ok")
    return redirect(url_for("admin.tokens"))


@bp.route("/kiosk", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def kiosk_links() -> Any:
    s = db_session()
    created_url: str | None = None
    if request.method == "POST":
        try:
            _link, plaintext = accounts.create_kiosk_link(
                s, principal(), name=request.form.get("name", ""),
                site=request.form.get("site", "")[:64] or None,
            )
        except accounts.ValidationError as exc:
            s.rollback()
            flash_validation(exc)
            return redirect(url_for("admin.kiosk_links"))
        s.commit()
        created_url = f"{settings().base_url}/kiosk/{plaintext}"
    rows = list(
        s.scalars(select(KioskLink).order_by(KioskLink.revoked_at.is_not(None), KioskLink.name))
    )
    sites = list(s.scalars(select(Site).order_by(Site.name, Site.slug)))
    return render_template("admin/kiosk.html", links=rows, created_url=created_url,
                           sites=sites, site_names={x.id: x.name for x in sites})


@bp.route("/kiosk/<int:link_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
def kiosk_revoke(link_id: int) -> Any:
    s = db_session()
    link = s.get(KioskLink, link_id) or abort(404, _("No such kiosk link."))
    try:
        accounts.revoke_kiosk_link(s, principal(), link)
    except accounts.ValidationError as exc:
        s.rollback()
        flash_validation(exc)
        return redirect(url_for("admin.kiosk_links"))
    s.commit()
    flash(_("Kiosk link %(name)s revoked; screens using it are signed out.", name=link.name), "ok")
    return redirect(url_for("admin.kiosk_links"))


@bp.route("/audit")
@require_role(Role.ADMIN)
def audit_log() -> Any:
    args = request.args
    try:
        page, per_page = parse_page_args(args)
        query = audit.filtered_query(
            actor=args.get("actor"),
            action=args.get("action"),
            entity_type=args.get("entity_type"),
            entity_id=args.get("entity_id"),
            since=parse_local_date(args.get("since")),
            until=parse_local_date(args.get("until"), end_of_day=True),
        )
    except (PaginationError, accounts.ValidationError) as exc:
        abort(400, str(exc))
    result = paginate(db_session(), query, page, per_page)
    return render_template("admin/audit.html", page=result, filters=args)
