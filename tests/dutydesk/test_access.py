"""Who may see what: the public, viewers, engineers, shift leads, admins."""

from __future__ import annotations

from typing import Any

import pytest

from dutydesk.models import Role

from ..conftest import bearer

ADMIN_PAGES = ["/admin/users", "/admin/tokens", "/admin/kiosk", "/admin/audit"]
ADMIN_API = [
    ("GET", "/api/v1/users"),
    ("GET", "/api/v1/tokens"),
    ("GET", "/api/v1/audit"),
    ("POST", "/api/v1/tokens"),
]


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_the_public_reaches_health_and_metrics_without_signing_in(client: Any, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_public_is_sent_to_the_login_page_for_screens(client: Any) -> None:
    for path in ["/", "/account", *ADMIN_PAGES]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path


def test_the_public_gets_401_from_the_api(client: Any) -> None:
    for method, path in [("GET", "/api/v1/me"), *ADMIN_API, ("GET", "/api/v1/openapi.json")]:
        response = client.open(path, method=method)
        assert response.status_code == 401, path
        assert "authentication required" in response.get_json()["error"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER, Role.SHIFT_LEAD])
def test_non_admins_get_403_on_admin_pages(signed_in: Any, role: Role) -> None:
    client = signed_in(role)
    for path in ADMIN_PAGES:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "This needs the Admin role or higher" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER, Role.SHIFT_LEAD])
def test_non_admin_tokens_get_403_on_admin_api_calls(
    api_token: Any, client: Any, role: Role
) -> None:
    headers = bearer(api_token(role))
    for method, path in ADMIN_API:
        response = client.open(path, method=method, headers=headers, json={})
        assert response.status_code == 403, path
        assert response.get_json()["error"].startswith("this needs the admin role")


def test_admin_reaches_every_admin_page(signed_in: Any) -> None:
    client = signed_in(Role.ADMIN)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200, path


def test_a_bad_authorization_header_is_refused_not_treated_as_anonymous(client: Any) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401
    assert "Bearer" in response.get_json()["error"]
