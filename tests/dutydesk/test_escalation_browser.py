"""In Chromium: a shift lead finds the escalation policies in the menu, an engineer moves an
incident to another policy on its page, and the shift lead deletes that policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dutydesk.core.db import Database
from dutydesk.incidents.models import EscalationPolicyRow
from dutydesk.models import Role

from ..conftest import PASSWORD, make_user
from .test_incidents_web import open_incident

pytestmark = pytest.mark.browser


def sign_in(page: Any, base: str, role: Role, db: Database) -> None:
    user = make_user(db, role)
    page.goto(base + "/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_policy_chosen_on_the_incident_page_then_deleted_from_the_menu_screen(
    live_server: Any, browser: Any, app: Any, db: Database, output_dir: Path, database_url: str
) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with db.session() as s:
        s.add(EscalationPolicyRow(name="standard", is_default=True,
                                  steps=[{"targets": ["first_line"], "delay_minutes": 10}]))
        s.add(EscalationPolicyRow(name="vendor on site",
                                  steps=[{"targets": ["shift_lead"], "delay_minutes": 5}]))
    incident_id = open_incident(db, app, "chiller-1")
    base = live_server.url

    engineer = browser.new_context(viewport={"width": 1920, "height": 1080})
    tab = engineer.new_page()
    sign_in(tab, base, Role.ENGINEER, db)
    assert tab.locator("nav a", has_text="Escalation policies").count() == 0
    tab.goto(f"{base}/incidents/{incident_id}")
    assert tab.locator("dd.escalation-policy").inner_text() == "default (standard)"
    tab.click("details.more-actions summary")  # the rarer actions sit in a compact menu
    tab.select_option("select[name=policy_id]", label="vendor on site")
    tab.fill("form:has(select[name=policy_id]) input[name=reason]", "vendor engineer on site")
    tab.click("text=Change escalation policy")
    tab.wait_for_selector("text=Escalation policy changed.")
    assert tab.locator("dd.escalation-policy").inner_text() == "vendor on site"
    assert "vendor engineer on site" in tab.locator(
        "li.event-escalation_policy_changed").inner_text()
    tab.screenshot(path=str(output_dir / f"incident-policy-{backend}.png"), full_page=True)
    engineer.close()

    lead = browser.new_context(viewport={"width": 1920, "height": 1080})
    tab = lead.new_page()
    sign_in(tab, base, Role.SHIFT_LEAD, db)
    tab.click("nav >> text=Escalation policies")
    tab.wait_for_url(base + "/incidents/escalation")
    assert tab.locator("text=Followed by 1 open incident.").is_visible()
    tab.click("text=Delete policy vendor on site")
    tab.wait_for_selector("text=1 open incident now follows the default policy.")
    assert tab.locator("button", has_text="Delete policy").count() == 0  # only the default left
    tab.screenshot(path=str(output_dir / f"escalation-policies-{backend}.png"), full_page=True)
    tab.goto(f"{base}/incidents/{incident_id}")
    assert tab.locator("dd.escalation-policy").inner_text() == "default (standard)"
    lead.close()
