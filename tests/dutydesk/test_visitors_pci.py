"""Visitor desk screens, PCI DSS 9.3 in spirit: the guest's printed slip names the escort, an
engineer cannot approve their own access request, "escort required" is ticked on screen and
enforced at the desk, badge numbers are one badge however typed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.models import AccessRequestRow, Role, VisitRow
from shifts.visitors import service as svc

from ..conftest import bearer, form_token, login, make_user


@pytest.fixture
def acme(db: Database) -> dict[str, int]:
    now = utcnow()
    with db.session() as s:
        client = svc.create_client(s, "test", name="Acme")
        ivan = svc.add_authorised_person(
            s, "test", client_id=client.id, name="Ivan Petrov", id_document_type="passport",
            id_number="AB1234567", scope="Hall A", valid_from=now - timedelta(days=10),
            may_bring_guests=True, guest_limit=2)
        return {"client": client.id, "ivan": ivan.id}


def _check_in(client: Any, acme: dict[str, int], name: str, badge: str, **extra: str) -> Any:
    return client.post("/visitors/check-in", follow_redirects=True, data={
        "csrf_token": form_token(client, "/visitors/"), "client_id": str(acme["client"]),
        "name_on_id": name, "id_checked": "on", "areas": "Hall A / Cage 1",
        "badge_number": badge, "nda_signed": "on", "safety_form_signed": "on", **extra})


def _visit(db: Database, name: str) -> VisitRow:
    with db.session() as s:
        return s.scalar(select(VisitRow).where(VisitRow.person_name == name))


def test_the_guests_printed_slip_names_the_authorised_person_who_escorts_them(
    signed_in: Any, db: Database, acme: dict[str, int]
) -> None:
    desk = signed_in(Role.ENGINEER)
    _check_in(desk, acme, "Ivan Petrov", "b-001")
    escort = _visit(db, "Ivan Petrov")
    assert escort.badge_number == "B001"
    _check_in(desk, acme, "Petra Novak", "G7", escort_visit_id=str(escort.id))
    guest = _visit(db, "Petra Novak")
    assert guest.status == "on_site" and guest.escort_visit_id == escort.id
    slip = desk.get(f"/visitors/visits/{guest.id}/badge").get_data(as_text=True)
    assert "Escorted by: Ivan Petrov (badge B001)" in slip


def test_the_slip_names_a_staff_escort_too(
    signed_in: Any, db: Database, acme: dict[str, int]
) -> None:
    desk = signed_in(Role.ENGINEER)
    _check_in(desk, acme, "Ivan Petrov", "B2", escort_staff="Olena Duty")
    slip = desk.get(f"/visitors/visits/{_visit(db, 'Ivan Petrov').id}/badge")
    assert "Escorted by: Olena Duty" in slip.get_data(as_text=True)


def test_a_second_visitor_with_the_same_badge_typed_differently_is_refused(
    signed_in: Any, db: Database, acme: dict[str, int]
) -> None:
    desk = signed_in(Role.ENGINEER)
    _check_in(desk, acme, "Ivan Petrov", " B-001 ")
    refused = _check_in(desk, acme, "Petra Novak", "b001",
                        escort_visit_id=str(_visit(db, "Ivan Petrov").id))
    assert "badge_in_use" in refused.get_data(as_text=True)
    assert _visit(db, "Petra Novak") is None


def test_escort_required_is_ticked_by_a_lead_and_enforced_at_the_desk(
    signed_in: Any, db: Database, acme: dict[str, int]
) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    page = f"/visitors/clients/{acme['client']}"
    lead.post(page, data={"csrf_token": form_token(lead, page), "action": "escort_person",
                          "person_id": str(acme["ivan"])})
    assert "escort required" in lead.get(page).get_data(as_text=True)
    desk = signed_in(Role.ENGINEER)
    picked = desk.get(f"/visitors/?person={acme['ivan']}").get_data(as_text=True)
    assert 'id="escort-required-note"' in picked  # the desk is told before the refusal
    assert desk.get(f"/visitors/?person={2**63}").status_code == 200
    alone = _check_in(desk, acme, "Ivan Petrov", "B5")
    assert "escort_required" in alone.get_data(as_text=True)
    assert _visit(db, "Ivan Petrov") is None
    _check_in(desk, acme, "Ivan Petrov", "B5", escort_staff="Olena Duty")
    assert _visit(db, "Ivan Petrov").status == "on_site"


def test_a_client_marked_escort_required_at_creation_needs_escorts(
    signed_in: Any, db: Database
) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    lead.post("/visitors/clients", data={"csrf_token": form_token(lead, "/visitors/clients"),
                                         "name": "Globex", "escort_required": "on"})
    with db.session() as s:
        from shifts.visitors.orm import VisitorClient

        assert s.scalar(select(VisitorClient.escort_required).where(
            VisitorClient.name == "Globex")) is True


def test_an_engineer_cannot_approve_their_own_access_request_on_screen_or_by_api(
    app: Any, db: Database, acme: dict[str, int]
) -> None:
    make_user(db, Role.ENGINEER, "olena@dc.example", name="Olena")
    make_user(db, Role.ENGINEER, "taras@dc.example", name="Taras")
    olena, taras = app.test_client(), app.test_client()
    login(olena, "olena@dc.example")
    login(taras, "taras@dc.example")
    start = utcnow() - timedelta(minutes=5)
    created = olena.post("/api/v1/access-requests", headers={
        "X-CSRFToken": form_token(olena, "/visitors/requests")}, json={
        "client_id": acme["client"], "people": ["Tom Field"], "areas": ["Hall A"],
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=3)).isoformat()})
    request_id = created.get_json()["id"]
    listing = olena.get("/visitors/requests").get_data(as_text=True)
    assert "another engineer approves it" in listing and 'value="approve"' not in listing
    assert 'value="approve"' in taras.get("/visitors/requests").get_data(as_text=True)
    own = olena.post(f"/visitors/requests/{request_id}/decide", follow_redirects=True, data={
        "csrf_token": form_token(olena, "/visitors/requests"), "decision": "approve"})
    assert "four eyes" in own.get_data(as_text=True)
    by_api = olena.post(f"/api/v1/access-requests/{request_id}/approve", headers={
        "X-CSRFToken": form_token(olena, "/visitors/requests")})
    assert by_api.status_code == 403 and "four eyes" in by_api.get_json()["error"]
    with db.session() as s:
        assert s.get(AccessRequestRow, request_id).status == "pending"
    taras.post(f"/visitors/requests/{request_id}/decide", data={
        "csrf_token": form_token(taras, "/visitors/requests"), "decision": "approve"})
    with db.session() as s:
        row = s.get(AccessRequestRow, request_id)
        assert (row.status, row.decided_by) == ("approved", "taras@dc.example")


@pytest.mark.parametrize("body", [[1, 2], "approve", 5])
def test_a_json_body_that_is_not_an_object_is_a_400(
    client: Any, api_token: Any, acme: dict[str, int], body: Any
) -> None:
    response = client.post("/api/v1/access-requests/1/approve", json=body,
                           headers=bearer(api_token(Role.ENGINEER)))
    assert response.status_code == 400
