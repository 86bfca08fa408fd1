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
        return error_response(exc.code or 500, exc.description or exc.name, None, headers)

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
