"""JSON API v1 for the app shell: who am I, users, tokens, audit log, OpenAPI document.

Clients authenticate with ``Authorization: Bearer <token>``. A browser session may call the API
too; then unsafe methods must carry the CSRF token in ``X-CSRFToken``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms import ValidationError as WtfValidationError

from dutydesk import accounts
from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core import audit
from dutydesk.core.validation import json_object
from dutydesk.errors import ApiError
from dutydesk.models import ApiToken, Role, User
from dutydesk.openapi import PAGE_PARAMS, build_document, operation, query_param
from dutydesk.pagination import PaginationError, paginate, parse_page_args

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _csrf_for_cookie_sessions() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if principal().kind in ("user", "kiosk"):
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except (CSRFError, WtfValidationError) as exc:
            raise ApiError(400, f"CSRF token missing or invalid: {exc}") from None


def json_body(required: tuple[str, ...] = (), *, empty_ok: bool = False) -> dict[str, Any]:
    """The request's JSON object (arrays, strings and non-JSON bodies are a 400 that says what
    came); see ``dutydesk.core.validation.json_object``. ``empty_ok``: no body counts as ``{}``."""
    return json_object(request.get_json(silent=True), required=required, empty_ok=empty_ok)


def page_args() -> tuple[int, int]:
    try:
        return parse_page_args(request.args, max_per_page=settings().api_page_size_max)
    except PaginationError as exc:
        raise ApiError(400, str(exc)) from None


def page_response(result: Any, items: list[dict[str, Any]]) -> Any:
    return jsonify(
        items=items,
        page=result.page,
        per_page=result.per_page,
        total=result.total,
        pages=result.pages,
    )


def user_as_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "active": user.active,
        "language": user.language,
        "timezone": user.timezone,
        "created_at": user.created_at.isoformat(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
    }


def token_as_dict(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role.value,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "active": token.active,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


USER_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string"},
        "name": {"type": "string"},
        "role": {"enum": [r.value for r in Role]},
        "password": {"type": "string"},
        "active": {"type": "boolean"},
        "language": {"enum": ["en", "ru", "uk", None]},
        "timezone": {"type": ["string", "null"]},
    },
}


@bp.route("/me")
@operation("Who the caller is and which role it has", tags=["accounts"])
@require_role(Role.VIEWER)
def me() -> Any:
    who = principal()
    body: dict[str, Any] = {"kind": who.kind, "label": who.label, "role": who.role.value}
    if who.user is not None:
        body["user"] = user_as_dict(who.user)
    return jsonify(body)


@bp.route("/users")
@operation(
    "List users",
    tags=["accounts"],
    parameters=[
        *PAGE_PARAMS,
        query_param("role", {"enum": [r.value for r in Role]}),
        query_param("active", {"type": "boolean"}),
    ],
)
@require_role(Role.ADMIN)
def users_list() -> Any:
    page, per_page = page_args()
    query = select(User).order_by(User.email)
    if request.args.get("role"):
        try:
            query = query.where(User.role == Role.parse(request.args["role"]))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    if request.args.get("active") in ("true", "false"):
        query = query.where(User.active.is_(request.args["active"] == "true"))
    result = paginate(db_session(), query, page, per_page)
    return page_response(result, [user_as_dict(u) for u in result.items])


@bp.route("/users", methods=["POST"])
@operation(
    "Create a user",
    tags=["accounts"],
    request_body={**USER_SCHEMA, "required": ["email", "password"]},
    responses={"201": "Created"},
)
@require_role(Role.ADMIN)
def users_create() -> Any:
    data = json_body(("email", "password"))
    s = db_session()
    try:
        user = accounts.create_user(
            s,
            principal(),
            email=str(data["email"]),
            password=str(data["password"]),
            role=data.get("role", "engineer"),
            name=str(data.get("name", "")),
            language=data.get("language"),
            timezone=data.get("timezone"),
        )
    except accounts.ValidationError as exc:
        s.rollback()
        raise ApiError(400, exc.message, {"field": exc.field}) from None
    s.commit()
    return jsonify(user_as_dict(user)), 201


@bp.route("/users/<int:user_id>", methods=["PATCH"])
@operation(
    "Change a user (role, name, email, active, language, timezone, password)",
    tags=["accounts"],
    request_body=USER_SCHEMA,
)
@require_role(Role.ADMIN)
def users_update(user_id: int) -> Any:
    data = json_body()
    allowed = {"email", "name", "role", "active", "language", "timezone", "password"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(
            400, f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    s = db_session()
    user = s.get(User, user_id)
    if user is None:
        raise ApiError(404, f"no user with id {user_id}")
    try:
        demoted = "role" in data and data["role"] != Role.ADMIN.value
        disabled = "active" in data and not data["active"]
        if user.role is Role.ADMIN and user.active and (demoted or disabled):
            accounts.require_another_active_admin(s, user)
        accounts.update_user(s, principal(), user, **data)
    except accounts.ValidationError as exc:
        s.rollback()
        raise ApiError(400, exc.message, {"field": exc.field}) from None
    s.commit()
    return jsonify(user_as_dict(user))


@bp.route("/tokens")
@operation("List API tokens (never their secrets)", tags=["accounts"], parameters=PAGE_PARAMS)
@require_role(Role.ADMIN)
def tokens_list() -> Any:
    page, per_page = page_args()
    result = paginate(db_session(), select(ApiToken).order_by(ApiToken.id), page, per_page)
    return page_response(result, [token_as_dict(t) for t in result.items])


@bp.route("/tokens", methods=["POST"])
@operation(
    "Create an API token; the secret is in the response once",
    tags=["accounts"],
    request_body={
        "type": "object",
        "required": ["name", "role"],
        "properties": {"name": {"type": "string"}, "role": {"enum": [r.value for r in Role]}},
    },
    responses={"201": "Created; `token` holds the secret"},
)
@require_role(Role.ADMIN)
def tokens_create() -> Any:
    data = json_body(("name", "role"))
    s = db_session()
    try:
        token, plaintext = accounts.create_token(
            s, principal(), name=str(data["name"]), role=str(data["role"])
        )
    except accounts.ValidationError as exc:
        s.rollback()
        raise ApiError(400, exc.message, {"field": exc.field}) from None
    s.commit()
    return jsonify({**token_as_dict(token), "token": plaintext}), 201


@bp.route("/tokens/<int:token_id>", methods=["DELETE"])
@operation("Revoke an API token", tags=["accounts"], responses={"204": "Revoked"},
           conflict="The token cannot be revoked (e.g. the caller's own)")
@require_role(Role.ADMIN)
def tokens_revoke(token_id: int) -> Any:
    s = db_session()
    token = s.get(ApiToken, token_id)
    if token is None:
        raise ApiError(404, f"no token with id {token_id}")
    try:
        accounts.revoke_token(s, principal(), token)
    except accounts.ValidationError as exc:
        raise ApiError(409, exc.message) from None
    s.commit()
    return "", 204


@bp.route("/audit")
@operation(
    "Browse the audit log, newest first",
    tags=["audit"],
    parameters=[
        *PAGE_PARAMS,
        query_param("actor", {"type": "string"}, "Substring of the actor"),
        query_param("action", {"type": "string"}, "Action prefix, e.g. 'user.'"),
        query_param("entity_type", {"type": "string"}),
        query_param("entity_id", {"type": "string"}),
        query_param("since", {"type": "string", "format": "date-time"}),
        query_param("until", {"type": "string", "format": "date-time"}),
    ],
)
@require_role(Role.ADMIN)
def audit_list() -> Any:
    from dutydesk.core.timeparse import parse_instant

    page, per_page = page_args()
    args = request.args
    try:
        since = parse_instant(args["since"], "since") if args.get("since") else None
        until = parse_instant(args["until"], "until") if args.get("until") else None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    query = audit.filtered_query(
        actor=args.get("actor"),
        action=args.get("action"),
        entity_type=args.get("entity_type"),
        entity_id=args.get("entity_id"),
        since=since,
        until=until,
    )
    result = paginate(db_session(), query, page, per_page)
    return page_response(result, [audit.entry_as_dict(e) for e in result.items])


@bp.route("/openapi.json")
@operation("This OpenAPI 3.1 document", tags=["meta"])
@require_role(Role.VIEWER)
def openapi_document() -> Any:
    return jsonify(build_document(current_app))
