"""Visitor log JSON API (v1): people on site, the visit log, access requests.

Sites: each visit and request carries ``site`` (the slug of the site whose desk it belongs
to); ``?site=<slug>`` narrows the on-site list and the log to one site (default: every site);
a new request names its ``site`` (default: the default site). An unknown slug is a 404 on a
query and a 400 naming the field in a body.

Personal data: every route needs the engineer role or higher. A client's systems send access
requests with an API token (engineer role); staff approve or reject them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.core.site_scope import UnknownSite, optional_site
from dutydesk.core.sites import Site
from dutydesk.core.validation import record_id
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.openapi import PAGE_PARAMS, operation, query_param
from dutydesk.pagination import paginate
from dutydesk.web import api as core_api
from shifts.visitors import rows as R
from shifts.visitors import service as svc
from shifts.visitors.orm import AccessRequestRow, VisitRow

from .visitors_common import site_policy

bp = Blueprint("visitors_api", __name__, url_prefix="/api/v1")
bp.before_request(core_api._csrf_for_cookie_sessions)  # same CSRF rule as the core API


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _slug(site_id: int) -> str | None:
    site = db_session().get(Site, site_id)
    return site.slug if site is not None else None


def _site_arg() -> Site | None:
    try:
        return optional_site(db_session(), request.args.get("site"))
    except UnknownSite as exc:
        raise ApiError(404, str(exc)) from None


SITE_PARAM = query_param("site", {"type": "string"}, "A site's slug; default every site")


def visit_as_dict(row: VisitRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "site": _slug(row.site_id),
        "client_id": row.client_id,
        "person_name": row.person_name,
        "status": row.status,
        "basis": row.basis,
        "recorded_at": _iso(row.recorded_at),
        "checked_in_at": _iso(row.checked_in_at),
        "expected_checkout_at": _iso(row.expected_checkout_at),
        "checked_out_at": _iso(row.checked_out_at),
        "badge_number": row.badge_number,
        "badge_expires_at": _iso(row.badge_expires_at),
        "badge_returned": row.badge_returned,
        "badge_lost": row.badge_lost,
        "escort_visit_id": row.escort_visit_id,
        "escort_staff": row.escort_staff,
        "areas": row.areas or [],
        "purpose": row.purpose,
        "request_id": row.request_id,
        "authorised_person_id": row.authorised_person_id,
        "denial_code": row.denial_code,
        "denial_reason": row.denial_reason,
        "anonymised": row.anonymised,
    }


def request_as_dict(row: AccessRequestRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "site": _slug(row.site_id),
        "client_id": row.client_id,
        "people": [p.name for p in row.people],
        "window_start": _iso(row.window_start),
        "window_end": _iso(row.window_end),
        "areas": row.areas or [],
        "purpose": row.purpose,
        "racks": row.racks,
        "vehicle_plate": row.vehicle_plate,
        "requested_by": row.requested_by,
        "status": row.status,
        "decided_by": row.decided_by,
        "decided_at": _iso(row.decided_at),
        "decision_note": row.decision_note,
    }


def _time(data: dict[str, Any], field: str, *, required: bool = False) -> datetime | None:
    value = data.get(field)
    if value in (None, ""):
        if required:
            raise ApiError(400, f"{field} is required (ISO 8601 with a UTC offset)")
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{field} must be ISO 8601, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ApiError(400, f"{field} must carry a UTC offset (e.g. 'Z'), got {value!r}")
    return parsed


@bp.route("/visitors/on-site")
@operation("People on site now, with time inside and overstays", tags=["visitors"],
           parameters=[SITE_PARAM], responses={"200": "OK", "404": "No site with that slug"})
@require_role(Role.ENGINEER)
def on_site() -> Any:
    s = db_session()
    now = utcnow()
    site = _site_arg()
    site_id = site.id if site is not None else None
    over = {o.visit.id: o for o in svc.overstays_now(s, now, site_id)}
    rows = {r.id: r for r in R.on_site_rows(s, site_id)}
    items = []
    for entry in svc.on_site_now(s, now, site_id):
        item = visit_as_dict(rows[entry.visit.id])
        item["time_inside_seconds"] = int(entry.time_inside.total_seconds())
        item["escort_name"] = entry.escort_name
        overstay = over.get(entry.visit.id)
        item["overstay"] = (
            None
            if overstay is None
            else {
                "limits": [p.limit.value for p in overstay.passed],
                "over_by_seconds": int(overstay.over_by.total_seconds()),
            }
        )
        items.append(item)
    return jsonify(items=items, count=len(items), at=now.isoformat())


@bp.route("/visits")
@operation(
    "The visit log, newest first",
    tags=["visitors"],
    parameters=[
        *PAGE_PARAMS,
        query_param("person", {"type": "string"}, "Substring of the visitor's name"),
        query_param("client_id", {"type": "integer"}),
        query_param("badge", {"type": "string"}),
        query_param("status", {"enum": ["expected", "on_site", "left", "denied", "no_show"]}),
        query_param("since", {"type": "string", "format": "date-time"}, "Recorded at or after"),
        query_param("until", {"type": "string", "format": "date-time"}, "Recorded before"),
        SITE_PARAM,
    ],
    responses={"200": "OK", "404": "No site with that slug"},
)
@require_role(Role.ENGINEER)
def visits() -> Any:
    page, per_page = core_api.page_args()
    args = dict(request.args)
    site = _site_arg()
    query = R.visit_search(
        site_id=site.id if site is not None else None,
        person=args.get("person") or None,
        client_id=record_id(args.get("client_id"), "client_id", optional=True),
        badge=args.get("badge") or None,
        status=args.get("status") or None,
        since=_time(args, "since"),
        until=_time(args, "until"),
    )
    result = paginate(db_session(), query, page, per_page)
    return core_api.page_response(result, [visit_as_dict(v) for v in result.items])


REQUEST_SCHEMA = {
    "type": "object",
    "required": ["client_id", "people", "window_start", "window_end", "areas"],
    "properties": {
        "client_id": {"type": "integer"},
        "people": {"type": "array", "items": {"type": "string"}},
        "window_start": {"type": "string", "format": "date-time"},
        "window_end": {"type": "string", "format": "date-time"},
        "areas": {"type": "array", "items": {"type": "string"}},
        "purpose": {"type": "string"},
        "racks": {"type": "string"},
        "vehicle_plate": {"type": ["string", "null"]},
        "requested_by": {"type": "string"},
        "site": {"type": "string", "description": "slug of the site; default the default site"},
    },
}


@bp.route("/access-requests", methods=["POST"])
@operation(
    "Create an access request (pending until staff approve it)",
    tags=["visitors"],
    request_body=REQUEST_SCHEMA,
    responses={"201": "Created", "400": "Bad field (an unknown site among them)",
               "404": "No such client"},
)
@require_role(Role.ENGINEER)
def create_request() -> Any:
    data = core_api.json_body(("client_id", "people", "window_start", "window_end", "areas"))
    if not isinstance(data["people"], list) or not isinstance(data["areas"], list):
        raise ApiError(400, "people and areas must be lists of strings")
    record_id(data["client_id"], "client_id")
    s = db_session()
    try:
        site = optional_site(s, str(data["site"]) if data.get("site") is not None else None)
    except UnknownSite as exc:
        raise ApiError(400, str(exc), {"field": "site"}) from None
    try:
        row = svc.create_request(
            s,
            principal(),
            client_id=data["client_id"],
            people=[str(p) for p in data["people"]],
            window_start=_time(data, "window_start", required=True),  # type: ignore[arg-type]
            window_end=_time(data, "window_end", required=True),  # type: ignore[arg-type]
            areas=[str(a) for a in data["areas"]],
            purpose=str(data.get("purpose") or ""),
            racks=str(data.get("racks") or ""),
            vehicle_plate=data.get("vehicle_plate"),
            requested_by=str(data.get("requested_by") or principal().label),
            now=utcnow(),
            site_id=site.id if site is not None else None,
        )
    except svc.VisitorInputError as exc:
        s.rollback()
        raise ApiError(400, str(exc), {"field": exc.field}) from None
    except svc.VisitorNotFound as exc:
        s.rollback()
        raise ApiError(404, str(exc)) from None
    s.commit()
    return jsonify(request_as_dict(row)), 201


def _decide(request_id: int, approve: bool) -> Any:
    data = core_api.json_body(empty_ok=True)
    s = db_session()
    try:
        row = svc.decide_request(
            s,
            principal(),
            request_id,
            approve=approve,
            note=str(data.get("note") or ""),
            now=utcnow(),
            policy=site_policy(),
        )
    except svc.FourEyesError as exc:
        s.rollback()
        raise ApiError(403, str(exc)) from None
    except svc.VisitorInputError as exc:
        s.rollback()
        raise ApiError(409, str(exc)) from None
    except svc.VisitorNotFound as exc:
        raise ApiError(404, str(exc)) from None
    s.commit()
    return jsonify(request_as_dict(row))


NOTE_SCHEMA = {"type": "object", "properties": {"note": {"type": "string"}}}


@bp.route("/access-requests/<int:request_id>/approve", methods=["POST"])
@operation("Approve a pending access request", tags=["visitors"], request_body=NOTE_SCHEMA,
           conflict="The request is no longer pending")
@require_role(Role.ENGINEER)
def approve_request(request_id: int) -> Any:
    return _decide(request_id, True)


@bp.route("/access-requests/<int:request_id>/reject", methods=["POST"])
@operation("Reject a pending access request", tags=["visitors"], request_body=NOTE_SCHEMA,
           conflict="The request is no longer pending")
@require_role(Role.ENGINEER)
def reject_request(request_id: int) -> Any:
    return _decide(request_id, False)
