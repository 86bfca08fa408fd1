"""Two-factor sign-in for local accounts: enrolment with a QR code, the code step after the
password, recovery codes, replay and guessing refused, required per role, an admin's reset."""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from dutydesk.app import create_app
from dutydesk.core import twofactor as tf
from dutydesk.core.config import ConfigError, Settings, load_settings
from dutydesk.core.db import Database
from dutydesk.models import AuditEntry, RecoveryCode, Role, TwoFactor

from ..conftest import csrf_from, form_token, login, make_user

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


# --------------------------------------------------------------------------- pure decisions


def test_the_current_code_and_one_step_of_clock_drift_either_side_are_accepted() -> None:
    now = datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)
    totp = pyotp.TOTP(SECRET)
    step = int(now.timestamp()) // 30
    assert tf.matching_step(SECRET, totp.at(now), now, None) == step
    assert tf.matching_step(SECRET, totp.at(now.timestamp() - 30), now, None) == step - 1
    assert tf.matching_step(SECRET, totp.at(now.timestamp() + 30), now, None) == step + 1
    # two steps old: the code has expired
    assert tf.matching_step(SECRET, totp.at(now.timestamp() - 60), now, None) is None


def test_a_code_is_not_accepted_twice_nor_an_older_one_after_a_newer() -> None:
    now = datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)
    totp = pyotp.TOTP(SECRET)
    step = int(now.timestamp()) // 30
    assert tf.matching_step(SECRET, totp.at(now), now, last_step=step) is None
    assert tf.matching_step(SECRET, totp.at(now.timestamp() - 30), now, last_step=step) is None
    assert tf.matching_step(SECRET, totp.at(now.timestamp() + 30), now, last_step=step) == step + 1


def test_codes_typed_with_spaces_count_and_letters_never_do() -> None:
    now = datetime(2026, 12, 7, 12, 0, 10, tzinfo=UTC)
    code = pyotp.TOTP(SECRET).at(now)
    assert tf.matching_step(SECRET, f"{code[:3]} {code[3:]}", now, None) is not None
    assert tf.matching_step(SECRET, "12345a", now, None) is None
    assert tf.matching_step(SECRET, "", now, None) is None


def test_recovery_codes_are_ten_different_readable_codes() -> None:
    codes = tf.new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", c) for c in codes)
    assert tf.recovery_digest(codes[0].upper().replace("-", " ")) == tf.recovery_digest(codes[0])


def test_the_secret_is_stored_sealed_and_opens_only_with_the_same_app_key() -> None:
    sealed = tf.seal(SECRET, "key-one" * 5)
    assert SECRET not in sealed
    assert tf.unseal(sealed, "key-one" * 5) == SECRET
    assert tf.unseal(sealed, "key-two" * 5) is None


def test_required_roles_setting_is_all_none_or_a_list_of_roles(tmp_path: Any) -> None:
    base = {"instance_path": str(tmp_path)}
    assert tf.parse_required("") == frozenset()
    assert tf.parse_required("all") == frozenset(Role)
    assert tf.parse_required("admin, shift_lead") == {Role.ADMIN, Role.SHIFT_LEAD}
    loaded = load_settings({**base, "two_factor_required": "Admin"}, environ={})
    assert loaded.two_factor_required == "admin"
    with pytest.raises(ConfigError, match=r"unknown role 'boss'.*viewer, engineer"):
        load_settings({**base, "two_factor_required": "admin,boss"}, environ={})


# --------------------------------------------------------------------------- screens


def _secret_from(page: str) -> str:
    match = re.search(r"<code class=\"token\" data-secret>([A-Z2-7 ]+)</code>", page)
    assert match, "no key for manual entry on the page"
    return match.group(1).replace(" ", "")


def _enrol(client: Any) -> tuple[pyotp.TOTP, list[str]]:
    """Set up two-factor from the account page; returns the app's TOTP and the recovery codes."""
    page = client.post(
        "/account/two-factor", data={"csrf_token": form_token(client, "/account/two-factor")}
    ).get_data(as_text=True)
    assert "<svg" in page and "QR code for your authenticator app" in page
    totp = pyotp.TOTP(_secret_from(page))
    done = client.post(
        "/account/two-factor", data={"code": totp.now(), "csrf_token": csrf_from(page)}
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z2-9-]{19})</code></li>", done.get_data(as_text=True))
    return totp, codes


def _next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step: the current one was spent confirming (replay refused)."""
    return totp.at(time.time() + 30)


def _code_step(client: Any, code: str) -> Any:
    token = csrf_from(client.get("/login/code").get_data(as_text=True))
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def test_engineer_sets_up_two_factor_and_then_needs_a_code_after_the_password(
    app: Any, db: Database
) -> None:
    user = make_user(db, Role.ENGINEER)
    client = app.test_client()
    login(client, user.email)
    totp, codes = _enrol(client)
    assert len(codes) == 10
    with db.session() as s:
        row = s.get(TwoFactor, user.id)
        assert row is not None and row.confirmed_at is not None
        assert totp.secret not in row.secret  # sealed, not in clear
        stored = [r.code_hash for r in s.scalars(select(RecoveryCode))]
        assert codes[0] not in stored and len(stored) == 10  # hashed

    client.post("/logout", data={"csrf_token": form_token(client)})
    response = login(client, user.email)
    assert response.status_code == 302 and response.headers["Location"] == "/login/code"
    assert client.get("/").status_code == 302  # the password alone signs nobody in

    wrong = _code_step(client, "000000" if _next_code(totp) != "000000" else "111111")
    assert wrong.status_code == 401
    assert "wrong, expired or already used" in wrong.get_data(as_text=True)

    right = _code_step(client, _next_code(totp))
    assert right.status_code == 302
    assert client.get("/").status_code == 200


def test_a_code_once_used_does_not_sign_in_again(app: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    client = app.test_client()
    login(client, user.email)
    totp, _codes = _enrol(client)
    code = _next_code(totp)
    client.post("/logout", data={"csrf_token": form_token(client)})
    login(client, user.email)
    assert _code_step(client, code).status_code == 302

    thief = app.test_client()
    login(thief, user.email)
    replay = _code_step(thief, code)
    assert replay.status_code == 401
    assert thief.get("/").status_code == 302


def test_a_recovery_code_signs_in_once(app: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    client = app.test_client()
    login(client, user.email)
    _totp, codes = _enrol(client)
    client.post("/logout", data={"csrf_token": form_token(client)})

    login(client, user.email)
    used = _code_step(client, codes[3].upper())
    assert used.status_code == 302
    assert "9 left" in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": form_token(client)})

    login(client, user.email)
    assert _code_step(client, codes[3]).status_code == 401
    with db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "login")).all()[-1]
        assert "recovery code" in entry.summary


def test_guessing_codes_is_stopped_after_the_allowed_failures(app: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    client = app.test_client()
    login(client, user.email)
    totp, _codes = _enrol(client)
    client.post("/logout", data={"csrf_token": form_token(client)})
    login(client, user.email)
    wrong = "000000" if _next_code(totp) != "000000" else "111111"
    for _ in range(app.extensions["dutydesk"].settings.login_max_failures):
        assert _code_step(client, wrong).status_code == 401
    blocked = _code_step(client, _next_code(totp))  # even the right code waits now
    assert blocked.status_code == 429
    assert "Too many wrong codes" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) > 0
    assert client.get("/").status_code == 302


@pytest.fixture
def strict_app(settings: Settings, db: Database) -> Any:
    """The app with two-factor required for admins and shift leads."""
    return create_app(
        dataclasses.replace(settings, two_factor_required="admin,shift_lead"), db=db
    )


def test_an_admin_who_must_use_two_factor_sets_it_up_before_being_signed_in(
    strict_app: Any, db: Database
) -> None:
    admin = make_user(db, Role.ADMIN)
    client = strict_app.test_client()
    response = login(client, admin.email)
    assert response.headers["Location"] == "/login/setup"
    assert client.get("/admin/users").status_code == 302  # not signed in yet

    page = client.get("/login/setup").get_data(as_text=True)
    totp = pyotp.TOTP(_secret_from(page))
    bad = client.post("/login/setup", data={"code": "12345", "csrf_token": csrf_from(page)})
    assert bad.status_code == 401 and client.get("/admin/users").status_code == 302
    done = client.post("/login/setup", data={"code": totp.now(), "csrf_token": csrf_from(page)})
    assert done.status_code == 200
    assert "Your recovery codes" in done.get_data(as_text=True)
    assert client.get("/admin/users").status_code == 200

    # required: it cannot be turned off from the account page
    off = client.post(
        "/account/two-factor/off",
        data={"code": _next_code(totp), "csrf_token": form_token(client, "/account/two-factor")},
    )
    assert off.status_code == 403
    with db.session() as s:
        assert tf.is_enabled(s, s.get(type(admin), admin.id))


def test_an_engineer_is_not_asked_for_a_code_when_only_leads_must_use_it(
    strict_app: Any, db: Database
) -> None:
    engineer = make_user(db, Role.ENGINEER)
    client = strict_app.test_client()
    assert login(client, engineer.email).headers["Location"] == "/"


def test_admin_resets_a_lost_phone_and_the_reset_is_audited(
    strict_app: Any, db: Database
) -> None:
    lead = make_user(db, Role.SHIFT_LEAD)
    lead_client = strict_app.test_client()
    login(lead_client, lead.email)
    page = lead_client.get("/login/setup").get_data(as_text=True)
    totp = pyotp.TOTP(_secret_from(page))
    lead_client.post("/login/setup", data={"code": totp.now(), "csrf_token": csrf_from(page)})

    admin_client = strict_app.test_client()
    admin = make_user(db, Role.ADMIN)
    key = strict_app.extensions["dutydesk"].settings.secret_key
    with db.session() as s:  # the admin enrolled earlier; they sign in through the code step
        user = s.get(type(admin), admin.id)
        secret = tf.start_enrolment(s, user, key, datetime.now(UTC)).secret
        tf.confirm(s, user, pyotp.TOTP(secret).now(), key, datetime.now(UTC))
        s.commit()
    login(admin_client, admin.email)
    assert _code_step(admin_client, pyotp.TOTP(secret).at(time.time() + 30)).status_code == 302

    edit = admin_client.get(f"/admin/users/{lead.id}").get_data(as_text=True)
    assert "Two-factor sign-in is on." in edit
    reset = admin_client.post(
        f"/admin/users/{lead.id}/two-factor/reset", data={"csrf_token": csrf_from(edit)}
    )
    assert reset.status_code == 302
    assert "Two-factor sign-in is off." in admin_client.get(f"/admin/users/{lead.id}").get_data(
        as_text=True
    )
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "two_factor_reset"))
        assert entry is not None and entry.actor == admin.email
        assert s.scalar(select(RecoveryCode).where(RecoveryCode.user_id == lead.id)) is None

    # the lead's old app no longer signs in: their role makes them enrol again
    fresh = strict_app.test_client()
    assert login(fresh, lead.email).headers["Location"] == "/login/setup"


def test_the_code_step_without_a_password_first_sends_back_to_sign_in(client: Any) -> None:
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_two_factor_forms_refuse_a_post_without_the_csrf_token(app: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    client = app.test_client()
    login(client, user.email)
    assert client.post("/account/two-factor").status_code == 400
    with db.session() as s:
        assert s.get(TwoFactor, user.id) is None  # nothing started
