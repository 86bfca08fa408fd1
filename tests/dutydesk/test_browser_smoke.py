"""A person opens DutyDesk in headless Chromium, signs in and sees the home page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dutydesk.core.db import Database
from dutydesk.models import Role

from ..conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser


def test_engineer_signs_in_through_the_login_form_and_sees_the_home_page(
    live_server: Any, page: Any, db: Database, output_dir: Path, database_url: str
) -> None:
    user = make_user(db, Role.ENGINEER, name="Maria Kovalenko")
    page.goto(live_server.url + "/")
    assert "/login" in page.url
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    assert page.locator("h1").inner_text() == "DutyDesk"
    assert "Maria Kovalenko" in page.locator(".who").inner_text()
    assert page.locator("text=No scheduler has reported yet").is_visible()
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    page.screenshot(path=str(output_dir / f"home-{backend}.png"), full_page=True)


def test_a_wrong_password_shows_the_error_in_the_page(
    live_server: Any, page: Any, db: Database
) -> None:
    user = make_user(db, Role.ENGINEER)
    page.goto(live_server.url + "/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", "definitely wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().startswith("Wrong email or password")
