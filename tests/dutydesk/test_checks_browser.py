"""The check screens in Chromium: a shift engineer opens the grouped list, then a check's detail
page with its sparkline and uptime bars, and asks for a run now."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from checks.models import CheckResultRow, CheckRollup, CheckStateRow
from dutydesk.core.db import Database, utcnow
from dutydesk.models import AuditEntry, Role

from ..conftest import PASSWORD, make_user
from .test_checks_web import add_check

pytestmark = pytest.mark.browser


def test_engineer_opens_the_list_and_a_detail_page_and_runs_a_check_now(
    live_server: Any, page: Any, db: Database, output_dir: Path
) -> None:
    ups = add_check(db, "ups-a", "Hall A / UPS", status="CRITICAL", attempt=3)
    add_check(db, "ups-b", "Hall A / UPS")
    add_check(db, "crac-1", "Hall B / Cooling", status="WARNING", in_maintenance=True)
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with db.session() as s:
        for i in range(30):
            s.add(CheckResultRow(check_id=ups, started_at=now - timedelta(minutes=30 - i),
                                 status="CRITICAL" if i > 26 else "OK",
                                 message="on battery" if i > 26 else "online",
                                 duration=0.02 + 0.01 * (i % 7)))
        for day in range(1, 60):
            s.add(CheckRollup(check_id=ups, resolution="day",
                              bucket_start=today - timedelta(days=day), count=1440,
                              up_count=1440 if day % 17 else 1300))
    user = make_user(db, Role.ENGINEER)
    page.goto(live_server.url + "/checks")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/checks")

    hall_a = page.locator('section[data-group="Hall A / UPS"]')
    assert "1 CRITICAL" in hall_a.locator("h2").inner_text()
    first = hall_a.locator("tbody tr").first
    assert first.get_attribute("data-check") == "ups-a"  # worst first
    assert page.locator('tr[data-check="crac-1"] .st-maintenance').is_visible()
    page.screenshot(path=str(output_dir / "checks-list.png"), full_page=True)

    first.locator("a").first.click()
    page.wait_for_url(f"**/checks/{ups}")
    assert page.locator("svg.sparkline polyline").is_visible()
    assert page.locator(".uptime-bar.days span").count() == 90
    assert page.locator(".uptime-bar.days span.up-crit").count() == 3  # days 17, 34, 51
    page.screenshot(path=str(output_dir / "checks-detail.png"), full_page=True)

    page.click("#run-now")
    page.wait_for_url(f"**/checks/{ups}")
    assert "will run" in page.locator(".flash-ok").inner_text()
    with db.session() as s:
        assert s.get(CheckStateRow, ups).next_due_at <= utcnow()
        assert s.scalar(select(AuditEntry.actor).where(
            AuditEntry.action == "check.run_now")) == user.email
