"""One error handler for the whole app: JSON for API clients, an HTML page for people.

- ``ApiError`` and HTTP errors answer with their status and message.
- ``dutydesk.core.validation.ValidationError`` (bad input nobody caught) is a **400** naming
  the field; the request's transaction is rolled back, so bad input changes nothing.
- The database being unreachable, restarting or locked is a **503** with ``Retry-After`` (JSON
  for the API, a translated "database unavailable" page for people); the connection pool
  reconnects by itself once the database is back.
- A value the database refuses (``DataError``: out of range, malformed) is a **400**; text
  longer than its column is refused by name before that (``dutydesk.core.db``).
- A database constraint refusing the change (unique name taken, reference gone) is a **409**.
- Anything else is a 500 with a request id, details in the log only.

Error pages never depend on the database: the signed-in user shown in the page frame and used to
pick the language is a snapshot of what was already loaded (see :func:`_detached_principal`),
and should rendering the page still fail, a minimal page is sent instead.
"""

from __future__ import annotations

import dataclasses
import logging
from types import SimpleNamespace
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from markupsafe import escape
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect as sa_inspect
from werkzeug.exceptions import HTTPException

from dutydesk.core.validation import ValidationError

log = logging.getLogger("dutydesk.errors")

#: Seconds a client is asked to wait while the database is unavailable.
DB_RETRY_AFTER_SECONDS = 15

# SQLite reports some programming errors as OperationalError too; those are bugs, not outages.
_NOT_AN_OUTAGE = ("no such table", "no such column", "syntax error", "has no column")


class ApiError(Exception):
    """An error with an HTTP status and a message meant for the person or client who caused it."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means "the database cannot be reached or used right now" (refused or
    dropped connection, server shutting down, pool exhausted, SQLite file unreadable/locked),
    as opposed to a bug in a query."""
    if isinstance(exc, sa_exc.TimeoutError):  # no free connection in the pool
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        text = str(exc.orig if getattr(exc, "orig", None) is not None else exc).lower()
        return not any(marker in text for marker in _NOT_AN_OUTAGE)
    return False


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/v2/", "/ping/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(
    status: int, message: str, detail: Any = None, headers: Any = None, *, title: str = ""
) -> Any:
    """The error as JSON (``{"error", "detail"}``; 5xx add ``request_id``) or as the error page
    (``title`` a short heading next to the status)."""
    if _wants_json():
        body: dict[str, Any] = {"error": message, "detail": detail}
        if status >= 500:
            body["request_id"] = g.get("request_id")
        return jsonify(body), status, headers or {}
    return _error_page(status, message, detail, title), status, headers or {}


def _error_page(status: int, message: str, detail: Any, title: str = "") -> str:
    """The error page in the site frame; a bare page if even that cannot be rendered."""
    try:
        return render_template(
            "errors/error.html", status=status, message=message, detail=detail, title=title
        )
    except Exception:
        log.exception("the error page could not be rendered", extra=_log_extra())
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{status} · '
            f"DutyDesk</title></head><body><main><h1>{status} {escape(title)}</h1>"
            f'<p class="error-message">{escape(message)}</p><p><a href="/">DutyDesk</a></p>'
            "</main></body></html>"
        )


def _log_extra() -> dict[str, Any]:
    return {"request_id": g.get("request_id"), "path": request.path}


def _detached_principal() -> None:
    """Swap the signed-in user on ``g.principal`` for a plain snapshot of what was loaded, so
    the error page (language, zone, name in the top bar) never goes back to the database —
    which may be down, or whose session is about to be rolled back and closed."""
    who = g.get("principal")
    user = getattr(who, "user", None)
    if who is None or user is None or isinstance(user, SimpleNamespace):
        return
    try:
        loaded = dict(sa_inspect(user).dict)
    except Exception:  # not an ORM object (tests may pass plain objects): leave it
        return
    name, email = loaded.get("name"), loaded.get("email")
    snapshot = SimpleNamespace(
        id=loaded.get("id"),
        email=email,
        name=name,
        language=loaded.get("language"),
        timezone=loaded.get("timezone"),
        display_name=name or email or who.label,
    )
    g.principal = dataclasses.replace(who, user=snapshot)


def _discard_request_work() -> None:
    from dutydesk.context import close_db_session

    _detached_principal()
    try:
        close_db_session()  # roll back whatever the failed request had written
    except Exception:  # the connection is already gone: nothing left to roll back
        log.debug("rollback after a failed request failed too", exc_info=True)


def database_unavailable_response() -> Any:
    """503 + ``Retry-After``: JSON for clients, a translated page for people."""
    from flask_babel import gettext

    headers = {"Retry-After": str(DB_RETRY_AFTER_SECONDS)}
    if _wants_json():
        return error_response(
            503,
            "database unavailable; retry in a few seconds",
            {"retry_after_seconds": DB_RETRY_AFTER_SECONDS},
            headers,
        )
    message = gettext(
        "The database is unavailable right now. DutyDesk reconnects by itself: try again in "
        "a few seconds. If this lasts, tell the administrators."
    )
    return error_response(503, message, None, headers, title=gettext("Database unavailable"))


def _conflict_message() -> str:
    if _wants_json():
        return ("conflicts with stored data (a name that must be unique is taken, or a referenced "
                "record no longer exists); nothing was saved")
    from flask_babel import gettext

    return gettext(
        "Not saved: this conflicts with what is already stored (a name that must be unique is "
        "taken, or something it refers to no longer exists)."
    )


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

    @app.errorhandler(ValidationError)
    def _bad_input(exc: ValidationError) -> Any:
        _discard_request_work()
        return error_response(400, str(exc), {"field": exc.field})

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

    @app.errorhandler(sa_exc.DataError)
    def _bad_data(exc: sa_exc.DataError) -> Any:
        # The database refused a value (out of range, wrong form) that no check before it caught.
        _discard_request_work()
        log.warning("value refused by the database: %s", str(exc.orig)[:200], extra=_log_extra())
        return error_response(400, "a value is out of range or malformed for what can be stored")

    @app.errorhandler(sa_exc.IntegrityError)
    def _conflict(exc: sa_exc.IntegrityError) -> Any:
        # A unique name taken meanwhile or a reference to a row that is gone: the client's input
        # conflicts with what is stored. Nothing was saved (rolled back); say so, not "500".
        _discard_request_work()
        log.info("refused by a database constraint: %s", str(exc.orig)[:200], extra=_log_extra())
        return error_response(409, _conflict_message(), None)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        _discard_request_work()
        if is_database_outage(exc):
            log.warning(
                "database unavailable: %s", str(exc).splitlines()[0][:300], extra=_log_extra()
            )
            return database_unavailable_response()
        log.exception("unhandled error", extra=_log_extra())
        return error_response(
            500,
            "internal error; the administrators can find it in the log by its request id "
            f"{g.get('request_id')}",
        )
