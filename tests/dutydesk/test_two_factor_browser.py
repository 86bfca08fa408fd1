"""In Chromium, a shift lead whose role must use two-factor signs in, scans (reads) the QR code
page, confirms with the first code, keeps the recovery codes, and signs in later with a code;
each of these screens passes axe-core."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.models import Role

from ..conftest import PASSWORD, LiveServer, make_user
from .test_accessibility_browser import axe

pytestmark = pytest.mark.browser


@pytest.fixture
def strict_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    app = create_app(dataclasses.replace(settings, two_factor_required="shift_lead"), db=db)
    server = LiveServer(app)
    yield server
    server.stop()


def _password_step(page: Any, url: str, email: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_a_shift_lead_enrols_during_sign_in_and_later_signs_in_with_a_code(
    strict_server: LiveServer, page: Any, db: Database, output_dir: Path
) -> None:
    lead = make_user(db, Role.SHIFT_LEAD, name="Olena Kovalenko")
    url = strict_server.url
    _password_step(page, url, lead.email)
    assert page.url == url + "/login/setup"
    assert page.locator("figure.qr svg[role=img]").is_visible()
    assert axe(page) == []
    page.screenshot(path=str(output_dir / "two-factor-setup.png"), full_page=True)
    totp = pyotp.TOTP(page.locator("[data-secret]").inner_text().replace(" ", ""))
    page.fill("input[name=code]", totp.now())
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your recovery codes"
    assert page.locator(".recovery-codes li").count() == 10
    assert axe(page) == []
    page.click("text=I have saved them, continue")
    page.wait_for_url(url + "/")
    assert "Olena Kovalenko" in page.locator(".who").inner_text()

    page.context.clear_cookies()
    _password_step(page, url, lead.email)
    assert page.url == url + "/login/code"
    assert axe(page) == []
    page.fill("input[name=code]", "000000" if totp.at(time.time() + 30) != "000000" else "111111")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "wrong, expired or already used" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=code]", totp.at(time.time() + 30))
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    assert "Olena Kovalenko" in page.locator(".who").inner_text()
