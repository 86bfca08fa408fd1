"""Signing in and out: passwords, throttling, CSRF, sessions, kiosk links."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dutydesk import accounts
from dutydesk.core.db import Database
from dutydesk.models import AuditEntry, KioskLink, Role

from ..conftest import PASSWORD, csrf_from, form_token, login, make_user


def test_engineer_signs_in_and_lands_on_the_home_page(client: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER, name="Ivan Petrenko")
    response = login(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Ivan Petrenko" in page
    assert "engineer" in page


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: Any, db: Database
) -> None:
    user = make_user(db, Role.ENGINEER)
    response = login(client, user.email, "not the password")
    assert response.status_code == 401
    assert "Wrong email or password" in response.get_data(as_text=True)
    unknown = login(client, "nobody@dc.example", "whatever123")
    assert unknown.status_code == 401
    assert client.get("/").status_code == 302  # still anonymous


def test_passwords_are_stored_as_scrypt_hashes(db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash


def test_repeated_failures_throttle_further_attempts_even_with_the_right_password(
    client: Any, db: Database
) -> None:
    user = make_user(db, Role.ENGINEER)
    for _attempt in range(5):
        assert login(client, user.email, "wrong password!").status_code == 401
    throttled = login(client, user.email, PASSWORD)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Too many failed sign-in attempts" in throttled.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_a_successful_login_clears_earlier_failures_for_that_account(
    client: Any, db: Database
) -> None:
    from dutydesk.models import LoginFailure

    user = make_user(db, Role.ENGINEER)
    for _attempt in range(3):
        login(client, user.email, "wrong password!")
    with db.session() as s:
        assert s.scalar(select(LoginFailure.id).where(LoginFailure.key == f"email:{user.email}"))
    assert login(client, user.email).status_code == 302
    with db.session() as s:
        left = s.scalar(select(LoginFailure.id).where(LoginFailure.key == f"email:{user.email}"))
    assert left is None


def test_a_form_without_csrf_token_is_refused_and_changes_nothing(
    signed_in: Any, db: Database
) -> None:
    admin = signed_in(Role.ADMIN)
    response = admin.post(
        "/admin/users/new",
        data={"email": "new@dc.example", "password": "long enough pw", "role": "engineer"},
    )
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    with db.session() as s:
        assert (
            s.scalar(
                select(AuditEntry)
                .where(AuditEntry.action == "user.create")
                .where(AuditEntry.summary.contains("new@dc.example"))
            )
            is None
        )


def test_login_form_itself_requires_csrf(client: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400


def test_logout_ends_the_session(signed_in: Any) -> None:
    client = signed_in(Role.ENGINEER)
    token = form_token(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_disabling_a_user_signs_them_out_everywhere(signed_in: Any, db: Database) -> None:
    client = signed_in(Role.ENGINEER)
    with db.session() as s:
        user = s.get(type(client.user), client.user.id)
        accounts.update_user(s, "test", user, active=False)
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_next_parameter_cannot_redirect_to_another_site(client: Any, db: Database) -> None:
    user = make_user(db, Role.ENGINEER)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/phish",
        },
    )
    assert response.headers["Location"] == "/"


def test_kiosk_link_signs_a_wall_screen_in_as_viewer_without_a_password(
    client: Any, db: Database
) -> None:
    with db.session() as s:
        _link, plaintext = accounts.create_kiosk_link(s, "test", name="Hall A wall")
    response = client.get(f"/kiosk/{plaintext}")
    assert response.status_code == 302
    landing = client.get("/")
    assert landing.status_code == 302 and landing.headers["Location"].endswith("/wall")
    me = client.get("/api/v1/me").get_json()
    assert me == {"kind": "kiosk", "label": "kiosk:Hall A wall", "role": "viewer"}
    assert client.get("/wall").status_code == 200
    assert client.get("/admin/users").status_code == 403


def test_revoking_a_kiosk_link_signs_its_screens_out(client: Any, db: Database) -> None:
    with db.session() as s:
        link, plaintext = accounts.create_kiosk_link(s, "test", name="Hall B wall")
    client.get(f"/kiosk/{plaintext}")
    assert client.get("/wall").status_code == 200
    with db.session() as s:
        accounts.revoke_kiosk_link(s, "test", s.get(KioskLink, link.id))
    signed_out = client.get("/wall")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    assert client.get(f"/kiosk/{plaintext}").status_code == 403


def test_an_unknown_kiosk_token_is_refused(client: Any) -> None:
    assert client.get("/kiosk/kiosk_deadbeef_not-a-real-token").status_code == 403
