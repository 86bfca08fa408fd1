"""At the desk in Chromium: find a person as you type, check in, see them on site, check out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dutydesk.core.db import Database, utcnow
from dutydesk.models import Role
from shifts.visitors import service as svc

from ..conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser


def test_engineer_checks_a_visitor_in_sees_them_on_site_and_checks_them_out(
    live_server: Any, page: Any, db: Database
) -> None:
    with db.session() as s:
        client = svc.create_client(s, "test", name="Acme")
        svc.add_authorised_person(
            s,
            "test",
            client_id=client.id,
            name="Ivan Petrov",
            id_document_type="passport",
            id_number="AB1234567",
            scope="Hall A",
            valid_from=utcnow() - timedelta(days=5),
        )
    user = make_user(db, Role.ENGINEER)
    page.goto(live_server.url + "/visitors/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/visitors/")

    page.type("#q", "ivan pet")  # search as you type
    page.locator("#matches li a", has_text="Ivan Petrov").wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url("**/visitors/?person=*")
    assert page.input_value("input[name=name_on_id]") == "Ivan Petrov"
    page.check("input[name=id_checked]")
    page.fill("input[name=badge_number]", "B42")
    page.check("input[name=nda_signed]")
    page.check("input[name=safety_form_signed]")
    page.click("#check-in button[type=submit]")
    page.wait_for_url("**/badge")
    assert page.locator(".badge-number").inner_text() == "B42"

    page.goto(live_server.url + "/visitors/on-site")
    row = page.locator("#evacuation-list tbody tr", has_text="Ivan Petrov")
    assert "B42" in row.inner_text()

    page.goto(live_server.url + "/visitors/")
    page.locator("#on-site tr", has_text="Ivan Petrov").locator("button[value=returned]").click()
    page.wait_for_url(live_server.url + "/visitors/")
    assert "Ivan Petrov checked out" in page.locator(".flash-ok").inner_text()
    page.goto(live_server.url + "/visitors/on-site")
    assert page.locator("#evacuation-list").inner_text().count("Ivan Petrov") == 0
