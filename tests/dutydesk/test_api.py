"""The JSON API: tokens, users, audit log, pagination, errors, and its OpenAPI document."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from dutydesk.core.db import Database
from dutydesk.models import ApiToken, AuditEntry, Role, User
from dutydesk.openapi import api_rules, openapi_path

from ..conftest import bearer, form_token, make_user


def test_a_token_is_shown_once_and_stored_only_as_a_hash(
    client: Any, api_token: Any, db: Database
) -> None:
    admin = bearer(api_token(Role.ADMIN))
    response = client.post(
        "/api/v1/tokens", headers=admin, json={"name": "Alertmanager", "role": "engineer"}
    )
    assert response.status_code == 201
    secret = response.get_json()["token"]
    assert secret.startswith("dd_")
    with db.session() as s:
        stored = s.scalar(select(ApiToken).where(ApiToken.name == "Alertmanager"))
        assert secret not in (stored.token_hash, stored.prefix)
    listed = client.get("/api/v1/tokens", headers=admin).get_json()["items"]
    assert all("token" not in t for t in listed)
    me = client.get("/api/v1/me", headers=bearer(secret)).get_json()
    assert me == {"kind": "token", "label": "token:Alertmanager", "role": "engineer"}


def test_a_revoked_token_stops_working_at_once(client: Any, api_token: Any) -> None:
    admin = bearer(api_token(Role.ADMIN))
    created = client.post(
        "/api/v1/tokens", headers=admin, json={"name": "old", "role": "viewer"}
    ).get_json()
    assert client.get("/api/v1/me", headers=bearer(created["token"])).status_code == 200
    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=admin).status_code == 204
    refused = client.get("/api/v1/me", headers=bearer(created["token"]))
    assert refused.status_code == 401
    assert "revoked" in refused.get_json()["error"]
    again = client.delete(f"/api/v1/tokens/{created['id']}", headers=admin)
    assert again.status_code == 409


def test_malformed_bodies_get_a_clear_400_and_write_nothing(
    client: Any, api_token: Any, db: Database
) -> None:
    admin = bearer(api_token(Role.ADMIN))
    cases = [
        ({"data": "{not json", "content_type": "application/json"}, "expected a JSON object"),
        ({"json": ["a", "list"]}, "expected a JSON object, got an array"),
        ({"json": {"email": "x@dc.example"}}, "missing field(s): password"),
        ({"json": {"email": "not-an-email", "password": "long enough pw"}}, "not a valid email"),
        ({"json": {"email": "y@dc.example", "password": "short"}}, "at least 10 characters"),
        (
            {"json": {"email": "z@dc.example", "password": "long enough pw", "role": "boss"}},
            "unknown role 'boss'",
        ),
    ]
    with db.session() as s:
        before = s.scalar(select(func.count(User.id)))
    for kwargs, expected in cases:
        response = client.post("/api/v1/users", headers=admin, **kwargs)
        assert response.status_code == 400, expected
        assert expected in response.get_json()["error"], response.get_json()
    with db.session() as s:
        assert s.scalar(select(func.count(User.id))) == before


def test_admin_changes_a_role_and_the_audit_log_has_before_and_after(
    client: Any, api_token: Any, db: Database
) -> None:
    admin = bearer(api_token(Role.ADMIN))
    user = make_user(db, Role.ENGINEER)
    response = client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"role": "shift_lead"})
    assert response.status_code == 200
    assert response.get_json()["role"] == "shift_lead"
    entries = client.get("/api/v1/audit?action=user.update", headers=admin).get_json()["items"]
    assert entries[0]["before"] == {"role": "engineer"}
    assert entries[0]["after"] == {"role": "shift_lead"}
    assert entries[0]["actor"] == "token:t-admin"


def test_the_last_admin_cannot_be_demoted(client: Any, api_token: Any, db: Database) -> None:
    admin = bearer(api_token(Role.ADMIN))
    only_admin = make_user(db, Role.ADMIN)
    response = client.patch(
        f"/api/v1/users/{only_admin.id}", headers=admin, json={"role": "viewer"}
    )
    assert response.status_code == 400
    assert "last active admin" in response.get_json()["error"]
    with db.session() as s:
        assert s.get(User, only_admin.id).role is Role.ADMIN


def test_unknown_fields_in_a_patch_are_refused(client: Any, api_token: Any, db: Database) -> None:
    admin = bearer(api_token(Role.ADMIN))
    user = make_user(db, Role.ENGINEER)
    response = client.patch(f"/api/v1/users/{user.id}", headers=admin, json={"rol": "admin"})
    assert response.status_code == 400
    assert "unknown field(s): rol" in response.get_json()["error"]


def test_user_list_is_paginated_and_filtered(client: Any, api_token: Any, db: Database) -> None:
    admin = bearer(api_token(Role.ADMIN))
    for _n in range(5):
        make_user(db, Role.ENGINEER)
    make_user(db, Role.VIEWER)
    first = client.get("/api/v1/users?role=engineer&per_page=2", headers=admin).get_json()
    assert first["total"] == 5 and first["pages"] == 3 and len(first["items"]) == 2
    third = client.get("/api/v1/users?role=engineer&per_page=2&page=3", headers=admin).get_json()
    assert len(third["items"]) == 1
    assert {u["role"] for u in first["items"] + third["items"]} == {"engineer"}
    bad = client.get("/api/v1/users?per_page=0", headers=admin)
    assert bad.status_code == 400 and "per_page" in bad.get_json()["error"]


def test_audit_api_filters_by_time_window(client: Any, api_token: Any, db: Database) -> None:
    admin = bearer(api_token(Role.ADMIN))
    make_user(db, Role.ENGINEER)
    future = client.get("/api/v1/audit?since=2999-01-01T00:00:00Z", headers=admin).get_json()
    assert future["total"] == 0
    everything = client.get("/api/v1/audit?since=2000-01-01T00:00:00Z", headers=admin).get_json()
    assert everything["total"] >= 2
    naive = client.get("/api/v1/audit?since=2026-01-01T00:00:00", headers=admin)
    assert naive.status_code == 400 and "no UTC offset" in naive.get_json()["error"]


def test_browser_session_api_writes_need_the_csrf_header(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    body = {"name": "from-browser", "role": "viewer"}
    refused = admin.post("/api/v1/tokens", json=body)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    accepted = admin.post("/api/v1/tokens", json=body, headers={"X-CSRFToken": form_token(admin)})
    assert accepted.status_code == 201
    with db.session() as s:
        assert s.scalar(select(func.count(ApiToken.id)).where(ApiToken.name == "from-browser")) == 1


def test_every_api_route_is_described_in_the_openapi_document(
    app: Any, client: Any, api_token: Any
) -> None:
    document = client.get("/api/v1/openapi.json", headers=bearer(api_token(Role.VIEWER))).get_json()
    assert document["openapi"].startswith("3.1")
    missing = []
    for rule in api_rules(app):
        path, _params = openapi_path(rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {rule.rule}")
    assert missing == [], f"undocumented API routes: {missing}"


def test_audit_entries_record_the_request_id_and_address(
    client: Any, api_token: Any, db: Database
) -> None:
    admin = bearer(api_token(Role.ADMIN))
    client.post(
        "/api/v1/tokens",
        headers={**admin, "X-Request-ID": "req-42"},
        json={"name": "traced", "role": "viewer"},
    )
    with db.session() as s:
        entry = s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "token.create", AuditEntry.summary.contains("traced")
            )
        )
    assert entry.request_id == "req-42"
    assert entry.ip == "127.0.0.1"
