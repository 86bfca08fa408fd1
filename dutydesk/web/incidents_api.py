"""JSON API for incidents and silences (``/api/v1``).

Errors: 400 bad request (missing note/reason, bad filter), 404 unknown id, 409 the incident's
state forbids the action (``already acknowledged by X``, resolved, changed meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.context import app_state, db_session, principal, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.core.timeparse import parse_instant
from dutydesk.errors import ApiError
from dutydesk.incidents import service
from dutydesk.incidents.alerts.matchers import MatcherError, SilenceError
from dutydesk.incidents.lifecycle import Action, InvalidAction, TransitionRefused
from dutydesk.incidents.models import EscalationPolicyRow, Incident, SilenceRow
from dutydesk.incidents.pipeline import metrics_for
from dutydesk.incidents.policies import choose_policy, policy_as_dict
from dutydesk.incidents.store import IncidentNotFound, NewerIncidentOpen, timeline
from dutydesk.models import Role
from dutydesk.openapi import PAGE_PARAMS, operation, query_param
from dutydesk.pagination import paginate
from dutydesk.web.api import _csrf_for_cookie_sessions, json_body, page_args, page_response

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")
bp.before_request(_csrf_for_cookie_sessions)

FILTER_PARAMS = [
    query_param("state", {"enum": ["open", "triggered", "acknowledged", "pending", "resolved"]}),
    query_param("priority", {"enum": ["P1", "P2", "P3", "P4"]}),
    query_param("service", {"type": "string"}),
    query_param("assignee", {"type": "string"}, "Assignee or acknowledger (substring)"),
    query_param("since", {"type": "string", "format": "date-time"}, "Opened at or after"),
    query_param("until", {"type": "string", "format": "date-time"}, "Opened at or before"),
    query_param("q", {"type": "string"}, "Search in title and key, or #id"),
    query_param("site", {"type": "string"}, "Site slug, e.g. kyiv-dc2 (an unknown one: 400)"),
]


INCIDENT_CONFLICT = "The incident's state forbids it (already acknowledged, resolved, changed)"


def _incident(incident_id: int) -> Incident:
    incident = db_session().get(Incident, incident_id)
    if incident is None:
        raise ApiError(404, f"no incident with id {incident_id}")
    return incident


def _detail(incident: Incident) -> dict[str, Any]:
    s = db_session()
    body = service.incident_as_dict(incident)
    body["sla"] = service.sla_as_dict(incident, timeline(s, incident.id), settings(), utcnow())
    body["timeline"] = [service.event_as_dict(r) for r in service.timeline_rows(s, incident.id)]
    return body


def _act(incident_id: int, action: Action, **fields: Any) -> Any:
    expected = request.headers.get("If-Match")
    return _change(
        lambda s: service.perform(
            s,
            principal(),
            incident_id,
            action,
            utcnow(),
            expected_version=int(expected) if expected and expected.isdigit() else None,
            settings=settings(),
            **fields,
        )
    )


def _change(apply: Callable[[Session], Incident]) -> Any:
    """Run one incident change, commit, answer with the incident (errors as 400/404/409)."""
    s = db_session()
    try:
        incident = apply(s)
    except IncidentNotFound as exc:
        s.rollback()
        raise ApiError(404, str(exc)) from None
    except InvalidAction as exc:
        s.rollback()
        raise ApiError(400, str(exc), {"code": exc.code}) from None
    except NewerIncidentOpen as exc:
        s.rollback()
        raise ApiError(
            409,
            str(exc),
            {
                "code": exc.code,
                "newer_incident_id": exc.newer_id,
                "newer_incident": url_for(
                    "incidents_api.incidents_get", incident_id=exc.newer_id, _external=True
                ),
                "newer_incident_page": url_for(
                    "incidents.incident_detail", incident_id=exc.newer_id, _external=True
                ),
            },
        ) from None
    except TransitionRefused as exc:
        s.rollback()
        raise ApiError(409, str(exc), {"code": exc.code}) from None
    s.commit()
    return jsonify(_detail(incident))


def _text_fields(*names: str) -> dict[str, Any]:
    data = json_body(empty_ok=True)
    return {name: data.get(name) for name in names if name in data}


ACTION_BODY = {"type": "object", "properties": {"reason": {"type": "string"}}}


@bp.route("/incidents")
@operation(
    "List incidents, newest first", tags=["incidents"], parameters=[*PAGE_PARAMS, *FILTER_PARAMS]
)
@require_role(Role.VIEWER)
def incidents_list() -> Any:
    page, per_page = page_args()
    try:
        filters = service.IncidentFilters.from_args(request.args)
    except service.FilterError as exc:
        raise ApiError(400, str(exc)) from None
    if service.unknown_site(db_session(), filters):
        raise ApiError(400, f"no site {filters.site!r}")
    result = paginate(db_session(), service.incidents_query(filters), page, per_page)
    return page_response(result, [service.incident_as_dict(i) for i in result.items])


@bp.route("/incidents/<int:incident_id>")
@operation("One incident with its SLA clocks and timeline", tags=["incidents"])
@require_role(Role.VIEWER)
def incidents_get(incident_id: int) -> Any:
    return jsonify(_detail(_incident(incident_id)))


@bp.route("/incidents", methods=["POST"])
@operation(
    "Report an incident by hand (e.g. a customer calls)",
    tags=["incidents"],
    request_body={
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"type": "string"},
            "service": {"type": "string"},
            "severity": {"enum": ["critical", "error", "warning", "info"]},
            "details": {"type": "string"},
        },
    },
    responses={"201": "Created"},
)
@require_role(Role.ENGINEER)
def incidents_report() -> Any:
    data = json_body(("title",))
    s = db_session()
    try:
        incident_id = service.report_manually(
            s,
            principal(),
            title=str(data["title"]),
            service=data.get("service") or None,
            severity=str(data.get("severity") or "warning"),
            details=str(data.get("details") or ""),
            settings=settings(),
            now=utcnow(),
            metrics=metrics_for(app_state().metrics.registry),
        )
    except (service.FilterError, ValueError) as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    s.commit()
    return jsonify(_detail(_incident(incident_id))), 201


@bp.route("/incidents/<int:incident_id>/ack", methods=["POST"])
@operation(
    "Acknowledge (409 if already acknowledged or resolved)",
    tags=["incidents"],
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_ack(incident_id: int) -> Any:
    return _act(incident_id, Action.ACKNOWLEDGE)


@bp.route("/incidents/<int:incident_id>/resolve", methods=["POST"])
@operation(
    "Resolve with a resolution note (required)",
    tags=["incidents"],
    request_body={
        "type": "object",
        "required": ["note"],
        "properties": {"note": {"type": "string"}},
    },
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_resolve(incident_id: int) -> Any:
    return _act(incident_id, Action.RESOLVE, **_text_fields("note"))


@bp.route("/incidents/<int:incident_id>/notes", methods=["POST"])
@operation(
    "Add a note (Markdown)",
    tags=["incidents"],
    request_body={
        "type": "object",
        "required": ["text"],
        "properties": {"text": {"type": "string"}},
    },
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_note(incident_id: int) -> Any:
    return _act(incident_id, Action.NOTE, **_text_fields("text"))


@bp.route("/incidents/<int:incident_id>/pending", methods=["POST"])
@operation(
    "Set pending (waiting on a customer or vendor); reason required",
    tags=["incidents"],
    request_body={
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"type": "string"}},
    },
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_pending(incident_id: int) -> Any:
    return _act(incident_id, Action.PENDING, **_text_fields("reason"))


@bp.route("/incidents/<int:incident_id>/resume", methods=["POST"])
@operation("Resume a pending incident", tags=["incidents"], conflict=INCIDENT_CONFLICT)
@require_role(Role.ENGINEER)
def incidents_resume(incident_id: int) -> Any:
    return _act(incident_id, Action.RESUME)


@bp.route("/incidents/<int:incident_id>/reopen", methods=["POST"])
@operation(
    "Reopen a resolved incident",
    tags=["incidents"],
    request_body=ACTION_BODY,
    responses={
        "200": "The reopened incident",
        "409": "Not resolved, or the same alert fired again and a newer incident holds it "
        "(detail: code newer_incident_open, newer_incident_id, newer_incident, "
        "newer_incident_page)",
    },
)
@require_role(Role.ENGINEER)
def incidents_reopen(incident_id: int) -> Any:
    return _act(incident_id, Action.REOPEN, **_text_fields("reason"))


@bp.route("/incidents/<int:incident_id>/reassign", methods=["POST"])
@operation(
    "Reassign between first and second line (reason required; hand-backs are counted)",
    tags=["incidents"],
    request_body={
        "type": "object",
        "required": ["reason"],
        "properties": {
            "line": {"enum": ["first_line", "second_line"]},
            "assignee": {"type": "string"},
            "reason": {"type": "string"},
        },
    },
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_reassign(incident_id: int) -> Any:
    return _act(incident_id, Action.REASSIGN, **_text_fields("line", "assignee", "reason"))


@bp.route("/incidents/<int:incident_id>/escalate", methods=["POST"])
@operation(
    "Escalate to the next step now",
    tags=["incidents"],
    request_body=ACTION_BODY,
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_escalate(incident_id: int) -> Any:
    return _act(incident_id, Action.ESCALATE, **_text_fields("reason"))


@bp.route("/incidents/<int:incident_id>/priority", methods=["POST"])
@operation(
    "Change the priority",
    tags=["incidents"],
    request_body={
        "type": "object",
        "required": ["priority"],
        "properties": {
            "priority": {"enum": ["P1", "P2", "P3", "P4"]},
            "reason": {"type": "string"},
        },
    },
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_priority(incident_id: int) -> Any:
    return _act(incident_id, Action.CHANGE_PRIORITY, **_text_fields("priority", "reason"))


@bp.route("/incidents/<int:incident_id>/escalation-policy", methods=["POST"])
@operation(
    "Choose the escalation policy the incident follows (audited, on the timeline); the running "
    "escalation continues under it. policy_id null: the default policy",
    tags=["incidents"],
    request_body={
        "type": "object",
        "required": ["policy_id"],
        "properties": {
            "policy_id": {"type": ["integer", "null"]},
            "reason": {"type": "string"},
        },
    },
    conflict=INCIDENT_CONFLICT,
)
@require_role(Role.ENGINEER)
def incidents_escalation_policy(incident_id: int) -> Any:
    data = json_body(("policy_id",))
    policy_id, reason = data["policy_id"], data.get("reason") or ""
    if policy_id is not None and (isinstance(policy_id, bool) or not isinstance(policy_id, int)):
        raise ApiError(
            400, f"policy_id must be an integer or null (the default policy), got {policy_id!r}"
        )
    if not isinstance(reason, str):
        raise ApiError(400, f"reason must be text, got {type(reason).__name__}")
    return _change(
        lambda s: choose_policy(s, principal(), incident_id, policy_id, utcnow(), reason=reason)
    )


@bp.route("/escalation-policies")
@operation(
    "Escalation policies (ids for choosing an incident's policy), by name",
    tags=["incidents"],
)
@require_role(Role.VIEWER)
def escalation_policies_list() -> Any:
    rows = db_session().scalars(select(EscalationPolicyRow).order_by(EscalationPolicyRow.name))
    return jsonify(items=[{"id": row.id, **policy_as_dict(row)} for row in rows])


# --- silences -----------------------------------------------------------------------------------

SILENCE_BODY = {
    "type": "object",
    "properties": {
        "matchers": {"type": "string", "examples": ['service="mail", severity=~"critical|error"']},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "duration_minutes": {"type": "number"},
        "comment": {"type": "string"},
    },
}


def _instant(data: dict[str, Any], name: str) -> Any:
    if not data.get(name):
        return None
    try:
        return parse_instant(str(data[name]), name)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _silence(silence_id: int) -> SilenceRow:
    row = db_session().get(SilenceRow, silence_id)
    if row is None:
        raise ApiError(404, f"no silence with id {silence_id}")
    return row


@bp.route("/silences")
@operation(
    "List silences (active and pending first)",
    tags=["silences"],
    parameters=[query_param("state", {"enum": ["active", "pending", "expired"]})],
)
@require_role(Role.VIEWER)
def silences_list() -> Any:
    now = utcnow()
    rows = db_session().scalars(select(SilenceRow).order_by(SilenceRow.ends_at.desc()))
    items = [service.silence_as_dict(r, now) for r in rows]
    if request.args.get("state"):
        items = [i for i in items if i["state"] == request.args["state"]]
    return jsonify(items=items)


@bp.route("/silences", methods=["POST"])
@operation(
    "Create a silence",
    tags=["silences"],
    request_body={**SILENCE_BODY, "required": ["matchers", "comment"]},
    responses={"201": "Created"},
)
@require_role(Role.ENGINEER)
def silences_create() -> Any:
    data = json_body(("matchers", "comment"))
    s = db_session()
    try:
        row = service.create_silence(
            s,
            principal(),
            matchers=str(data["matchers"]),
            starts_at=_instant(data, "starts_at"),
            ends_at=_instant(data, "ends_at"),
            duration_minutes=data.get("duration_minutes"),
            comment=str(data["comment"]),
            now=utcnow(),
        )
    except (MatcherError, SilenceError, TypeError, ValueError) as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    s.commit()
    return jsonify(service.silence_as_dict(row, utcnow())), 201


@bp.route("/silences/<int:silence_id>")
@operation("One silence", tags=["silences"])
@require_role(Role.VIEWER)
def silences_get(silence_id: int) -> Any:
    return jsonify(service.silence_as_dict(_silence(silence_id), utcnow()))


@bp.route("/silences/<int:silence_id>", methods=["PATCH"])
@operation(
    "Change a silence (matchers, times, comment)", tags=["silences"], request_body=SILENCE_BODY
)
@require_role(Role.ENGINEER)
def silences_update(silence_id: int) -> Any:
    data = json_body()
    s = db_session()
    row = _silence(silence_id)
    changes: dict[str, Any] = {}
    for name in ("matchers", "comment"):
        if name in data:
            changes[name] = str(data[name])
    for name in ("starts_at", "ends_at"):
        if name in data:
            changes[name] = _instant(data, name)
    try:
        service.update_silence(s, principal(), row, utcnow(), **changes)
    except (MatcherError, SilenceError) as exc:
        s.rollback()
        raise ApiError(400, str(exc)) from None
    s.commit()
    return jsonify(service.silence_as_dict(row, utcnow()))


@bp.route("/silences/<int:silence_id>", methods=["DELETE"])
@operation("Expire a silence now", tags=["silences"], responses={"204": "Expired"})
@require_role(Role.ENGINEER)
def silences_expire(silence_id: int) -> Any:
    s = db_session()
    service.expire_silence(s, principal(), _silence(silence_id), utcnow())
    s.commit()
    return "", 204
