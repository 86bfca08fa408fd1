"""Satisfaction and the request report in a real browser: a requester on a phone, not signed
in, opens the "bad" link of the resolution mail, changes nothing by
opening it, sends a comment; the shift lead reads it in the request report and its printable
month. Every screen passes axe-core (no serious or critical violation)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.requests.models import RequestRating
from tests.conftest import PASSWORD, make_user
from tests.dutydesk.test_accessibility_browser import axe

from .test_ratings import resolved_request

pytestmark = pytest.mark.browser


def test_a_requester_rates_by_mail_link_and_the_lead_reads_it_in_the_report(
        browser: Any, page: Any, live_server: Any, db: Database, settings: Settings) -> None:
    base = live_server.url
    request_id = resolved_request(db, settings, language="ru")
    with db.session() as s:
        body = s.scalars(select(OutboxMessage.body_text).order_by(OutboxMessage.id)).all()[-1]
    bad = re.search(r"/help/rate/\S+/bad", body).group(0)  # type: ignore[union-attr]
    phone = browser.new_context(viewport={"width": 375, "height": 740}, locale="ru-RU")
    tab = phone.new_page()
    tab.goto(base + bad, timeout=60_000)
    assert "Оцените обслуживание" in tab.locator("h1").inner_text()
    assert tab.locator("#rating-bad").is_checked()
    found = {"rate": axe(tab)}
    with db.session() as s:
        assert s.scalar(select(RequestRating.id)) is None  # opening the link changed nothing
    tab.fill("#rating-comment", "Никто не перезвонил")
    tab.click("button[type=submit]")
    assert "Спасибо" in tab.locator("h1").inner_text()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 375
    found["rated"] = axe(tab)

    lead = make_user(db, "shift_lead")
    page.goto(base + "/login")
    page.fill("input[name=email]", lead.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    month = utcnow().strftime("%Y-%m")
    page.goto(base + f"/reports/requests?month={month}")
    assert "Никто не перезвонил" in page.locator("table[data-report=comments]").inner_text()
    found["request report"] = axe(page)
    page.click(f"table[data-report=comments] >> text=REQ-{request_id}")
    assert "Никто не перезвонил" in page.locator("dl.facts").inner_text()
    found["request page"] = axe(page)
    page.goto(base + f"/reports/requests/print?month={month}")
    found["printable"] = axe(page)
    assert found == {"rate": [], "rated": [], "request report": [], "request page": [],
                     "printable": []}
