"""A data-center client's systems file remote-hands and installation requests with their API
token, for a person on the client's authorised list; an installation asks for the visit and
the desk finds the matching access request waiting for approval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database, utcnow
from dutydesk.models import AccessRequestRow, Role
from dutydesk.requests.models import ServiceRequest
from shifts.visitors import service as svc
from tests.conftest import bearer


@pytest.fixture
def acme(db: Database) -> dict[str, int]:
    now = utcnow()
    with db.session() as s:
        client = svc.create_client(s, "test", name="Acme")
        ivan = svc.add_authorised_person(
            s, "test", client_id=client.id, name="Ivan Petrov", id_document_type="passport",
            id_number="AB1234567", scope="Hall A", valid_from=now - timedelta(days=10))
        gone = svc.add_authorised_person(
            s, "test", client_id=client.id, name="Old Timer", id_document_type="passport",
            id_number="CD7654321", scope="Hall A", valid_from=now - timedelta(days=30),
            valid_until=now - timedelta(days=1))
        other = svc.create_client(s, "test", name="Globex")
        return {"client": client.id, "ivan": ivan.id, "gone": gone.id, "other": other.id}


@pytest.fixture
def post(app: Any, api_token: Any) -> Any:
    client = app.test_client()
    headers = bearer(api_token(Role.ENGINEER))
    return lambda body: client.post("/api/v1/client-requests", json=body, headers=headers)


def body(acme: dict[str, int], **change: Any) -> dict[str, Any]:
    return {"client_id": acme["client"], "person_id": acme["ivan"],
            "requester_email": "noc@acme.example", "kind": "remote_hands",
            "subject": "Power-cycle server r12-u7", "description": "It hangs, please reboot"
            } | change


def test_a_remote_hands_request_is_registered_for_the_authorised_person(
        post: Any, acme: dict[str, int], db: Database) -> None:
    answer = post(body(acme))
    assert answer.status_code == 201, answer.get_json()
    data = answer.get_json()
    assert data["access_request_id"] is None
    with db.session() as s:
        row = s.get(ServiceRequest, data["id"])
        assert (row.channel, row.service, row.requester_person_id, row.requester_name) == (
            "client_api", "Remote hands", acme["ivan"], "Ivan Petrov (Acme)")


def test_an_installation_with_a_visit_creates_the_pending_access_request(
        post: Any, acme: dict[str, int], db: Database) -> None:
    start = utcnow() + timedelta(days=1)
    answer = post(body(acme, kind="installation", subject="Install 2 servers in rack A-12",
                       visit={"window_start": start.isoformat(),
                              "window_end": (start + timedelta(hours=4)).isoformat(),
                              "areas": ["Hall A"], "racks": "A-12",
                              "people": ["Ivan Petrov", "Petro Ivanov"]}))
    assert answer.status_code == 201, answer.get_json()
    data = answer.get_json()
    with db.session() as s:
        access = s.get(AccessRequestRow, data["access_request_id"])
        assert (access.status, access.client_id, access.people_count, access.racks) == (
            "pending", acme["client"], 2, "A-12")
        assert access.purpose.startswith(f"REQ-{data['id']}:")
    assert any("access request" in (e["data"].get("text") or "") for e in data["timeline"])


@pytest.mark.parametrize(("change", "status", "says"), [
    ({"person_id": 999_999}, 404, "no authorised person"),
    ({"client_id": 999_999}, 404, "no client"),
    ({"kind": "pizza"}, 400, "kind"),
    ({"requester_email": "not an address"}, 400, "e-mail"),
    ({"visit": {"window_start": "2030-01-01T10:00:00Z", "window_end": "2030-01-01T12:00:00Z",
                "areas": ["Hall A"]}}, 400, "only an installation"),
    ({"kind": "installation", "visit": {"window_start": "tomorrow", "window_end": "later",
                                        "areas": ["Hall A"]}}, 400, "window"),
])
def test_bad_client_requests_are_refused_and_store_nothing(
        post: Any, acme: dict[str, int], db: Database, change: dict[str, Any], status: int,
        says: str) -> None:
    answer = post(body(acme, **change))
    assert answer.status_code == status, answer.get_json()
    assert says in str(answer.get_json()).lower() or says in str(answer.get_json())
    with db.session() as s:
        assert s.scalar(select(func.count(ServiceRequest.id))) == 0
        assert s.scalar(select(func.count(AccessRequestRow.id))) == 0


def test_a_person_no_longer_authorised_or_of_another_client_cannot_file(
        post: Any, acme: dict[str, int]) -> None:
    gone = post(body(acme, person_id=acme["gone"]))
    assert gone.status_code == 400 and "not authorised now" in gone.get_json()["error"]
    stranger = post(body(acme, client_id=acme["other"]))
    assert stranger.status_code == 404


def test_a_viewer_token_cannot_file(app: Any, api_token: Any, acme: dict[str, int]) -> None:
    answer = app.test_client().post("/api/v1/client-requests", json=body(acme),
                                    headers=bearer(api_token(Role.VIEWER)))
    assert answer.status_code == 403
