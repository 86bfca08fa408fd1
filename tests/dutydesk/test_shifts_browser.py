"""In Chromium: a shift lead builds a schedule and a rotation in the editor, and the wall shows the
engineer the rotation puts on duty now."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dutydesk.core.db import Database, utcnow
from dutydesk.models import Role

from ..conftest import PASSWORD, make_user

pytestmark = pytest.mark.browser


def test_shift_lead_creates_a_rotation_and_the_wall_shows_the_engineer_on_duty(
    live_server: Any, page: Any, db: Database, output_dir: Path
) -> None:
    make_user(db, Role.ENGINEER, "olena@dc.example", name="Olena Koval")
    make_user(db, Role.ENGINEER, "taras@dc.example", name="Taras Bondar")
    lead = make_user(db, Role.SHIFT_LEAD)
    # A weekly rotation whose first week starts at today's local midnight: Olena is on now.
    today = utcnow().astimezone(ZoneInfo("Europe/Kyiv")).date().isoformat()

    page.goto(live_server.url + "/shifts")
    page.fill("input[name=email]", lead.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/shifts")
    page.fill("input[name=name]", "Kyiv hall")
    page.select_option("select[name=line]", "first_line")
    page.fill("input[name=time_zone]", "Europe/Kyiv")
    page.click("text=Create")
    page.wait_for_selector("#add-rotation")

    form = page.locator("#add-rotation")
    form.locator("input[name=name]").fill("weekly")
    form.locator("select[name=pattern]").select_option("fixed_length")
    form.locator("input[name=weeks]").fill("1")
    form.locator("input[name=participants]").fill("olena@dc.example, taras@dc.example")
    form.locator("input[name=handoff_time]").fill("00:00")
    form.locator("input[name=start_date]").fill(today)
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=rotation added")
    assert "Olena Koval" in page.locator("#layers").inner_text()
    page.screenshot(path=str(output_dir / "shifts-editor.png"), full_page=True)

    page.goto(live_server.url + "/wall")
    duty = page.locator("[data-key=duty]")
    duty.wait_for()
    assert "Olena Koval" in duty.inner_text()
    assert "Taras Bondar" not in duty.inner_text()
    page.screenshot(path=str(output_dir / "shifts-wall-on-duty.png"), full_page=True)
