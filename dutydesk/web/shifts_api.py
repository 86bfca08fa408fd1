"""Shifts over HTTP for machines: the JSON API (v1) and the iCalendar feeds.

Everything is computed by the pure core from the stored rotations (``shifts.storage``), so the
API, the wall, routing and the calendars always agree. Calendar apps cannot sign in, so the
``.ics`` feeds also accept ``?token=<per-user secret>`` (made and revoked on /shifts/calendar).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.core.site_scope import UnknownSite, optional_site
from dutydesk.core.sites import Site
from dutydesk.core.timeparse import parse_instant
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.openapi import operation, query_param
from dutydesk.web import api as core_api
from shifts.errors import ShiftConfigError
from shifts.ical import person_calendar, schedule_calendar
from shifts.models import ShiftScheduleRow
from shifts.oncall import final_schedule
from shifts.service import calendar_user, stored_id
from shifts.storage import load_schedule, load_schedules, on_duty_by_line_now, user_names

api_bp = Blueprint("shifts_api", __name__, url_prefix="/api/v1")
api_bp.before_request(core_api._csrf_for_cookie_sessions)
ical_bp = Blueprint("shifts_ical", __name__, url_prefix="/shifts")

FEED_BACK = timedelta(days=14)
FEED_AHEAD = timedelta(days=92)
MAX_FINAL_PERIOD = timedelta(days=93)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _instant(name: str, default: datetime) -> datetime:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return parse_instant(raw, name)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _site_arg() -> Site | None:
    """The ``?site=`` of a request (``None``: every site); an unknown slug is a 404."""
    try:
        return optional_site(db_session(), request.args.get("site"))
    except UnknownSite as exc:
        raise ApiError(404, str(exc)) from None


SITE_PARAM = query_param("site", {"type": "string"}, "a site's slug; default every site")


@api_bp.get("/oncall")
@require_role(Role.VIEWER)
@operation(
    "Who is on duty at an instant, per line",
    tags=["shifts"],
    parameters=[query_param("at", {"type": "string", "format": "date-time"},
                            "ISO 8601 instant with offset; default now"), SITE_PARAM],
    responses={"200": "OK", "404": "No site with that slug"},
)
def oncall() -> Any:
    at = _instant("at", utcnow())
    session = db_session()
    site = _site_arg()
    board = on_duty_by_line_now(session, at, site.id if site is not None else None)
    names = user_names(session, [p for d in board.values() for p in d.person_ids])
    return jsonify({
        "at": at.isoformat(),
        "lines": [
            {
                "line": line.value,
                "label": line.label,
                "people": [{"id": p, "name": names.get(p, str(p))} for p in duty.person_ids],
                "since": _iso(duty.since),
                "until": _iso(duty.until),
                "schedules": [
                    {"schedule": d.schedule, "people": list(d.people), "since": _iso(d.since),
                     "until": _iso(d.until), "layer": d.layer}
                    for d in duty.schedules
                ],
            }
            for line, duty in board.items()
        ],
    })


def schedule_as_dict(row: ShiftScheduleRow) -> dict[str, Any]:
    site = db_session().get(Site, row.site_id)
    return {
        "id": row.id, "name": row.name, "line": row.line, "time_zone": row.time_zone,
        "site": site.slug if site is not None else None,
        "self_service": row.self_service, "published_at": _iso(row.published_at),
        "rotations": [
            {"id": r.id, "name": r.name, "position": r.position,
             "participants": list(r.participants or []), "pattern": r.pattern,
             "pattern_params": r.pattern_params, "handoff_time": r.handoff_time,
             "start_date": r.start_date.isoformat(), "restrictions": r.restrictions,
             "ends_at": _iso(r.ends_at)}
            for r in row.rotations
        ],
    }


@api_bp.get("/schedules")
@require_role(Role.VIEWER)
@operation("Duty schedules with their rotations", tags=["shifts"], parameters=[SITE_PARAM],
           responses={"200": "OK", "404": "No site with that slug"})
def schedules() -> Any:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    site = _site_arg()
    query = select(ShiftScheduleRow).options(selectinload(ShiftScheduleRow.rotations))
    if site is not None:
        query = query.where(ShiftScheduleRow.site_id == site.id)
    rows = db_session().scalars(query.order_by(ShiftScheduleRow.id))
    return jsonify({"items": [schedule_as_dict(r) for r in rows]})


@api_bp.get("/schedules/<int:schedule_id>/final")
@require_role(Role.VIEWER)
@operation(
    "The final schedule (layers, restrictions and overrides resolved) for a period",
    tags=["shifts"],
    parameters=[
        query_param("start", {"type": "string", "format": "date-time"}, "default now"),
        query_param("end", {"type": "string", "format": "date-time"}, "default start + 7 days"),
    ],
    responses={"200": "OK", "404": "No such schedule"},
)
def final(schedule_id: int) -> Any:
    start = _instant("start", utcnow())
    end = _instant("end", start + timedelta(days=7))
    if end <= start:
        raise ApiError(400, f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    if end - start > MAX_FINAL_PERIOD:
        raise ApiError(400, f"period must be at most {MAX_FINAL_PERIOD.days} days")
    session = db_session()
    schedule = load_schedule(session, schedule_id) if stored_id(schedule_id) else None
    if schedule is None:
        raise ApiError(404, f"schedule {schedule_id} does not exist")
    try:
        segments = final_schedule(schedule, start, end, include_gaps=True)
    except ShiftConfigError as exc:
        raise ApiError(400, str(exc)) from None
    names = user_names(session, [p for s in segments for p in s.people])
    return jsonify({
        "schedule": {"id": schedule_id, "name": schedule.name, "line": schedule.line.value,
                     "time_zone": schedule.time_zone},
        "start": start.isoformat(), "end": end.isoformat(),
        "segments": [
            {"start": s.start.isoformat(), "end": s.end.isoformat(),
             "people": [{"id": p, "name": names.get(p, str(p))} for p in s.people],
             "gap": not s.people}
            for s in segments
        ],
    })


# ------------------------------------------------------------------------------- iCalendar


def _feed_viewer() -> int | None:
    """The user id behind ``?token=`` or the signed-in session; 404 otherwise (no oracle)."""
    token = request.args.get("token", "")
    if token:
        user_id = calendar_user(db_session(), token)
        if user_id is None:
            abort(404)
        return user_id
    who = principal()
    if who.authenticated and who.can(Role.VIEWER):
        return who.user_id
    abort(404)


def _ics(body: bytes, name: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@ical_bp.get("/schedules/<int:schedule_id>.ics")
def schedule_feed(schedule_id: int) -> Response:
    _feed_viewer()
    session = db_session()
    schedule = load_schedule(session, schedule_id) if stored_id(schedule_id) else None
    if schedule is None:
        abort(404)
    now = utcnow()
    people = {p for r in schedule.layers for p in r.participants}
    people |= {o.person for o in schedule.overrides}
    body = schedule_calendar(schedule, now - FEED_BACK, now + FEED_AHEAD, now=now,
                             names=user_names(session, people))
    return _ics(body, f"schedule-{schedule_id}")


@ical_bp.get("/people/<int:user_id>.ics")
def person_feed(user_id: int) -> Response:
    viewer = _feed_viewer()
    if stored_id(user_id) is None:
        abort(404)
    if viewer != user_id and not (principal().authenticated and principal().can(Role.VIEWER)):
        abort(404)  # a secret opens its owner's feed only
    session = db_session()
    now = utcnow()
    body = person_calendar(user_id, load_schedules(session), now - FEED_BACK, now + FEED_AHEAD,
                           now=now, names=user_names(session, [user_id]))
    return _ics(body, f"person-{user_id}")
