"""Signing out ends the session on the server: a cookie copied before sign-out is refused after
it; a person (or an admin for them) signs out everywhere; a password change ends the others."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dutydesk.core.db import Database
from dutydesk.models import AuditEntry, Role

from ..conftest import PASSWORD, form_token, login, make_user

COOKIE = "session"


def copy_cookie(source: Any, target: Any) -> None:
    """What a thief does with a stolen cookie: put it into another browser."""
    value = source.get_cookie(COOKIE).value
    target.set_cookie(COOKIE, value)


def signed_in_as_me(client: Any) -> bool:
    return client.get("/account").status_code == 200


def test_a_cookie_copied_before_sign_out_does_not_work_after(app: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    browser, thief = app.test_client(), app.test_client()
    login(browser, user.email)
    copy_cookie(browser, thief)
    assert signed_in_as_me(thief)  # a copy works while the session lives...
    browser.post("/logout", data={"csrf_token": form_token(browser)})
    assert not signed_in_as_me(browser)
    assert not signed_in_as_me(thief)  # ...and not after sign-out


def test_signing_out_one_browser_keeps_the_others(app: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user.email)
    login(phone, user.email)
    laptop.post("/logout", data={"csrf_token": form_token(laptop)})
    assert signed_in_as_me(phone)


def test_sign_out_everywhere_ends_every_session_of_the_person(app: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user.email)
    login(phone, user.email)
    answer = laptop.post("/account/sign-out-everywhere",
                         data={"csrf_token": form_token(laptop, "/account")})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    assert not signed_in_as_me(laptop) and not signed_in_as_me(phone)
    with db.session() as s:
        assert s.scalar(select(AuditEntry.action).where(
            AuditEntry.action == "user.sign_out_everywhere")) is not None


def test_an_admin_signs_a_person_out_everywhere(app: Any, db: Database, signed_in: Any) -> None:
    user = make_user(db, Role.ENGINEER)
    stolen_laptop = app.test_client()
    login(stolen_laptop, user.email)
    admin = signed_in(Role.ADMIN)
    answer = admin.post(f"/admin/users/{user.id}/sign-out",
                        data={"csrf_token": form_token(admin, f"/admin/users/{user.id}")})
    assert answer.status_code == 302
    assert not signed_in_as_me(stolen_laptop)
    assert signed_in_as_me(admin)
    engineer = signed_in(Role.ENGINEER)
    refused = engineer.post(f"/admin/users/{user.id}/sign-out",
                            data={"csrf_token": form_token(engineer)})
    assert refused.status_code == 403


def test_a_password_change_ends_the_other_sessions_but_not_this_one(
    app: Any, db: Database
) -> None:
    user = make_user(db, Role.ENGINEER)
    here, elsewhere = app.test_client(), app.test_client()
    login(here, user.email)
    login(elsewhere, user.email)
    answer = here.post("/account", data={
        "csrf_token": form_token(here, "/account"), "name": "Ivan",
        "current_password": PASSWORD, "new_password": "a brand new passphrase"})
    assert answer.status_code == 302
    assert signed_in_as_me(here)
    assert not signed_in_as_me(elsewhere)
    assert login(elsewhere, user.email, "a brand new passphrase").status_code == 302


def test_housekeeping_drops_expired_sessions_and_keeps_live_ones(
    db: Database, settings: Any
) -> None:
    from datetime import timedelta

    from dutydesk import accounts
    from dutydesk.core.db import utcnow
    from dutydesk.models import User, UserSession
    from dutydesk.worker import prune_housekeeping

    user = make_user(db, Role.ENGINEER)
    lifetime = timedelta(hours=settings.session_lifetime_hours)
    with db.session() as s:
        me = s.get(User, user.id)
        live = accounts.start_session(s, me, utcnow(), lifetime)
        s.add(UserSession(user_id=me.id, token_hash="0" * 64,
                          created_at=utcnow() - lifetime - timedelta(minutes=1)))
        s.commit()
    prune_housekeeping(db, settings)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(UserSession)) == 1
        assert accounts.session_alive(s, user.id, live, utcnow(), lifetime)
