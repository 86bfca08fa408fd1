"""Two-factor sign-in screens: the second step after the password, enrolment with a QR code,
recovery codes, and an admin's reset.

After a right password, :func:`second_step` (called by the login view) parks the user in a
short-lived *pending* session (no privileges) and sends them to ``/login/code`` — or, when their
role must use two-factor and they have none yet, to ``/login/setup``. Only when the code is
right does :func:`dutydesk.web.auth.start_session` sign them in.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import delete, select

from dutydesk.context import app_state, db_session, principal, require_role, settings
from dutydesk.core import audit
from dutydesk.core import twofactor as tf
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.models import LoginFailure, Role, User
from dutydesk.signin_guard import backoff_wait

bp = Blueprint("twofactor", __name__)
log = logging.getLogger("dutydesk.auth")

# Between the password and the code: long enough to unlock a phone, short enough that a
# forgotten half-signed-in browser is worthless.
PENDING_SECONDS = 300


# ------------------------------------------------------------------------- helpers


def _required(user: User) -> bool:
    return tf.required_for(user.role, tf.parse_required(settings().two_factor_required))


def second_step(user: User, next_url: str) -> Any | None:
    """After a right password: a redirect to the code (or enrolment) step, or ``None`` when the
    user signs in with the password alone."""
    s = db_session()
    enabled = tf.is_enabled(s, user)
    if not enabled and not _required(user):
        return None
    session.clear()
    session["2fa_uid"] = user.id
    session["2fa_sv"] = user.session_version
    session["2fa_at"] = int(time.time())
    session["2fa_next"] = next_url
    return redirect(url_for("twofactor.code" if enabled else "twofactor.setup"))


def _pending_user() -> User | None:
    uid, started = session.get("2fa_uid"), session.get("2fa_at", 0)
    if uid is None:
        return None
    user = db_session().get(User, uid)
    fresh = time.time() - started < PENDING_SECONDS
    same_version = user is not None and session.get("2fa_sv") == user.session_version
    if user is None or not user.active or not same_version or not fresh:
        session.clear()
        return None
    return user


def _back_to_login() -> Any:
    flash(_("The sign-in took too long or was interrupted. Please sign in again."), "error")
    return redirect(url_for("auth.login"))


def _finish(user: User, how: str) -> Any:
    from dutydesk.web.auth import start_session

    next_url = session.get("2fa_next") or "/"
    return start_session(user, next_url, how=how)


def _throttle_keys(user: User) -> list[str]:
    """Wrong codes count against the account only: the password was already right, and an
    address shared behind a proxy must not lock other people out (``dutydesk.signin_guard``)."""
    return [f"2fa:{user.id}"]


def _retry_after(user: User) -> int | None:
    cfg = settings()
    window = timedelta(seconds=cfg.login_window_seconds)
    now = utcnow()
    worst: int | None = None
    for key in _throttle_keys(user):
        times = list(
            db_session().scalars(
                select(LoginFailure.at).where(
                    LoginFailure.key == key, LoginFailure.at > now - window
                )
            )
        )
        wait = backoff_wait(times, now, cfg.login_max_failures, window)
        if wait is not None and (worst is None or wait > worst):
            worst = wait
    return worst


def _record_failure(user: User, what: str) -> None:
    s = db_session()
    for key in _throttle_keys(user):
        s.add(LoginFailure(key=key, at=utcnow()))
    s.commit()
    app_state().metrics.login_failures.inc()
    log.warning("second factor refused for user %s: %s", user.id, what)


def qr_svg(uri: str) -> Markup:
    """The ``otpauth://`` URI as an inline SVG QR code (drawn here: no script, no third party)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title=_("QR code for your authenticator app")
    )
    return Markup(svg.replace("<svg ", '<svg role="img" aria-labelledby="qr-caption" ', 1))


def _spaced(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# ------------------------------------------------------------------------- sign-in steps


@bp.route("/login/code", methods=["GET", "POST"])
def code() -> Any:
    user = _pending_user()
    if user is None:
        return _back_to_login()
    s = db_session()
    if not tf.is_enabled(s, user):
        return redirect(url_for("twofactor.setup"))
    if request.method == "GET":
        return render_template("auth/code.html")
    wait = _retry_after(user)
    if wait is not None:
        app_state().metrics.login_throttled.inc()
        message = _("Too many wrong codes. Try again in %(seconds)s seconds.", seconds=wait)
        return render_template("auth/code.html", error=message), 429, {"Retry-After": str(wait)}
    typed = request.form.get("code", "")
    now = utcnow()
    left: int | None = None
    if tf.accept_code(s, user, typed, settings().secret_key, now):
        how = ""
    elif tf.use_recovery_code(s, user, typed, now):
        how = " with a recovery code"
        left = tf.recovery_codes_left(s, user)
    else:
        s.rollback()
        _record_failure(user, "wrong, expired or already used code")
        message = _("That code is wrong, expired or already used. Type the current code.")
        return render_template("auth/code.html", error=message), 401
    s.execute(delete(LoginFailure).where(LoginFailure.key == f"2fa:{user.id}"))
    response = _finish(user, how)
    if left is not None:  # flashed into the new session (signing in starts a fresh one)
        flash(
            _("You used a recovery code; %(left)s left. Make new ones on your account page.",
              left=left),
            "ok",
        )
    return response


@bp.route("/login/setup", methods=["GET", "POST"])
def setup() -> Any:
    """Enrolment during sign-in, for a user whose role must use two-factor and has none yet."""
    user = _pending_user()
    if user is None:
        return _back_to_login()
    s = db_session()
    if tf.is_enabled(s, user):
        return redirect(url_for("twofactor.code"))
    return _enrol(user, s, on_done=lambda codes: _finish_with_codes(user, codes))


def _finish_with_codes(user: User, codes: list[str]) -> Any:
    next_url = session.get("2fa_next") or "/"
    _finish(user, " and set up two-factor sign-in")  # signed in; the codes are shown once
    return render_template("auth/recovery_codes.html", codes=codes, continue_url=next_url)


def _enrol(user: User, s: Any, on_done: Any) -> Any:
    """Show the QR code of a pending enrolment (starting one if needed); on POST confirm it."""
    key = settings().secret_key
    now = utcnow()
    pending = tf.pending_secret(s, user, key)
    if request.method == "POST" and pending is not None:
        wait = _retry_after(user)
        if wait is not None:
            message = _("Too many wrong codes. Try again in %(seconds)s seconds.", seconds=wait)
            return _enrol_page(pending, message), 429, {"Retry-After": str(wait)}
        try:
            codes = tf.confirm(s, user, request.form.get("code", ""), key, now)
        except ValueError:
            s.rollback()
            _record_failure(user, "wrong code while confirming enrolment")
            message = _("That code is wrong or expired. Type the code your app shows now.")
            return _enrol_page(pending, message), 401
        audit.record(s, user.email, "two_factor_on", "user", user.id,
                     summary=f"{user.email} turned on two-factor sign-in")
        s.commit()
        return on_done(codes)
    if pending is None or request.form.get("restart"):
        pending = tf.start_enrolment(s, user, key, now)
        s.commit()
    return _enrol_page(pending)


def _enrol_page(pending: tf.Enrolment, error: str | None = None) -> str:
    return render_template(
        "auth/setup.html", qr=qr_svg(pending.uri), secret=_spaced(pending.secret), error=error
    )


# ------------------------------------------------------------------------- own account


@bp.route("/account/two-factor", methods=["GET", "POST"])
@require_role(Role.VIEWER)
def account() -> Any:
    user = principal().user
    if user is None:
        raise ApiError(403, _("Kiosk screens have no account settings."))
    s = db_session()
    if not tf.is_enabled(s, user):
        if request.method == "GET" and tf.pending_secret(s, user, settings().secret_key) is None:
            return render_template(
                "account/two_factor.html", enabled=False, required=_required(user)
            )
        return _enrol(
            user, s, on_done=lambda codes: render_template(
                "auth/recovery_codes.html", codes=codes, continue_url=url_for("twofactor.account")
            ),
        )
    left = tf.recovery_codes_left(s, user)
    return render_template(
        "account/two_factor.html", enabled=True, required=_required(user), left=left
    )


@bp.route("/account/two-factor/<action>", methods=["POST"])
@require_role(Role.VIEWER)
def account_change(action: str) -> Any:
    """``recovery-codes`` (new set) or ``off``: both need a current code from the app."""
    user = principal().user
    if user is None or action not in ("recovery-codes", "off"):
        abort(404)
    s = db_session()
    if not tf.is_enabled(s, user):
        flash(_("Two-factor sign-in is off."), "error")
        return redirect(url_for("twofactor.account"))
    if action == "off" and _required(user):
        raise ApiError(403, _("Your role must use two-factor sign-in; it cannot be turned off."))
    wait = _retry_after(user)
    if wait is not None:
        raise ApiError(429, _("Too many wrong codes. Try again in %(seconds)s seconds.",
                              seconds=wait))
    if not tf.accept_code(s, user, request.form.get("code", ""), settings().secret_key, utcnow()):
        s.rollback()
        _record_failure(user, f"wrong code for {action}")
        flash(_("That code is wrong, expired or already used; nothing was changed."), "error")
        return redirect(url_for("twofactor.account"))
    who = principal()
    if action == "off":
        tf.remove(s, user)
        audit.record(s, who, "two_factor_off", "user", user.id,
                     summary=f"{user.email} turned off two-factor sign-in")
        s.commit()
        flash(_("Two-factor sign-in is off."), "ok")
        return redirect(url_for("twofactor.account"))
    codes = tf.replace_recovery_codes(s, user, utcnow())
    audit.record(s, who, "recovery_codes_new", "user", user.id,
                 summary=f"{user.email} made new recovery codes")
    s.commit()
    return render_template(
        "auth/recovery_codes.html", codes=codes, continue_url=url_for("twofactor.account")
    )


# ------------------------------------------------------------------------- admin


@bp.route("/admin/users/<int:user_id>/two-factor/reset", methods=["POST"])
@require_role(Role.ADMIN)
def admin_reset(user_id: int) -> Any:
    """Remove a user's second factor (lost phone); they set it up again at next sign-in if
    their role requires it. Audited."""
    s = db_session()
    user = s.get(User, user_id) or abort(404, _("No such user."))
    if not tf.remove(s, user):
        flash(_("%(email)s has no two-factor sign-in to reset.", email=user.email), "error")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    audit.record(s, principal(), "two_factor_reset", "user", user.id,
                 summary=f"two-factor sign-in of {user.email} reset")
    s.commit()
    flash(_("Two-factor sign-in of %(email)s was reset.", email=user.email), "ok")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.app_context_processor
def _two_factor_helpers() -> dict[str, Any]:
    def two_factor_enabled(user: User) -> bool:
        return tf.is_enabled(db_session(), user)

    return {"two_factor_enabled": two_factor_enabled}
