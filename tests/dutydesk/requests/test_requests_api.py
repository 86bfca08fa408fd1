"""The requests API: create, list most urgent first, read, reply, note, link, state changes —
and bad input (junk JSON, wrong types, ids beyond 64 bits) answered 4xx, never 500. Every
answer matches the schema the OpenAPI document gives for it."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.models.accounts import Role
from tests.conftest import bearer

from .test_requests_web import outage


@pytest.fixture
def api(client: Any, api_token: Any) -> Any:
    headers = bearer(api_token(Role.ENGINEER))

    def call(method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        if raw is not None:
            return client.open(path, method=method, data=raw, headers=headers,
                               content_type="application/json")
        return client.open(path, method=method, json=body, headers=headers)

    return call


@pytest.fixture
def client(app: Any, api_token: Any) -> Any:
    """A test client that reads the OpenAPI document with a viewer's token."""
    test_client = app.test_client()
    test_client.viewer = bearer(api_token(Role.VIEWER))
    return test_client


def documented(client: Any, path: str, method: str, status: int) -> dict[str, Any]:
    document = client.get("/api/v1/openapi.json", headers=client.viewer).get_json()
    operation = document["paths"][path][method]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    schema = dict(schema)
    schema["components"] = document["components"]
    return schema


def matches(client: Any, path: str, method: str, response: Any) -> None:
    schema = documented(client, path, method, response.status_code)
    jsonschema.validate(response.get_json(), schema)


def create(api: Any, **extra: Any) -> Any:
    body = {"requester_email": "anna@corp.example", "service": "mail",
            "description": "Outlook cannot connect"} | extra
    return api("POST", "/api/v1/requests", body)


def test_a_request_created_read_answered_and_resolved_through_the_api(
    api: Any, client: Any
) -> None:
    created = create(api, urgency=1, impact=2, channel="phone")
    assert created.status_code == 201
    matches(client, "/api/v1/requests", "post", created)
    body = created.get_json()
    assert (body["priority"], body["status"], body["number"]) == ("P2", "new",
                                                                   f"REQ-{body['id']}")
    path = f"/api/v1/requests/{body['id']}"
    replied = api("POST", path + "/reply", {"text": "Restart Outlook"})
    assert replied.get_json()["status"] == "in_progress"
    api("POST", path + "/notes", {"text": "user had VPN off"})
    waiting = api("POST", path + "/wait", {"reason": "asked for a screenshot"})
    assert waiting.get_json()["sla"]["resolve"]["paused"] is True
    resolved = api("POST", path + "/resolve", {"note": "VPN on, works"})
    matches(client, "/api/v1/requests/{request_id}/resolve", "post", resolved)
    read = api("GET", path)
    matches(client, "/api/v1/requests/{request_id}", "get", read)
    kinds = [e["kind"] for e in read.get_json()["timeline"]]
    assert kinds == ["created", "replied", "note", "waiting", "resolved"]


def test_the_list_puts_the_most_urgent_first_and_filters(api: Any, client: Any) -> None:
    low = create(api).get_json()["id"]
    high = create(api, impact=1, urgency=1).get_json()["id"]
    listed = api("GET", "/api/v1/requests")
    matches(client, "/api/v1/requests", "get", listed)
    assert [r["id"] for r in listed.get_json()["items"]] == [high, low]
    assert api("GET", "/api/v1/requests?status=closed").get_json()["total"] == 0
    assert api("GET", "/api/v1/requests?status=burning").status_code == 400


def test_linking_to_an_incident_and_refusals(
    api: Any, client: Any, db: Database, settings: Settings
) -> None:
    incident_id = outage(db, settings)
    request_id = create(api).get_json()["id"]
    path = f"/api/v1/requests/{request_id}"
    linked = api("POST", path + "/link", {"incident_id": incident_id})
    assert linked.get_json()["incident_id"] == incident_id
    again = api("POST", path + "/link", {"incident_id": incident_id})
    assert again.status_code == 409
    matches(client, "/api/v1/requests/{request_id}/link", "post", again)
    missing = api("POST", path + "/link", {"incident_id": 2**70})
    assert missing.status_code == 404
    assert api("POST", path + "/close", {}).status_code == 409  # not resolved yet


@pytest.mark.parametrize(("method", "path", "body", "raw"), [
    ("GET", f"/api/v1/requests/{2**64}", None, None),
    ("POST", f"/api/v1/requests/{2**64}/reply", {"text": "x"}, None),
    ("POST", "/api/v1/requests", None, b"{not json"),
    ("POST", "/api/v1/requests", [1, 2], None),
    ("POST", "/api/v1/requests", {"requester_email": 5, "service": "m", "description": "d"},
     None),
    ("POST", "/api/v1/requests", {"requester_email": "a@b.example", "service": ["m"],
                                  "description": "d"}, None),
    ("POST", "/api/v1/requests", {"requester_email": "a@b.example", "service": "m",
                                  "description": "d", "impact": True}, None),
    ("POST", "/api/v1/requests", {"requester_email": "a@b.example", "service": "",
                                  "description": "d"}, None),
    ("POST", "/api/v1/requests", {"requester_email": "a@b.example", "service": "m",
                                  "description": "x" * 100_000}, None),
])
def test_bad_input_gets_a_clear_4xx(api: Any, method: str, path: str, body: Any,
                                    raw: bytes | None) -> None:
    response = api(method, path, body, raw)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.get_json()["error"]


def test_bad_action_bodies_get_a_clear_4xx(api: Any) -> None:
    path = f"/api/v1/requests/{create(api).get_json()['id']}"
    assert api("POST", path + "/reply", raw=b"][").status_code == 400
    assert api("POST", path + "/reply", {"text": {"a": 1}}).status_code == 400
    assert api("POST", path + "/wait", {}).status_code == 400
    assert api("POST", path + "/priority", {"priority": "P9"}).status_code == 400


def test_a_viewer_token_cannot_read_requests(client: Any, api_token: Any) -> None:
    response = client.get("/api/v1/requests", headers=bearer(api_token(Role.VIEWER)))
    assert response.status_code == 403
