"""Admin screens: people, tokens, kiosk links and the audit log, as an admin uses them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.models import Role, User

from ..conftest import form_token, make_user


def test_admin_adds_an_engineer_from_the_users_page(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    response = admin.post(
        "/admin/users/new",
        data={
            "email": "Maria@DC.example",
            "name": "Maria",
            "role": "engineer",
            "password": "a long password",
            "csrf_token": form_token(admin, "/admin/users"),
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "User maria@dc.example created." in page
    with db.session() as s:
        assert s.scalar(select(User.role).where(User.email == "maria@dc.example")) is Role.ENGINEER


def test_a_duplicate_email_is_refused_with_a_message(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    existing = make_user(db, Role.ENGINEER)
    response = admin.post(
        "/admin/users/new",
        data={
            "email": existing.email.upper(),
            "role": "viewer",
            "password": "a long password",
            "csrf_token": form_token(admin, "/admin/users"),
        },
        follow_redirects=True,
    )
    assert "already exists" in response.get_data(as_text=True)


def test_token_page_shows_the_secret_once(signed_in: Any) -> None:
    admin = signed_in(Role.ADMIN)
    created = admin.post(
        "/admin/tokens",
        data={
            "name": "Grafana",
            "role": "viewer",
            "csrf_token": form_token(admin, "/admin/tokens"),
        },
    ).get_data(as_text=True)
    secret = re.search(r'<code class="token">(dd_[^<]+)</code>', created).group(1)
    again = admin.get("/admin/tokens").get_data(as_text=True)
    assert "Grafana" in again
    assert secret not in again


def test_audit_page_filters_by_action(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    make_user(db, Role.VIEWER, email="screen@dc.example")
    page = admin.get("/admin/audit?action=user.create").get_data(as_text=True)
    assert "created screen@dc.example as viewer" in page
    assert ">login<" not in page
    logins = admin.get("/admin/audit?action=login").get_data(as_text=True)
    assert "signed in" in logins
    assert "created screen@dc.example" not in logins


def test_audit_page_refuses_a_malformed_date(signed_in: Any) -> None:
    admin = signed_in(Role.ADMIN)
    response = admin.get("/admin/audit?since=yesterday")
    assert response.status_code == 400
    assert "expected YYYY-MM-DD" in response.get_data(as_text=True)


def test_a_person_changes_their_own_language_and_zone(signed_in: Any, db: Database) -> None:
    engineer = signed_in(Role.ENGINEER)
    response = engineer.post(
        "/account",
        data={
            "name": "Ivan",
            "language": "uk",
            "timezone": "Europe/Kyiv",
            "csrf_token": form_token(engineer, "/account"),
        },
    )
    assert response.status_code == 302
    with db.session() as s:
        user = s.get(User, engineer.user.id)
        assert (user.language, user.timezone) == ("uk", "Europe/Kyiv")
    bad = engineer.post(
        "/account",
        data={"timezone": "Mars/Olympus", "csrf_token": form_token(engineer, "/account")},
        follow_redirects=True,
    )
    assert "unknown time zone" in bad.get_data(as_text=True)
    with db.session() as s:
        assert s.get(User, engineer.user.id).timezone == "Europe/Kyiv"
