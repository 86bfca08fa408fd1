"""OpenAPI 3.1 description built from the routes themselves.

Each API view is decorated with ``@operation(...)``; ``build_document(app)`` walks the URL map, so a
route that exists but is undocumented shows up as missing (a test guards this).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

from dutydesk import __version__
from dutydesk.core.validation import MAX_ID, MAX_PAGE

F = TypeVar("F", bound=Callable[..., Any])
API_PREFIXES = ("/api/", "/v2/")

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "detail": {}},
}


def error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A documented error answer with our ``Error`` body."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A documented JSON answer whose body follows ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(
    summary: str,
    *,
    tags: list[str] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    request_body: dict[str, Any] | None = None,
    responses: dict[str, Any] | None = None,
    auth: bool = True,
    conflict: str | None = None,
) -> Callable[[F], F]:
    """Attach an OpenAPI operation description to a view function.

    400 (and 401/403 with ``auth``) are always documented with the ``Error`` body; so are 404
    for operations with path ids and 503 (database unavailable) for all, in ``build_document``.
    ``conflict``: when the operation answers 409 because of the object's state, say when."""

    def decorator(view: F) -> F:
        spec: dict[str, Any] = {"summary": summary, "tags": tags or []}
        if parameters:
            spec["parameters"] = parameters
        if request_body:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": request_body}},
            }
        spec["responses"] = {
            code: ({"description": body} if isinstance(body, str) else body)
            for code, body in (responses or {"200": "OK"}).items()
        }
        for code, text in (
            (("400", "Malformed request"), ("401", "Not authenticated"), ("403", "Role too weak"))
            if auth
            else (("400", "Malformed request"),)
        ):
            spec["responses"].setdefault(code, error_response(text))
        if conflict:
            spec["responses"].setdefault("409", error_response(conflict))
        if not auth:
            spec["security"] = []
        view._openapi = spec  # type: ignore[attr-defined]
        return view

    return decorator


def query_param(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PAGE_PARAMS = [
    query_param(
        "page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "Page number, from 1"
    ),
    query_param("per_page", {"type": "integer", "minimum": 1, "maximum": 500}, "Items per page"),
]


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """Turn a Flask rule (``/users/<int:id>``) into an OpenAPI path and its path parameters."""
    params: list[dict[str, Any]] = []

    def repl(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        schema: dict[str, Any] = {"type": "string"}
        if converter == "int":  # the app's bounded id converter (dutydesk.app.IdConverter)
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        elif converter == "float":
            schema = {"type": "number"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return re.sub(r"<(?:(\w+):)?(\w+)>", repl, rule), params


#: Every operation may meet a database outage: 503 with Retry-After (see dutydesk.errors).
UNAVAILABLE = error_response(
    "Database unavailable; retry after the seconds in Retry-After",
    {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "required": True}},
)


def api_rules(app: Flask) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith(API_PREFIXES)]


def add_links(paths: dict[str, dict[str, Any]]) -> None:
    """Link each create (``POST /things`` answering 201 with an ``id``) to the operations on
    ``/things/{thing_id}...`` with ``thing_id`` taken from the response, so clients and stateful
    fuzzers can chain create -> read -> update -> delete without knowing our URL scheme."""
    for path, operations in paths.items():
        create = operations.get("post")
        if create is None or "201" not in create["responses"]:
            continue
        links: dict[str, Any] = {}
        for other_path, other_ops in sorted(paths.items()):
            match = re.fullmatch(re.escape(path) + r"/\{(\w+)\}(/.*)?", other_path)
            if match is None or "{" in (match.group(2) or ""):
                continue
            for method, op in sorted(other_ops.items()):
                name = op["operationId"].replace(".", "_")
                links[name] = {
                    "operationId": op["operationId"],
                    "parameters": {match.group(1): "$response.body#/id"},
                    "description": f"{method.upper()} {other_path} on the created item",
                }
        if links:
            created = dict(create["responses"]["201"])
            created["links"] = links
            create["responses"] = {**create["responses"], "201": created}


def build_document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(api_rules(app), key=lambda r: r.rule):
        spec = getattr(app.view_functions[rule.endpoint], "_openapi", None)
        if spec is None:
            continue
        path, path_params = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = dict(spec)
            op["operationId"] = f"{rule.endpoint}.{method.lower()}"
            op["responses"] = dict(spec["responses"])
            if path_params:
                op["parameters"] = path_params + list(spec.get("parameters", []))
                op["responses"].setdefault("404", error_response("No such id"))
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                op["responses"].setdefault(
                    "409", error_response("Conflicts with stored data; nothing was saved")
                )
            op["responses"].setdefault("503", UNAVAILABLE)
            paths.setdefault(path, {})[method.lower()] = op
    add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DutyDesk API",
            "version": __version__,
            "description": 'Bearer-token JSON API. Errors are {"error": message, "detail": ...}.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "paths": paths,
    }
