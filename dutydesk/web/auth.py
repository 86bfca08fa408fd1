"""Signing in and out: password login with throttling, kiosk links, bearer tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

from flask import Blueprint, current_app, g, redirect, render_template, request, session
from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from dutydesk.context import (
    app_state,
    db_session,
    end_read_transaction,
    is_api_request,
    principal,
    settings,
)
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.security import (
    ANONYMOUS,
    Principal,
    digest_secret,
    throttle_retry_after,
    verify_login,
)
from dutydesk.errors import ApiError
from dutydesk.models import ApiToken, KioskLink, LoginFailure, Role, User

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

# Token "last used" is written at most this often, so a busy integration does not turn every
# request into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def load_principal() -> None:
    """Work out who makes this request and put it on ``g.principal``; the lookup's read
    transaction is ended (see :func:`dutydesk.context.end_read_transaction`)."""
    _load_principal()
    end_read_transaction()


def _load_principal() -> None:
    g.principal = ANONYMOUS
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            if is_api_request():
                raise ApiError(401, "unsupported Authorization header: use 'Bearer <token>'")
            return
        g.principal = _principal_from_token(credentials.strip())
        return
    if "uid" in session:
        user = db_session().get(User, session["uid"])
        if user is not None and user.active and session.get("sv") == user.session_version:
            g.principal = Principal(kind="user", role=user.role, label=user.email, user=user)
        else:
            session.clear()
    elif "kiosk" in session:
        link = db_session().get(KioskLink, session["kiosk"])
        if link is not None and link.active:
            g.principal = Principal(
                kind="kiosk", role=Role.VIEWER, label=f"kiosk:{link.name}", kiosk_id=link.id
            )
        else:
            session.clear()


def accepts_integration_key(view: F) -> F:
    """Mark an alert receiver whose Bearer credential is an integration key, not an API token.

    Only such a view ever sees a request that carries an integration key: everywhere else the
    key is refused (403, saying what it is), so an Alertmanager key can post alerts
    to its receiver and read nothing. The view authenticates the key itself.
    """
    view._dutydesk_integration_key = True  # type: ignore[attr-defined]
    return view


def _principal_from_token(plaintext: str) -> Principal:
    s = db_session()
    token = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest_secret(plaintext)))
    if token is None or not token.active:
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, "_dutydesk_integration_key", False):
            return ANONYMOUS  # perhaps an integration key: the receiver checks it
        from dutydesk.incidents.integrations import find_active_key

        integration = find_active_key(s, plaintext)
        if integration is not None:
            raise ApiError(
                403,
                f"this is the key of the {integration.type} integration {integration.name!r}: it "
                "only delivers alerts to its receiver; use an API token for the API",
            )
        raise ApiError(401, "invalid or revoked API token")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        token.last_used_at = now
        s.commit()
    return Principal(kind="token", role=token.role, label=f"token:{token.name}", token_id=token.id)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: an open redirect would make phishing links look like ours."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _throttle_keys(email: str) -> list[str]:
    return [f"email:{email}", f"ip:{request.remote_addr or 'unknown'}"]


def _login_retry_after(email: str) -> int | None:
    cfg = settings()
    window = timedelta(seconds=cfg.login_window_seconds)
    now = utcnow()
    s = db_session()
    worst: int | None = None
    for key in _throttle_keys(email):
        times = list(
            s.scalars(
                select(LoginFailure.at).where(
                    LoginFailure.key == key, LoginFailure.at > now - window
                )
            )
        )
        wait = throttle_retry_after(times, now, cfg.login_max_failures, window)
        if wait is not None and (worst is None or wait > worst):
            worst = wait
    return worst


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if principal().kind == "user":
            return redirect(next_url)
        return render_template("auth/login.html", next=next_url, email="")

    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    state = app_state()
    wait = _login_retry_after(email)
    if wait is not None:
        state.metrics.login_throttled.inc()
        message = _(
            "Too many failed sign-in attempts. Try again in %(seconds)s seconds.", seconds=wait
        )
        return (
            render_template("auth/login.html", next=next_url, email=email, error=message),
            429,
            {"Retry-After": str(wait)},
        )

    s = db_session()
    user = s.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    from dutydesk.web.auth_ldap import directory_login

    directory = directory_login(s, email, password, user, settings().ldap, utcnow())
    if directory is not None:
        user = directory.user  # None: refused by the directory (or it is down)
    if directory is None and not verify_login(user, password):
        user = None
    if user is None:
        for key in _throttle_keys(email):
            s.add(LoginFailure(key=key, at=utcnow()))
        s.commit()
        state.metrics.login_failures.inc()
        message = (directory.message if directory else "") or _(
            "Wrong email or password, or the account is disabled."
        )
        return (
            render_template("auth/login.html", next=next_url, email=email, error=message),
            directory.status if directory else 401,
        )

    s.execute(delete(LoginFailure).where(LoginFailure.key == f"email:{email}"))
    from dutydesk.web.twofactor import second_step

    if (step := second_step(user, next_url)) is not None:
        s.commit()
        return step  # the password was right; a code (or enrolment) comes next
    return start_session(user, next_url)


def start_session(user: User, next_url: str, *, how: str = "") -> Any:
    """Sign ``user`` in (every factor checked): record it, start a fresh session, redirect."""
    s = db_session()
    user.last_login_at = utcnow()
    who = Principal(kind="user", role=user.role, label=user.email, user=user)
    audit.record(s, who, "login", "user", user.id, summary=f"{user.email} signed in{how}")
    s.commit()
    session.clear()  # a fresh session on privilege change (prevents session fixation)
    session.permanent = True
    session["uid"] = user.id
    session["sv"] = user.session_version
    return redirect(next_url)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    who = principal()
    if who.authenticated:
        s = db_session()
        audit.record(s, who, "logout", who.kind, who.user_id or who.kiosk_id)
        s.commit()
    session.clear()
    return redirect("/login")


@bp.route("/kiosk/<token>")
def kiosk(token: str) -> Any:
    """Sign a wall screen in as ``viewer`` from a revocable link (no password typed)."""
    s = db_session()
    link = s.scalar(select(KioskLink).where(KioskLink.token_hash == digest_secret(token)))
    if link is None or not link.active:
        raise ApiError(403, _("This kiosk link is not valid or has been revoked."))
    link.last_used_at = utcnow()
    s.commit()
    session.clear()
    session.permanent = True
    session["kiosk"] = link.id
    return redirect(_safe_next(request.args.get("next")) if request.args.get("next") else "/")
