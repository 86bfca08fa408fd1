"""Visitor desk screens and API: refusals show the rule, CSV matches the page, roles hold."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.models import Role, VisitRow
from shifts.visitors import service as svc

from ..conftest import bearer, form_token


@pytest.fixture
def acme(db: Database) -> dict[str, int]:
    now = utcnow()
    with db.session() as s:
        client = svc.create_client(s, "test", name="Acme")
        ivan = svc.add_authorised_person(
            s,
            "test",
            client_id=client.id,
            name="Ivan Petrov",
            id_document_type="passport",
            id_number="AB1234567",
            scope="Hall A",
            valid_from=now - timedelta(days=10),
        )
        svc.add_authorised_person(
            s,
            "test",
            client_id=client.id,
            name="Petra Novak",
            id_document_type="passport",
            id_number="CD7654321",
            scope="Hall A",
            valid_from=now - timedelta(days=100),
            valid_until=now - timedelta(days=1),
        )
        return {"client": client.id, "ivan": ivan.id}


def check_in_form(client: Any, acme: dict[str, int], name: str, badge: str, **extra: str) -> Any:
    data = {
        "csrf_token": form_token(client, "/visitors/"),
        "client_id": str(acme["client"]),
        "name_on_id": name,
        "id_checked": "on",
        "areas": "Hall A / Cage 1",
        "badge_number": badge,
        "nda_signed": "on",
        "safety_form_signed": "on",
        **extra,
    }
    return client.post("/visitors/check-in", data=data, follow_redirects=True)


def test_a_viewer_gets_403_on_every_screen_with_personal_data(
    signed_in: Any, api_token: Any, app: Any, acme: dict[str, int]
) -> None:
    viewer = signed_in(Role.VIEWER)
    for path in (
        "/visitors/",
        "/visitors/on-site",
        "/visitors/log",
        "/visitors/log.csv",
        "/visitors/search.json?q=iv",
        "/visitors/requests",
        "/visitors/clients",
    ):
        assert viewer.get(path).status_code == 403, path
    api = app.test_client()
    token = api_token(Role.VIEWER)
    for path in ("/api/v1/visitors/on-site", "/api/v1/visits"):
        assert api.get(path, headers=bearer(token)).status_code == 403, path


def test_search_as_you_type_finds_people_on_the_list(signed_in: Any, acme: dict[str, int]) -> None:
    engineer = signed_in(Role.ENGINEER)
    items = engineer.get("/visitors/search.json?q=ivan pe").get_json()["items"]
    assert [(i["name"], i["client"]) for i in items] == [("Ivan Petrov", "Acme")]
    assert "1234567" not in str(items)  # only the masked ID number
    page = engineer.get("/visitors/?q=ivan").get_data(as_text=True)  # works without JS too
    assert f"/visitors/?person={acme['ivan']}" in page


def test_a_denied_check_in_shows_the_rule_and_is_recorded(
    signed_in: Any, db: Database, acme: dict[str, int]
) -> None:
    engineer = signed_in(Role.ENGINEER)
    page = check_in_form(engineer, acme, "Petra Novak", "B2").get_data(as_text=True)
    assert "authorisation_expired" in page and "expired" in page
    with db.session() as s:
        row = s.scalar(select(VisitRow))
    assert (row.status, row.denial_code) == ("denied", "authorisation_expired")


def test_a_correctable_refusal_shows_the_rule_and_records_nothing(
    signed_in: Any, db: Database, acme: dict[str, int]
) -> None:
    engineer = signed_in(Role.ENGINEER)
    page = check_in_form(engineer, acme, "Ivan Petrov", "B3", id_checked="").get_data(as_text=True)
    assert "missing_id_check" in page
    with db.session() as s:
        assert s.scalar(select(VisitRow)) is None


def test_check_in_leads_to_the_badge_slip_and_the_on_site_list(
    signed_in: Any, acme: dict[str, int]
) -> None:
    engineer = signed_in(Role.ENGINEER)
    response = check_in_form(engineer, acme, "ivan petrov", "B17")
    slip = response.get_data(as_text=True)
    assert "/badge" in response.request.path
    assert "B17" in slip and "Valid until" in slip
    onsite = engineer.get("/visitors/on-site").get_data(as_text=True)
    assert "ivan petrov" in onsite and "B17" in onsite


def test_the_csv_export_holds_the_same_rows_as_the_log_page(
    signed_in: Any, acme: dict[str, int]
) -> None:
    engineer = signed_in(Role.ENGINEER)
    check_in_form(engineer, acme, "Ivan Petrov", "C1")
    check_in_form(engineer, acme, "Petra Novak", "C2")
    page = engineer.get("/visitors/log?person=e").get_data(as_text=True)
    exported = engineer.get("/visitors/log.csv?person=e")
    assert exported.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert len(table) == 3  # header + two visits
    for row in table[1:]:
        for cell in (row[0], row[2], row[3], row[9]):
            assert f"<td>{cell}</td>" in page


def test_api_creates_approves_and_lists(app: Any, api_token: Any, acme: dict[str, int]) -> None:
    api = app.test_client()
    token = api_token(Role.ENGINEER)
    start = utcnow() - timedelta(minutes=5)
    created = api.post(
        "/api/v1/access-requests",
        headers=bearer(token),
        json={
            "client_id": acme["client"],
            "people": ["Tom Field"],
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=3)).isoformat(),
            "areas": ["Hall B"],
            "vehicle_plate": "AA1234BB",
        },
    )
    assert created.status_code == 201, created.get_json()
    request_id = created.get_json()["id"]
    approved = api.post(f"/api/v1/access-requests/{request_id}/approve", headers=bearer(token))
    assert approved.get_json()["status"] == "approved"
    again = api.post(f"/api/v1/access-requests/{request_id}/reject", headers=bearer(token))
    assert again.status_code == 409 and "already approved" in again.get_json()["error"]
    bad = api.post(
        "/api/v1/access-requests",
        headers=bearer(token),
        json={
            "client_id": acme["client"],
            "people": ["X"],
            "window_start": "2026-01-01T10:00",
            "window_end": "2026-01-01T12:00",
            "areas": ["Hall A"],
        },
    )
    assert bad.status_code == 400 and "UTC offset" in bad.get_json()["error"]
    on_site = api.get("/api/v1/visitors/on-site", headers=bearer(token)).get_json()
    assert on_site["count"] == 0
    assert api.get("/api/v1/visits", headers=bearer(token)).get_json()["total"] == 0


def test_only_a_shift_lead_manages_the_authorised_list(
    signed_in: Any, db: Database, acme: dict[str, int]
) -> None:
    engineer = signed_in(Role.ENGINEER)
    page = f"/visitors/clients/{acme['client']}"
    form = {
        "csrf_token": form_token(engineer, page),
        "action": "add_person",
        "name": "Zed",
        "id_number": "ZZ998877",
        "scope": "Hall A",
    }
    assert engineer.post(page, data=form).status_code == 403
    lead = signed_in(Role.SHIFT_LEAD)
    form["csrf_token"] = form_token(lead, page)
    html = lead.post(page, data=form, follow_redirects=True).get_data(as_text=True)
    assert "Zed" in html and "ZZ998877" not in html and "8877" in html
