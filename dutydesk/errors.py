"""One error handler for the whole app: JSON for API clients, an HTML page for people."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger("dutydesk.errors")


class ApiError(Exception):
    """An error with an HTTP status and a message meant for the person or client who caused it."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/v2/", "/ping/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str, detail: Any = None, headers: Any = None) -> Any:
    if _wants_json():
        body: dict[str, Any] = {"error": message, "detail": detail}
        if status >= 500:
            body["request_id"] = g.get("request_id")
        response = jsonify(body)
    else:
        response = render_template(
            "errors/error.html", status=status, message=message, detail=detail
        )
    return response, status, headers or {}


def default_message(status: int, fallback: str) -> str:
    """What an HTTP status means, in the viewer's language (werkzeug's defaults are English)."""
    from flask_babel import gettext as _

    messages = {
        400: lambda: _("The request could not be understood."),
        403: lambda: _("You do not have permission to open this page."),
        404: lambda: _("There is no such page. Check the address, or start from the home page."),
        405: lambda: _("This address does not accept that kind of request."),
        413: lambda: _("What was sent is too large."),
        429: lambda: _("Too many requests: wait a little and try again."),
        500: lambda: _("Something went wrong on our side. The error has been logged."),
    }
    found = messages.get(status)
    return found() if found is not None else fallback


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return error_response(exc.status, exc.message, exc.detail)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        headers = dict(exc.get_response().headers) if exc.code in (405, 429) else None
        if headers:
            headers.pop("Content-Type", None)
            headers.pop("Content-Length", None)
        message = exc.description or exc.name
        if exc.description == type(exc).description:  # werkzeug's English default
            message = default_message(exc.code or 500, message)
        return error_response(exc.code or 500, message, None, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        from dutydesk.context import close_db_session

        close_db_session()  # roll back whatever the failed request had written
        log.exception(
            "unhandled error", extra={"request_id": g.get("request_id"), "path": request.path}
        )
        return error_response(
            500,
            "internal error; the administrators can find it in the log by its request id "
            f"{g.get('request_id')}",
        )
