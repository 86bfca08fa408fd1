"""The screens scoped to a site, with two data centers (so the site selectors and the per-site
headings show), pass axe-core in Chromium with no serious or critical violation, in en, ru, uk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dutydesk.core.db import Database, utcnow
from dutydesk.core.security import Principal
from dutydesk.core.sites import Site
from dutydesk.models import Role
from shifts import service as shifts
from shifts.notices import service as notices
from shifts.visitors import service as visitors
from shifts.visitors.checkin import CheckInAttempt
from shifts.visitors.model import SitePolicy
from tests.conftest import PASSWORD, make_user
from tests.dutydesk.test_accessibility_browser import axe

pytestmark = pytest.mark.browser
LEAD = Principal(kind="user", role=Role.SHIFT_LEAD, label="lead@dc.example")
SCREENS = ("/shifts?site=fra", "/visitors/?site=fra", "/visitors/on-site",
           "/visitors/requests", "/visitors/log", "/reports", "/status", "/notices/services")


def _two_sites(db: Database) -> None:
    now = utcnow()
    with db.session() as s:
        s.add_all([Site(slug="ams", name="DC Amsterdam", time_zone="Europe/Amsterdam"),
                   Site(slug="fra", name="DC Frankfurt", time_zone="Europe/Berlin")])
        s.flush()
        shifts.create_schedule(s, LEAD, name="FRA first line", line="first_line",
                               time_zone="Europe/Berlin", site="fra")
        notices.save_service(s, "admin", slug="mail", name="Mail", now=now, site="ams")
        notices.save_service(s, "admin", slug="vpn", name="VPN", now=now, site="fra")
        client = visitors.create_client(s, "desk", name="Acme")
        visitors.add_authorised_person(
            s, "desk", client_id=client.id, name="Ivan Petrov", id_document_type="passport",
            id_number="AB1234567", scope="Hall A", valid_from=now - timedelta(days=3))
        visitors.check_in(s, "desk", client_id=client.id, policy=SitePolicy(timezone="UTC"),
                          now=now, site_id=s.query(Site.id).filter(Site.slug == "fra").scalar(),
                          attempt=CheckInAttempt(name_on_id="Ivan Petrov", id_checked_by="desk",
                                                 areas=("Hall A",), badge_number="B7",
                                                 nda_signed=True, safety_form_signed=True))


@pytest.mark.parametrize("language", ["en", "ru", "uk"])
def test_site_scoped_screens_have_no_serious_violation(
    browser: Any, live_server: Any, db: Database, language: str
) -> None:
    make_user(db, Role.ADMIN, "admin@dc.example", name="Admin", language=language)
    _two_sites(db)
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    found: dict[str, Any] = {}
    try:
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", "admin@dc.example")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        for path in SCREENS:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state()
            assert "DC Frankfurt" in page.content(), path
            found[path] = axe(page)
    finally:
        context.close()
    assert {path: v for path, v in found.items() if v} == {}
