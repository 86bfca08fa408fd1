"""JSON API for requests (``/api/v1/requests``): list (most urgent first), create, read, reply,
note, link to an incident, and every state change.

Errors: 400 bad body or filter (with what is wrong), 404 no such request or incident, 409 the
request's state forbids the action (``code`` says which rule). Engineers and above: requests
hold people's addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.core.validation import record_id
from dutydesk.errors import ApiError
from dutydesk.incidents.lifecycle import InvalidAction, TransitionRefused
from dutydesk.models import Role
from dutydesk.openapi import PAGE_PARAMS, operation, query_param
from dutydesk.requests import service as req
from dutydesk.requests.catalog.items import CatalogItem
from dutydesk.requests.catalog.store import CatalogItemMissing, item_for_request
from dutydesk.requests.clients import KINDS as _CLIENT_KINDS
from dutydesk.requests.clients import ClientNotAuthorised, file_client_request
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import CHANNELS, REQUEST_STATUSES, REQUEST_TYPES, ServiceRequest
from dutydesk.requests.queue import QueueEntry, QueueFilters, entry_for, queue
from dutydesk.requests.rules import RequestInputError
from dutydesk.requests.store import RequestNotFound, get_request, timeline
from dutydesk.web.api import _csrf_for_cookie_sessions, json_body, page_args

bp = Blueprint("requests_api", __name__, url_prefix="/api/v1")


def client_kinds() -> tuple[str, ...]:
    return tuple(_CLIENT_KINDS)
bp.before_request(_csrf_for_cookie_sessions)

_ERROR = {"description": "", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
CLOCK_SCHEMA = {
    "type": "object",
    "required": ["state", "paused", "elapsed_s", "target_s", "remaining_s", "breached"],
    "properties": {
        "state": {"enum": ["ok", "warning", "breached", "stopped"]},
        "paused": {"type": "boolean"}, "elapsed_s": {"type": "integer"},
        "target_s": {"type": "integer"}, "remaining_s": {"type": "integer"},
        "breached": {"type": "boolean"}, "deadline": _TIME_OR_NULL,
    },
}
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["id", "number", "subject", "requester", "channel", "service", "type",
                 "priority", "status", "line", "created_at", "version"],
    "properties": {
        "id": {"type": "integer"}, "number": {"type": "string"},
        "subject": {"type": "string"}, "description": {"type": "string"},
        "requester": {"type": "object", "properties": {
            "email": {"type": "string"}, "name": {"type": "string"},
            "language": {"type": "string"}, "user_id": {"type": ["integer", "null"]},
            "person_id": {"type": ["integer", "null"]}}},
        "channel": {"enum": list(CHANNELS)}, "service": {"type": "string"},
        "category": {"type": "string"}, "type": {"enum": list(REQUEST_TYPES)},
        "impact": {"type": "integer"}, "urgency": {"type": "integer"},
        "priority": {"enum": ["P1", "P2", "P3", "P4"]},
        "status": {"enum": list(REQUEST_STATUSES)},
        "line": {"enum": ["first_line", "second_line"]},
        "assignee": {"type": ["string", "null"]},
        "waiting_reason": {"type": ["string", "null"]},
        "incident_id": {"type": ["integer", "null"]},
        "catalog_item_id": {"type": ["integer", "null"]},
        "catalog_fields": {"type": ["object", "null"]},
        "ping_pong_count": {"type": "integer"}, "reopen_count": {"type": "integer"},
        "created_at": _TIME, "updated_at": _TIME, "resolved_at": _TIME_OR_NULL,
        "closed_at": _TIME_OR_NULL, "version": {"type": "integer"},
        "sla": {"type": ["object", "null"], "properties": {
            "first_response": CLOCK_SCHEMA, "resolve": CLOCK_SCHEMA}},
        "timeline": {"type": "array", "items": {
            "type": "object", "required": ["kind", "at", "actor", "data"],
            "properties": {"kind": {"type": "string"}, "at": _TIME,
                           "actor": {"type": "string"}, "data": {"type": "object"}}}},
    },
}
LIST_SCHEMA = {
    "type": "object", "required": ["items", "page", "per_page", "total", "pages"],
    "properties": {"items": {"type": "array", "items": REQUEST_SCHEMA},
                   "page": {"type": "integer"}, "per_page": {"type": "integer"},
                   "total": {"type": "integer"}, "pages": {"type": "integer"}},
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    texts = {"404": "No such request or incident", "409": "The request's state forbids it"}
    return {code: {**_ERROR, "description": texts[code]} for code in codes}


ONE = {"200": _json("The request with its SLA clocks and timeline", REQUEST_SCHEMA),
       **_errors("404", "409")}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def request_as_dict(entry: QueueEntry, events: list[Any] | None = None) -> dict[str, Any]:
    """The API's form of a request (``events``: include the timeline)."""
    row: ServiceRequest = entry.request
    sla = None
    if entry.clocks is not None:
        sla = {clock.value: {
            "state": r.state.value, "paused": r.paused,
            "elapsed_s": int(r.elapsed.total_seconds()),
            "target_s": int(r.target.total_seconds()),
            "remaining_s": int((r.target - r.elapsed).total_seconds()),
            "breached": r.breached, "deadline": _iso(r.deadline)}
            for clock, r in entry.clocks.items()}
    body = {
        "id": row.id, "number": row.number, "subject": row.subject,
        "description": row.description,
        "requester": {"email": row.requester_email, "name": row.requester_name,
                      "language": row.requester_language, "user_id": row.requester_user_id,
                      "person_id": row.requester_person_id},
        "channel": row.channel, "service": row.service, "category": row.category,
        "type": row.request_type, "impact": row.impact, "urgency": row.urgency,
        "priority": row.priority, "status": row.status, "line": row.line,
        "assignee": row.assignee, "waiting_reason": row.waiting_reason,
        "incident_id": row.incident_id, "catalog_item_id": row.catalog_item_id,
        "catalog_fields": row.catalog_fields, "ping_pong_count": row.ping_pong_count,
        "reopen_count": row.reopen_count, "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at), "resolved_at": _iso(row.resolved_at),
        "closed_at": _iso(row.closed_at), "version": row.version, "sla": sla,
    }
    if events is not None:
        body["timeline"] = [{"kind": e.kind.value, "at": e.at.isoformat(), "actor": e.actor,
                             "data": dict(e.data)} for e in events]
    return body


def _detail(row: ServiceRequest) -> dict[str, Any]:
    events = timeline(db_session(), row.id)
    return request_as_dict(entry_for(row, events, utcnow()), events)


def _answer(apply: Callable[[], ServiceRequest], status: int = 200) -> Any:
    s = db_session()
    try:
        row = apply()
    except (RequestNotFound, req.IncidentMissing) as exc:
        s.rollback()
        raise ApiError(404, str(exc)) from None
    except (RequestInputError, InvalidAction) as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    except TransitionRefused as exc:
        s.rollback()
        raise ApiError(409, str(exc), {"code": exc.code}) from None
    s.commit()
    return jsonify(_detail(row)), status


def _strings(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    fields = {}
    for name in names:
        if name in data and data[name] is not None:
            if not isinstance(data[name], str | int) or isinstance(data[name], bool):
                raise ApiError(400, f"{name} must be a string")
            fields[name] = str(data[name])
    return fields


@bp.route("/requests")
@operation("List requests, most urgent (least SLA time left) first", tags=["requests"],
           parameters=[*PAGE_PARAMS,
                       query_param("status", {"enum": [*REQUEST_STATUSES, "all"]},
                                   "State (repeat for several; default: the open ones)"),
                       query_param("service", {"type": "string"}),
                       query_param("line", {"enum": ["first_line", "second_line"]}),
                       query_param("assignee", {"type": "string"}),
                       query_param("incident", {"type": "integer", "minimum": 1},
                                   "Linked to this incident"),
                       query_param("q", {"type": "string"},
                                   "Search in subject and requester, or REQ-number")],
           responses={"200": _json("A page of requests", LIST_SCHEMA)})
@require_role(Role.ENGINEER)
def requests_list() -> Any:
    page, per_page = page_args()
    try:
        filters = QueueFilters.from_args(request.args)
    except RequestInputError as exc:
        raise ApiError(400, str(exc)) from None
    entries, total = queue(db_session(), filters, utcnow(), page, per_page)
    return jsonify(items=[request_as_dict(e) for e in entries], page=page, per_page=per_page,
                   total=total, pages=max(1, -(-total // per_page)))


@bp.route("/requests", methods=["POST"])
@operation(
    "Register a request (the requester gets a mail with its number and status link)",
    tags=["requests"],
    request_body={
        "type": "object", "required": ["requester_email", "service", "description"],
        "properties": {
            "requester_email": {"type": "string", "format": "email"},
            "requester_name": {"type": "string"}, "language": {"enum": ["en", "ru", "uk"]},
            "service": {"type": "string"}, "description": {"type": "string"},
            "subject": {"type": "string"}, "category": {"type": "string"},
            "type": {"enum": list(REQUEST_TYPES)}, "channel": {"enum": list(CHANNELS)},
            "impact": {"type": "integer", "minimum": 1, "maximum": 3},
            "urgency": {"type": "integer", "minimum": 1, "maximum": 3},
            "incident_id": {"type": "integer", "minimum": 1},
            "catalog_item": {"type": "integer", "minimum": 1,
                             "description": "the catalog item asked for (its type, priority, "
                                            "line and SLA targets apply); none: 'other'"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "values of the catalog item's form fields"},
        },
    },
    responses={"201": _json("The new request", REQUEST_SCHEMA), **_errors("404", "409")})
@require_role(Role.ENGINEER)
def requests_create() -> Any:
    data = json_body(("requester_email", "service", "description"))
    incident = data.get("incident_id")
    if incident is not None and (isinstance(incident, bool) or not isinstance(incident, int)):
        raise ApiError(400, "incident_id must be an incident number")
    text = _strings(data, ("requester_name", "language", "subject", "category"))
    item = _catalog_item(data)
    return _answer(lambda: req.create_request(
        db_session(), settings(), principal(),
        req.Requester(data["requester_email"], text.get("requester_name", ""),
                      text.get("language", "en")),
        service=data["service"], description=data["description"],
        subject=text.get("subject", ""), category=text.get("category", ""),
        request_type=data.get("type", "fault"), channel=data.get("channel", "web"),
        impact=data.get("impact", 3), urgency=data.get("urgency", 2),
        incident_id=incident, now=utcnow(), catalog_item=item, fields=data.get("fields")), 201)


def _catalog_item(data: dict[str, Any]) -> CatalogItem | None:
    """The active catalog item the body names (404 when there is none), or None ("other")."""
    fields = data.get("fields")
    if fields is not None and (not isinstance(fields, dict) or
                               not all(isinstance(v, str) for v in fields.values())):
        raise ApiError(400, "fields must be an object of strings")
    if data.get("catalog_item") is None:
        return None
    number = record_id(data["catalog_item"], "catalog_item")
    service = data["service"] if isinstance(data["service"], str) else None
    try:
        return item_for_request(db_session(), number, service)
    except CatalogItemMissing as exc:
        raise ApiError(404, str(exc)) from None


@bp.route("/client-requests", methods=["POST"])
@operation(
    "A data-center client's remote-hands or installation request, filed by a person on the "
    "client's authorised list; an installation may ask for the visit (a pending access "
    "request is created with it)",
    tags=["requests"],
    request_body={
        "type": "object",
        "required": ["client_id", "person_id", "requester_email", "kind", "description"],
        "properties": {
            "client_id": {"type": "integer", "minimum": 1},
            "person_id": {"type": "integer", "minimum": 1},
            "requester_email": {"type": "string", "format": "email"},
            "kind": {"enum": list(client_kinds())},
            "subject": {"type": "string"}, "description": {"type": "string"},
            "urgency": {"type": "integer", "minimum": 1, "maximum": 3},
            "visit": {"type": "object", "required": ["window_start", "window_end", "areas"],
                      "properties": {
                          "window_start": _TIME, "window_end": _TIME,
                          "areas": {"type": "array", "items": {"type": "string"}},
                          "people": {"type": "array", "items": {"type": "string"}},
                          "racks": {"type": "string"}, "vehicle_plate": {"type": "string"}}},
        },
    },
    responses={"201": _json("The new request (``access_request_id``: the visit's access "
                            "request, when one was asked for)", REQUEST_SCHEMA),
               **_errors("404")})
@require_role(Role.ENGINEER)
def client_requests_create() -> Any:
    data = json_body(("client_id", "person_id", "requester_email", "kind", "description"))
    s = db_session()
    try:
        filed = file_client_request(
            s, settings(), principal(), client_id=data["client_id"],
            person_id=data["person_id"], requester_email=data["requester_email"],
            kind=data["kind"], description=data["description"],
            subject=data.get("subject", ""), urgency=data.get("urgency", 2),
            visit=data.get("visit"), now=utcnow())
    except ClientNotAuthorised as exc:
        s.rollback()
        raise ApiError(404, str(exc)) from None
    except RequestInputError as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    s.commit()
    return jsonify({**_detail(filed.request), "access_request_id": filed.access_request_id}), 201


@bp.route("/requests/<int:request_id>")
@operation("One request with its SLA clocks and timeline", tags=["requests"],
           responses={"200": ONE["200"], **_errors("404")})
@require_role(Role.ENGINEER)
def requests_get(request_id: int) -> Any:
    try:
        row = get_request(db_session(), request_id)
    except RequestNotFound as exc:
        raise ApiError(404, str(exc)) from None
    return jsonify(_detail(row))


def _string_body(names: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {n: {"type": "string"} for n in names}}


# path → (action, fields it takes, required fields, summary)
ACTIONS: dict[str, tuple[Action, tuple[str, ...], tuple[str, ...], str]] = {
    "reply": (Action.REPLY, ("text",), ("text",), "Public reply, mailed to the requester"),
    "notes": (Action.NOTE, ("text",), ("text",), "Internal note (Markdown, never mailed)"),
    "start": (Action.START, (), (), "Start work on a new request"),
    "wait": (Action.WAIT, ("reason",), ("reason",),
             "Wait for the requester (reason required; SLA clocks pause)"),
    "resume": (Action.RESUME, (), (), "Resume a waiting request"),
    "resolve": (Action.RESOLVE, ("note",), ("note",),
                "Resolve (note required; mailed to the requester)"),
    "close": (Action.CLOSE, ("reason",), (), "Close a resolved request"),
    "reopen": (Action.REOPEN, ("reason",), (), "Reopen a resolved request"),
    "reassign": (Action.REASSIGN, ("line", "assignee", "reason"), ("reason",),
                 "Hand over to a line or person (reason required; hand-backs counted)"),
    "priority": (Action.CHANGE_PRIORITY, ("priority", "reason"), ("priority",),
                 "Change the priority (P1..P4)"),
    "unlink": (Action.UNLINK, (), (), "Unlink from its incident"),
}


def _action_view(path: str, action: Action, names: tuple[str, ...]) -> Callable[..., Any]:
    def view(request_id: int) -> Any:
        data = request.get_json(silent=True) if request.data else {}
        if not isinstance(data, dict):
            raise ApiError(400, "expected a JSON object body")
        fields = _strings(data, names)
        expected = request.headers.get("If-Match", "")
        return _answer(lambda: req.perform(
            db_session(), settings(), principal(), request_id, action, utcnow(),
            expected_version=int(expected) if expected.isdigit() else None, **fields))

    view.__name__ = f"requests_{path}"
    return view


for _path, (_action, _names, _required, _summary) in ACTIONS.items():
    _view = _action_view(_path, _action, _names)
    _view = require_role(Role.ENGINEER)(_view)
    _view = operation(_summary, tags=["requests"],
                      request_body=_string_body(_names, _required) if _names else None,
                      responses=ONE)(_view)
    bp.add_url_rule(f"/requests/<int:request_id>/{_path}", endpoint=f"requests_{_path}",
                    view_func=_view, methods=["POST"])


@bp.route("/requests/<int:request_id>/link", methods=["POST"])
@operation("Link to an open incident (a mass incident: its updates reach the requester)",
           tags=["requests"],
           request_body={"type": "object", "required": ["incident_id"],
                         "properties": {"incident_id": {"type": "integer", "minimum": 1}}},
           responses=ONE)
@require_role(Role.ENGINEER)
def requests_link(request_id: int) -> Any:
    data = json_body(("incident_id",))
    incident = data["incident_id"]
    if isinstance(incident, bool) or not isinstance(incident, int):
        raise ApiError(400, "incident_id must be an incident number")
    return _answer(lambda: req.perform(db_session(), settings(), principal(), request_id,
                                       Action.LINK, utcnow(), incident_id=incident))
