"""Check engine over HTTP: the JSON API (/api/v1/checks, /api/v1/flips) and the heartbeat
endpoints (/ping/<key>, /ping/<key>/start, /ping/<key>/fail, /ping/<key>/<exit-status>,
/ping/<key>/log; no auth, CSRF-exempt)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import delete, select

from checks.models import (
    Check,
    CheckGroup,
    CheckResultRow,
    CheckStateRow,
    FlipRow,
    HeartbeatLogRow,
    HeartbeatRow,
)
from dutydesk.context import db_session, require_role
from dutydesk.core.db import utcnow
from dutydesk.core.sites import Site
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.openapi import PAGE_PARAMS, operation, query_param
from dutydesk.pagination import paginate
from dutydesk.web.api import _csrf_for_cookie_sessions, page_args, page_response

api_bp = Blueprint("checks_api", __name__, url_prefix="/api/v1")
api_bp.before_request(_csrf_for_cookie_sessions)
ping_bp = Blueprint("ping", __name__)


def check_as_dict(check: Check, state: CheckStateRow | None, group: str | None,
                  site: str | None = None) -> dict[str, Any]:
    """A check as the API shows it; ``site`` is its site's slug."""
    return {
        "id": check.id, "name": check.slug, "display_name": check.display_name,
        "type": check.type, "group": group, "site": site, "enabled": check.enabled,
        "tags": check.tags,
        "labels": check.labels, "service": check.service, "impact": check.impact,
        "urgency": check.urgency, "interval": check.interval, "max_attempts": check.max_attempts,
        "min_locations_down": check.min_locations_down,
        "state": None if state is None else {
            "status": state.status, "state_type": state.state_type, "attempt": state.attempt,
            "flapping": state.flapping, "in_maintenance": state.in_maintenance,
            "last_status": state.last_status, "last_message": state.last_message,
            "last_duration": state.last_duration,
            "long_output": state.last_long_output or "",
            "perfdata": list(state.last_perfdata or []),
            "last_result_at": state.last_result_at.isoformat() if state.last_result_at else None,
            "next_due_at": state.next_due_at.isoformat(),
        },
    }


def flip_as_dict(flip: FlipRow) -> dict[str, Any]:
    return {"id": flip.id, "check_id": flip.check_id, "kind": flip.kind,
            "old_status": flip.old_status, "new_status": flip.new_status, "reason": flip.reason,
            "at": flip.at.isoformat(), "muted_by": flip.muted_by,
            "processed_at": flip.processed_at.isoformat() if flip.processed_at else None}


def _checks_query() -> Any:
    return (select(Check, CheckStateRow, CheckGroup.path, Site.slug)
            .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
            .outerjoin(CheckGroup, CheckGroup.id == Check.group_id)
            .outerjoin(Site, Site.id == Check.site_id))


@api_bp.route("/checks")
@operation("List checks with their current state", tags=["checks"], parameters=[
    *PAGE_PARAMS,
    query_param("state", {"type": "string"}, "Status shown: OK, WARNING, CRITICAL, UNKNOWN, "
                "UNREACHABLE, PENDING"),
    query_param("group", {"type": "string"}, "Group path prefix, e.g. 'Hall A'"),
    query_param("type", {"type": "string"}, "Check type, e.g. http"),
    query_param("site", {"type": "string"}, "Site slug, e.g. kyiv-dc2 (an unknown one: 400)"),
])
@require_role(Role.VIEWER)
def checks_list() -> Any:
    page, per_page = page_args()
    query = _checks_query().order_by(CheckGroup.path, Check.slug)
    args = request.args
    if args.get("state"):
        query = query.where(CheckStateRow.status == args["state"].upper())
    if args.get("group"):
        query = query.where(CheckGroup.path.startswith(args["group"], autoescape=True))
    if args.get("type"):
        query = query.where(Check.type == args["type"])
    s = db_session()
    if args.get("site"):
        if s.scalar(select(Site.id).where(Site.slug == args["site"])) is None:
            raise ApiError(400, f"no site {args['site'][:64]!r}")
        query = query.where(Site.slug == args["site"])
    total_page = paginate(s, query.with_only_columns(Check.id), page, per_page)
    rows = s.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return page_response(total_page, [check_as_dict(*row) for row in rows])


def _one(check_id: int) -> tuple[Check, CheckStateRow | None, str | None, str | None]:
    row = db_session().execute(_checks_query().where(Check.id == check_id)).first()
    if row is None:
        raise ApiError(404, f"no check with id {check_id}")
    return row[0], row[1], row[2], row[3]


@api_bp.route("/checks/<int:check_id>")
@operation("One check with its state", tags=["checks"], responses={"200": "OK",
                                                                   "404": "No such check"})
@require_role(Role.VIEWER)
def checks_get(check_id: int) -> Any:
    """The check; ``locations`` (several: what each saw last) is [] when the centre alone
    runs it."""
    from dutydesk.sites.service import runs_on

    found = check_as_dict(*_one(check_id))
    found["locations"] = [
        {"name": seen.name, "status": seen.status.name if seen.at else None,
         "message": seen.message, "at": seen.at.isoformat() if seen.at else None}
        for seen in runs_on(db_session(), check_id)]
    return jsonify(found)


@api_bp.route("/checks/<int:check_id>/run", methods=["POST"])
@operation("Run the check as soon as the engine sees it (within a second)", tags=["checks"],
           responses={"202": "Queued", "404": "No such check"},
           conflict="The check has no state yet (the engine creates it shortly)")
@require_role(Role.ENGINEER)
def checks_run(check_id: int) -> Any:
    check, state, _group, _site = _one(check_id)
    if state is None:
        raise ApiError(409, f"check {check.slug} has no state yet; the engine creates it shortly")
    state.next_due_at = utcnow()
    db_session().commit()
    return jsonify({"queued": True, "id": check_id}), 202


@api_bp.route("/checks/<int:check_id>/results")
@operation("The last results of a check, newest first", tags=["checks"], parameters=PAGE_PARAMS)
@require_role(Role.VIEWER)
def checks_results(check_id: int) -> Any:
    _one(check_id)
    page, per_page = page_args()
    query = (select(CheckResultRow).where(CheckResultRow.check_id == check_id)
             .order_by(CheckResultRow.id.desc()))
    result = paginate(db_session(), query, page, per_page)
    return page_response(result, [
        {"id": r.id, "started_at": r.started_at.isoformat(), "status": r.status,
         "message": r.message, "duration": r.duration, "metrics": r.metrics}
        for r in result.items])


@api_bp.route("/flips")
@operation("State changes of checks, newest first", tags=["checks"], parameters=[
    *PAGE_PARAMS, query_param("check_id", {"type": "integer"}),
    query_param("kind", {"type": "string"}, "problem, recovery, changed, flapping_started, ..."),
])
@require_role(Role.VIEWER)
def flips_list() -> Any:
    page, per_page = page_args()
    query = select(FlipRow).order_by(FlipRow.id.desc())
    if request.args.get("check_id"):
        try:
            query = query.where(FlipRow.check_id == int(request.args["check_id"]))
        except ValueError:
            raise ApiError(400, "check_id must be a whole number") from None
    if request.args.get("kind"):
        query = query.where(FlipRow.kind == request.args["kind"])
    result = paginate(db_session(), query, page, per_page)
    return page_response(result, [flip_as_dict(f) for f in result.items])


#: What a ping keeps of its body (a cron job's output tail), and the most it accepts at all.
PING_BODY_KEPT = 10_000
PING_BODY_MAX = 100_000
#: Pings and log lines kept per check (older ones are deleted as new ones come).
HEARTBEAT_LOG_KEEP = 100


@ping_bp.route("/ping/<key>", methods=["GET", "POST"], defaults={"signal": "success"})
@ping_bp.route("/ping/<key>/<any(start, fail, log):signal>", methods=["GET", "POST"])
@ping_bp.route("/ping/<key>/<int:exit_status>", methods=["GET", "POST"],
               defaults={"signal": "exit"})
def ping(key: str, signal: str, exit_status: int | None = None) -> Any:
    """Record a heartbeat signal and make the check due now, so it turns OK (or CRITICAL) at
    once. As healthchecks.io: ``/ping/<key>/<exit-status>`` reports a job's exit status (0
    success, 1-255 failure with that status) and ``/ping/<key>/log`` only records its body as a
    log entry, changing nothing. A body is kept up to ``PING_BODY_KEPT`` characters."""
    if request.content_length is not None and request.content_length > PING_BODY_MAX:
        return (f"ping body too large: at most {PING_BODY_MAX} bytes\n", 413,
                {"Content-Type": "text/plain"})
    if exit_status is not None and not 0 <= exit_status <= 255:
        return ("exit status must be 0-255\n", 400, {"Content-Type": "text/plain"})
    s = db_session()
    check = s.scalar(select(Check).where(Check.heartbeat_key == key))
    if check is None:
        return "not found\n", 404, {"Content-Type": "text/plain"}
    now = utcnow()
    body = (request.get_data(cache=False)[:PING_BODY_MAX].decode("utf-8", "replace")
            [:PING_BODY_KEPT] if request.method == "POST" else "")
    source = (request.remote_addr or "")[:100]
    if signal == "exit":
        signal = "success" if exit_status == 0 else "fail"
    s.add(HeartbeatLogRow(check_id=check.id, at=now, kind=signal, exit_status=exit_status,
                          body=body, source=source))
    _trim_log(s, check.id)
    if signal == "log":  # a line to read on the check page; the check's state is untouched
        s.commit()
        return "OK\n", 200, {"Content-Type": "text/plain"}
    row = s.get(HeartbeatRow, check.id)
    if row is None:
        row = HeartbeatRow(check_id=check.id, pings=0)
        s.add(row)
    field = {"success": "last_ping_at", "start": "last_start_at", "fail": "last_fail_at"}[signal]
    setattr(row, field, now)
    if signal != "start":
        row.last_exit_status = exit_status if exit_status is not None else (
            0 if signal == "success" else None)
    row.pings = (row.pings or 0) + 1
    row.last_source = source
    row.last_body = body[:1000]
    state = s.get(CheckStateRow, check.id)
    if state is not None:
        state.next_due_at = now
    s.commit()
    return "OK\n", 200, {"Content-Type": "text/plain"}


def _trim_log(s: Any, check_id: int) -> None:
    """Keep the newest ``HEARTBEAT_LOG_KEEP`` entries of the check (bounded history)."""
    s.flush()
    oldest_kept = s.scalar(
        select(HeartbeatLogRow.id).where(HeartbeatLogRow.check_id == check_id)
        .order_by(HeartbeatLogRow.id.desc()).offset(HEARTBEAT_LOG_KEEP - 1).limit(1))
    if oldest_kept is not None:
        s.execute(delete(HeartbeatLogRow).where(HeartbeatLogRow.check_id == check_id,
                                                HeartbeatLogRow.id < oldest_kept))


def register_check_blueprints(app: Any, csrf: Any) -> None:
    """The checks API (token auth; CSRF checked for cookie sessions) and the ping endpoints
    (anonymous devices: CSRF-exempt by design)."""
    for blueprint in (api_bp, ping_bp):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)
    from dutydesk.web.checks import register_check_screens

    register_check_screens(app)  # list/detail/edit screens (CSRF-protected) and /metrics gauges
