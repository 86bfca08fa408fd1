"""Per-app and per-request state, reached through small functions instead of globals."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import current_app, g, redirect, request
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.security import ANONYMOUS, Principal
from dutydesk.errors import ApiError
from dutydesk.metrics import Metrics
from dutydesk.models import Role

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppState:
    """Everything the app shell owns, stored in ``app.extensions["dutydesk"]``."""

    settings: Settings
    db: Database
    metrics: Metrics


def app_state() -> AppState:
    return current_app.extensions["dutydesk"]


def settings() -> Settings:
    return app_state().settings


def db_session() -> Session:
    """The request's session; views commit explicitly, teardown rolls back anything left."""
    session = g.get("_db_session")
    if session is None:
        session = app_state().db.session_factory()
        g._db_session = session
    return session


def end_read_transaction() -> None:
    """End the request session's transaction when it has only read so far.

    On SQLite every transaction of the request session begins with ``BEGIN IMMEDIATE`` (the
    write lock, see ``dutydesk.core.db``). Left open after the sign-in lookup, it would hold that
    lock for the whole request: the worker's writes would wait for the page to render, and any
    read through another connection in the same request would wait for its own request. Loaded
    objects stay usable (``expire_on_commit=False``); the next use begins a new transaction.
    Raises ``RuntimeError`` when the session holds changes: those are the view's to commit.
    """
    session = g.get("_db_session")
    if session is None or not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the request session holds unsaved changes; commit or roll back")
    session.commit()


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("_db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def principal() -> Principal:
    return g.get("principal", ANONYMOUS)


def is_api_request() -> bool:
    return request.path.startswith(("/api/", "/v2/"))


def role_refusal(minimum: Role, current: Role) -> str:
    """Why ``current`` is refused where ``minimum`` is needed: English keys for API clients (as
    every API error), the roles' translated labels for people on the screens."""
    if is_api_request():
        return f"this needs the {minimum.value} role or higher; you are {current.value}"
    from flask_babel import gettext

    from dutydesk.labels import label  # imports the whole domain: not at start-up of this module

    return gettext(
        "This needs the %(role)s role or higher; you are %(current)s.",
        role=label(minimum, "role"),
        current=label(current, "role"),
    )


def require_role(minimum: Role) -> Callable[[F], F]:
    """Decorator: anonymous → login page (HTML) or 401 (API); too weak a role → 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who = principal()
            if not who.authenticated:
                if is_api_request():
                    raise ApiError(
                        401,
                        "authentication required: send 'Authorization: Bearer <token>'",
                    )
                target = request.full_path if request.query_string else request.path
                return redirect("/login?" + urlencode({"next": target}))
            if not who.can(minimum):
                raise ApiError(403, role_refusal(minimum, who.role))
            return view(*args, **kwargs)

        wrapper._dutydesk_min_role = minimum  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
