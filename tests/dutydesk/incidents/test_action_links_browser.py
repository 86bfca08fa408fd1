"""In a real browser (headless Chromium), not signed in: Taras opens the links of his page,
confirms, and sees why a link that cannot act does not; every one of these screens, and the
quiet-hours and keep-paging settings, passes axe-core in en, ru and uk."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.action_tokens import make_token
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import Incident
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.models import Role
from tests.conftest import PASSWORD, make_user
from tests.dutydesk.test_accessibility_browser import axe

pytestmark = pytest.mark.browser


def _world(app: Any, db: Database) -> dict[str, Any]:
    settings = app.extensions["dutydesk"].settings
    taras = make_user(db, Role.ENGINEER, email="taras@dc.example")
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:ups-a",
                  status=AlertStatus.FIRING, starts_at=utcnow(), summary="UPS A on battery",
                  severity=Severity.CRITICAL, details={"impact": 1, "urgency": 1})
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert], settings=settings, now=utcnow()).opened

    def token(action: str, nonce: str = "abcdef12", age: timedelta = timedelta(0)) -> str:
        return make_token(settings.secret_key, incident_id, taras.id, action, nonce,
                          utcnow() - age)

    return {"taras": taras, "incident": incident_id, "token": token, "settings": settings}


def test_taras_acknowledges_from_the_link_in_a_browser_and_every_screen_is_axe_clean(
    browser: Any, live_server: Any, app: Any, db: Database, output_dir: Path
) -> None:
    world = _world(app, db)
    token = world["token"]
    hours = world["settings"].page_link_hours
    found: dict[str, Any] = {}
    for lang in ("en", "ru", "uk"):
        context = browser.new_context(locale="en-GB")
        page = context.new_page()
        try:
            screens = {
                "confirm": f"/act/{token('ack', 'n' + lang * 4)}",
                "resolve": f"/act/{token('resolve', 'n' + lang * 4)}",
                "expired": f"/act/{token('ack', 'old' + lang * 3, timedelta(hours=hours + 1))}",
                "forged": f"/act/{token('ack')[:-3]}abc",
            }
            for name, path in screens.items():
                page.goto(f"{live_server.url}{path}?lang={lang}")
                page.wait_for_load_state()
                found[f"{name} ({lang})"] = axe(page)
            page.goto(f"{live_server.url}{screens['resolve']}?lang={lang}")
            page.click("button[type=submit]")  # no note: the browser asks for one (required)
            assert page.url.endswith(f"?lang={lang}")
        finally:
            context.close()

    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/act/{token('ack', 'clicked1')}")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "Acknowledged." in page.inner_text("main")
        found["done"] = axe(page)
        page.screenshot(path=str(output_dir / "screen-action-link-done.png"))
        page.goto(f"{live_server.url}/act/{token('ack', 'clicked1')}")
        assert "already used" in page.inner_text("main")
        found["used"] = axe(page)
        page.goto(f"{live_server.url}/act/{token('ack', 'another1')}")
        assert "taras@dc.example acknowledged this incident" in page.inner_text("main")
        found["already acknowledged"] = axe(page)
    finally:
        context.close()
    with db.session() as s:
        assert s.get(Incident, world["incident"]).acknowledged_by == "taras@dc.example"

    context = browser.new_context(locale="en-GB")  # Taras's settings, signed in
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", "taras@dc.example")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        for lang in ("en", "ru", "uk"):
            page.goto(f"{live_server.url}/account/notifications?lang={lang}")
            found[f"notifications ({lang})"] = axe(page)
        page.goto(f"{live_server.url}/account/notifications?lang=en")
        page.fill("input[name=start]", "23:00")
        page.fill("input[name=end]", "06:30")
        page.click("text=Save quiet hours")
        page.wait_for_load_state()
        assert "23:00–06:30" in page.inner_text("main")
        found["quiet hours saved"] = axe(page)
    finally:
        context.close()
    (output_dir / "axe-action-links.json").write_text(json.dumps(found, indent=2,
                                                                 ensure_ascii=False))
    failing = {name: violations for name, violations in found.items() if violations}
    assert failing == {}, json.dumps(failing, indent=1, ensure_ascii=False)


def test_the_keep_paging_setting_is_axe_clean(browser: Any, live_server: Any,
                                              db: Database) -> None:
    make_user(db, Role.SHIFT_LEAD, email="olena@dc.example")
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        page.fill("input[name=email]", "olena@dc.example")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        page.goto(f"{live_server.url}/incidents/escalation")
        assert page.locator("input[name=repage_minutes]").count() >= 1
        assert axe(page) == []
    finally:
        context.close()
