"""Staff screens and API for outage notices; admins manage services and groups.

Engineers and shift leads publish notices and post updates; ``/notices/new?incident=<id>`` is
the "draft from incident" entry point (title and services pre-filled from the query).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms import ValidationError as WtfValidationError

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.core.timeparse import parse_instant
from dutydesk.errors import ApiError
from dutydesk.labels import label
from dutydesk.models import Role
from dutydesk.openapi import operation
from dutydesk.web.api import json_body
from dutydesk.web.site_select import site_choices
from dutydesk.web.status_snapshot import cache
from shifts.notices import MaintenanceWindow, NoticeError
from shifts.notices import service as svc
from shifts.notices.model import UpdateStatus, render_markdown
from shifts.notices.orm import NoticeRow, StatusService, StatusServiceGroup
from shifts.notices.storage import load_notice, load_notices, load_services

bp = Blueprint("notices", __name__)
api_bp = Blueprint("notices_api", __name__, url_prefix="/api/v1")


def _instant(value: str | None, name: str) -> datetime | None:
    return parse_instant(value, name) if value else None


def _affected_from_form(form: Any) -> dict[str, str]:
    return {slug: form.get(f"impact-{slug}", "major_outage") for slug in form.getlist("services")}


# --------------------------------------------------------------------------------- screens


@bp.route("/notices")
@require_role(Role.VIEWER)
def notices_list() -> Any:
    notices = sorted(load_notices(db_session()), key=lambda n: int(n.id), reverse=True)
    return render_template("notices/list.html", notices=notices)


@bp.route("/notices/new", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def notice_new() -> Any:
    s = db_session()
    _, services = load_services(s)
    form = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        try:
            kind = form.get("kind", "incident")
            window = None
            if kind == "maintenance":
                start = _instant(form.get("scheduled_for"), "scheduled_for")
                end = _instant(form.get("scheduled_until"), "scheduled_until")
                if start is None or end is None:
                    raise NoticeError("maintenance needs scheduled_for and scheduled_until")
                window = MaintenanceWindow(start, end)
            incident = form.get("incident", "")
            row = svc.create_notice(
                s, principal(), kind=kind, title=form.get("title", ""),
                body=form.get("body", ""), affected=_affected_from_form(form), now=utcnow(),
                impact=form.get("impact") or None,
                incident_ids=[int(incident)] if incident.isdigit() else [],
                expected_resolution_at=_instant(form.get("expected_resolution_at"),
                                                "expected_resolution_at"),
                window=window, base_url=settings().base_url)
        except (NoticeError, ValueError) as exc:
            s.rollback()
            flash(gettext("Not saved: %(message)s", message=str(exc)), "error")
            return render_template("notices/new.html", services=services, form=form), 400
        s.commit()
        cache().invalidate()
        flash(gettext("Notice published."), "ok")
        return redirect(url_for("notices.notice_detail", notice_id=row.id))
    return render_template("notices/new.html", services=services, form=form)


@bp.route("/notices/<int:notice_id>", methods=["GET", "POST"])
@require_role(Role.VIEWER)
def notice_detail(notice_id: int) -> Any:
    s = db_session()
    if request.method == "POST":
        if not principal().can(Role.ENGINEER):
            raise ApiError(403, gettext("Posting updates needs the %(role)s role or higher.",
                                        role=label(Role.ENGINEER, "role")))
        try:
            if request.form.get("action") == "reopen":
                svc.reopen_notice(s, principal(), notice_id, status=request.form.get("status", ""),
                                  body=request.form.get("body", ""), now=utcnow(),
                                  base_url=settings().base_url)
            else:
                svc.post_update(s, principal(), notice_id, status=request.form.get("status", ""),
                                body=request.form.get("body", ""), now=utcnow(),
                                base_url=settings().base_url)
        except NoticeError as exc:
            s.rollback()
            flash(gettext("Not saved: %(message)s", message=str(exc)), "error")
        else:
            s.commit()
            cache().invalidate()
            flash(gettext("Update posted."), "ok")
        return redirect(url_for("notices.notice_detail", notice_id=notice_id))
    notice = load_notice(s, notice_id)
    if notice is None:
        raise ApiError(404, f"no notice with id {notice_id}")
    _, services = load_services(s)
    return render_template("notices/detail.html", notice=notice, statuses=list(UpdateStatus),
                           names={x.id: x.name for x in services}, md=render_markdown,
                           can_post=principal().can(Role.ENGINEER))


@bp.route("/notices/services", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def services_admin() -> Any:
    s = db_session()
    if request.method == "POST":
        if not principal().can(Role.ADMIN):
            raise ApiError(403, gettext("Managing services needs the %(role)s role.",
                                        role=label(Role.ADMIN, "role")))
        f = request.form
        try:
            if f.get("what") == "group":
                svc.save_group(s, principal(), name=f.get("name", ""),
                               position=int(f.get("position") or 0), now=utcnow())
            elif f.get("what") == "site":
                svc.move_service(s, principal(), int(f.get("service_id") or 0),
                                 site=f.get("site", ""), now=utcnow())
            else:
                svc.save_service(
                    s, principal(), slug=f.get("slug", ""), name=f.get("name", ""),
                    group_id=int(f["group_id"]) if f.get("group_id") else None,
                    status=f.get("status", "operational"), mode=f.get("mode", "manual"),
                    check_ids=[c.strip() for c in f.get("check_ids", "").split(",")],
                    position=int(f.get("position") or 0), now=utcnow(),
                    service_id=int(f["service_id"]) if f.get("service_id") else None,
                    site=f.get("site"))
        except (NoticeError, ValueError) as exc:
            s.rollback()
            flash(gettext("Not saved: %(message)s", message=str(exc)), "error")
        else:
            s.commit()
            cache().invalidate()
            flash(gettext("Saved."), "ok")
        return redirect(url_for("notices.services_admin"))
    groups = list(s.scalars(select(StatusServiceGroup).order_by(StatusServiceGroup.position)))
    services = list(s.scalars(select(StatusService).order_by(StatusService.position)))
    sites = site_choices()
    return render_template("notices/services.html", groups=groups, services=services,
                           sites=sites, site_of={x.id: x for x in sites})


# --------------------------------------------------------------------------------- API


@api_bp.before_request
def _csrf_for_cookie_sessions() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS") and principal().kind in ("user", "kiosk"):
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except (CSRFError, WtfValidationError) as exc:
            raise ApiError(400, f"CSRF token missing or invalid: {exc}") from None


def _body() -> dict[str, Any]:
    return json_body()


NOTICE_SCHEMA = {
    "type": "object", "required": ["title", "body", "affected"],
    "properties": {
        "kind": {"enum": ["incident", "maintenance"]}, "title": {"type": "string"},
        "body": {"type": "string"}, "impact": {"enum": ["none", "minor", "major", "critical"]},
        "affected": {"type": "object", "description": "service slug → impact (service status)"},
        "incident_ids": {"type": "array", "items": {"type": "integer"}},
        "scheduled_for": {"type": "string", "format": "date-time"},
        "scheduled_until": {"type": "string", "format": "date-time"},
    },
}


@api_bp.route("/notices", methods=["POST"])
@operation("Publish an outage or maintenance notice", tags=["notices"],
           request_body=NOTICE_SCHEMA, responses={"201": "Published"})
@require_role(Role.ENGINEER)
def api_create() -> Any:
    data, s = _body(), db_session()
    try:
        window = None
        if data.get("kind") == "maintenance":
            start = _instant(data.get("scheduled_for"), "scheduled_for")
            end = _instant(data.get("scheduled_until"), "scheduled_until")
            if start is None or end is None:
                raise NoticeError("maintenance needs scheduled_for and scheduled_until")
            window = MaintenanceWindow(start, end)
        affected = data.get("affected") or {}
        if not isinstance(affected, dict):
            raise NoticeError("affected must be an object: service slug → impact")
        row = svc.create_notice(
            s, principal(), kind=data.get("kind", "incident"), title=str(data.get("title", "")),
            body=str(data.get("body", "")), affected=affected, now=utcnow(),
            impact=data.get("impact"), incident_ids=[int(i) for i in data.get("incident_ids", [])],
            window=window, base_url=settings().base_url)
    except (NoticeError, ValueError, TypeError) as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    s.commit()
    cache().invalidate()
    return {"id": row.id, "url": f"{settings().base_url.rstrip('/')}/status/notices/{row.id}"}, 201


@api_bp.route("/notices/<int:notice_id>/updates", methods=["POST"])
@operation("Post an update to a notice (status resolved/completed closes it)", tags=["notices"],
           request_body={"type": "object", "required": ["status", "body"],
                         "properties": {"status": {"type": "string"},
                                        "body": {"type": "string"}}},
           responses={"201": "Posted"})
@require_role(Role.ENGINEER)
def api_update(notice_id: int) -> Any:
    data, s = _body(), db_session()
    if s.get(NoticeRow, notice_id) is None:
        raise ApiError(404, f"no notice with id {notice_id}")
    try:
        notice = svc.post_update(s, principal(), notice_id, status=str(data.get("status", "")),
                                 body=str(data.get("body", "")), now=utcnow(),
                                 base_url=settings().base_url)
    except NoticeError as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    s.commit()
    cache().invalidate()
    return {"id": notice.id, "status": notice.status.value}, 201


# Webhook subscriber screens and API attach their routes to the blueprints above.
from dutydesk.web import notice_subscribers  # noqa: E402,F401
