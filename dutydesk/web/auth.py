"""Signing in and out: password login with throttling, kiosk links, bearer tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

from flask import Blueprint, current_app, g, redirect, render_template, request, session
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, distinct, func, select
from sqlalchemy.orm import Session

from dutydesk import accounts
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
from dutydesk.core.security import ANONYMOUS, Principal, digest_secret, verify_login
from dutydesk.errors import ApiError
from dutydesk.models import ApiToken, KioskLink, LoginFailure, Role, User
from dutydesk.signin_guard import Failures, SigninPolicy, verdict

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

# Token "last used" is written at most this often, so a busy integration does not turn every
# request into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


#: What a kiosk screen may open: the wall, its live feed, static files, and signing in or out
#: (the home page only redirects a kiosk to the wall). Everything else answers 403, so a kiosk
#: link that leaks reads the wall and nothing more.
KIOSK_ENDPOINTS = frozenset({
    "wall.wall", "wall.events", "static", "home.index", "auth.login", "auth.logout", "auth.kiosk",
})


def load_principal() -> None:
    """Work out who makes this request and put it on ``g.principal``; the lookup's read
    transaction is ended (see :func:`dutydesk.context.end_read_transaction`).

    Raises ``ApiError(403)`` when a kiosk screen asks for anything but the wall.
    """
    _load_principal()
    end_read_transaction()
    if g.principal.kind == "kiosk" and request.endpoint not in KIOSK_ENDPOINTS:
        raise ApiError(403, _("A kiosk screen shows the monitoring wall only."))


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
        s = db_session()
        user = s.get(User, session["uid"])
        if (user is not None and user.active and session.get("sv") == user.session_version
                and accounts.session_alive(s, user.id, session.get("sid"), utcnow(),
                                           session_max_age())):
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


def session_max_age() -> timedelta:
    return timedelta(hours=settings().session_lifetime_hours)


def sign_in_here(user: User) -> None:
    """Make this browser's session a fresh one for ``user`` (a new server-side session row;
    the caller commits)."""
    sid = accounts.start_session(db_session(), user, utcnow(), session_max_age())
    session.clear()  # a fresh session on privilege change (prevents session fixation)
    session.permanent = True
    session["uid"] = user.id
    session["sv"] = user.session_version
    session["sid"] = sid


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


DEVICE_COOKIE = "dd_device"
_DEVICE_MAX_AGE = 365 * 24 * 3600


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="dutydesk-signin-device")


def _device_id(email: str) -> str | None:
    """The id of this browser's device cookie when it was issued for ``email``, else None."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _device_serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("e") != email or not isinstance(data.get("d"), str):
        return None
    return data["d"]


def _key(text: str) -> str:
    return text[:300]  # the column's size; an address and an email fit


def _recent(s: Session, key: str, since: datetime) -> list[datetime]:
    return list(s.scalars(select(LoginFailure.at).where(LoginFailure.key == _key(key),
                                                        LoginFailure.at > since)))


def _failures(s: Session, address: str, email: str, device: str | None,
              since: datetime) -> Failures:
    accounts_failed = s.scalar(select(func.count(distinct(LoginFailure.key))).where(
        LoginFailure.key.startswith(_key(f"pair:{address}|"), autoescape=True),
        LoginFailure.at > since)) or 0
    return Failures(
        pair=_recent(s, f"pair:{address}|{email}", since),
        account=_recent(s, f"email:{email}", since),
        device=_recent(s, f"device:{device}", since) if device else (),
        unknown_accounts_from_address=_recent(s, f"unknown:{address}", since),
        accounts_failed_from_address=accounts_failed,
    )


def _failure_keys(address: str, email: str, exists: bool, device: str | None) -> list[str]:
    keys = [f"pair:{address}|{email}"]
    if device:
        keys.append(f"device:{device}")
    elif exists:
        keys.append(f"email:{email}")
    if not exists:
        keys.append(f"unknown:{address}")
    return keys


def _throttled(next_url: str, email: str, wait: int) -> Any:
    app_state().metrics.login_throttled.inc()
    message = _("Too many failed sign-in attempts. Try again in %(seconds)s seconds.",
                seconds=wait)
    return (render_template("auth/login.html", next=next_url, email=email, error=message),
            429, {"Retry-After": str(wait)})


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if principal().kind == "user":
            return redirect(next_url)
        return render_template("auth/login.html", next=next_url, email="")

    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    cfg = settings()
    policy = SigninPolicy(cfg.login_max_failures, timedelta(seconds=cfg.login_window_seconds))
    now = utcnow()
    address = request.remote_addr or "unknown"  # the client's, past trusted proxies (app.py)
    device = _device_id(email)
    s = db_session()
    decision = verdict(_failures(s, address, email, device, now - policy.window), now, policy,
                       trusted_device=device is not None)
    if decision.refuse_all is not None:
        return _throttled(next_url, email, decision.refuse_all)

    user = s.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    known = user is not None
    from dutydesk.web.auth_ldap import directory_login

    directory = directory_login(s, email, password, user, cfg.ldap, now)
    if directory is not None and directory.requester is not None:
        from dutydesk.web.requests_help import sign_in_requester

        done = [f"device:{device}"] if device else [f"email:{email}", f"pair:{address}|{email}"]
        s.execute(delete(LoginFailure).where(LoginFailure.key.in_([_key(k) for k in done])))
        return sign_in_requester(directory.requester, "the directory", next_url)
    if directory is not None:
        user = directory.user  # None: refused by the directory (or it is down)
    if directory is None and not verify_login(user, password):
        user = None
    if user is None:
        for key in _failure_keys(address, email, known, device):
            s.add(LoginFailure(key=_key(key), at=now))
        s.commit()
        app_state().metrics.login_failures.inc()
        if decision.refuse_failure is not None:
            return _throttled(next_url, email, decision.refuse_failure)
        message = (directory.message if directory else "") or _(
            "Wrong email or password, or the account is disabled."
        )
        return (
            render_template("auth/login.html", next=next_url, email=email, error=message),
            directory.status if directory else 401,
        )

    # a known browser clears its own count; the account's stays while it is under attack
    done = [f"device:{device}"] if device else [f"email:{email}", f"pair:{address}|{email}"]
    s.execute(delete(LoginFailure).where(LoginFailure.key.in_([_key(k) for k in done])))
    from dutydesk.web.twofactor import second_step

    if (step := second_step(user, next_url)) is not None:
        s.commit()
        return step  # the password was right; a code (or enrolment) comes next
    return start_session(user, next_url)


def start_session(user: User, next_url: str, *, how: str = "") -> Any:
    """Sign ``user`` in (every factor checked): record it, start a fresh server-side session,
    mark this browser as known for the account, redirect."""
    s = db_session()
    user.last_login_at = utcnow()
    who = Principal(kind="user", role=user.role, label=user.email, user=user)
    audit.record(s, who, "login", "user", user.id, summary=f"{user.email} signed in{how}")
    sign_in_here(user)
    s.commit()
    email = user.email.lower()
    device = _device_id(email)
    response = redirect(next_url)
    # this browser is now known for this account: an attack on the account will not lock it out
    response.set_cookie(
        DEVICE_COOKIE, _device_serializer().dumps({"e": email, "d": device or uuid.uuid4().hex}),
        max_age=_DEVICE_MAX_AGE, httponly=True, samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"], path="/login")
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    who = principal()
    if who.authenticated:
        s = db_session()
        audit.record(s, who, "logout", who.kind, who.user_id or who.kiosk_id)
        accounts.end_session(s, session.get("sid"))  # a copy of this cookie stops working too
        s.commit()
    from dutydesk.web.auth_oidc import ID_TOKEN_KEY, end_session_url

    provider_logout = end_session_url(session.get(ID_TOKEN_KEY))
    session.clear()
    return redirect(provider_logout or "/login")


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
