"""Walls of several sites in Chromium: the head office's strip, a site's kiosk, a probe's row.

Screenshots go to test-output/ (wall-sites-head-office.png, wall-site-kiosk.png, ...)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk import accounts
from dutydesk.core.db import Database
from tests.dutydesk.test_accessibility_browser import axe
from tests.dutydesk.wall.site import seed_big_site
from tests.dutydesk.wall.sites_data import add_probe, add_site, default_site, spread_over_sites
from tests.dutydesk.wall.test_wall_screen_browser import MEASURE

pytestmark = pytest.mark.browser
LIVE_MS = 12000  # the feed re-reads the wall every 5 s for what only time changes


def kiosk(db: Database, site: str | None) -> str:
    with db.session() as s:
        _link, token = accounts.create_kiosk_link(s, "test", name="Hall screen", site=site)
    return token


def open_page(browser: Any, url: str, locale: str = "en-GB") -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale=locale)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#wall")
    page.wait_for_function("document.querySelector('.wall-live:not(.lost)') !== null")
    page.wait_for_timeout(1500)
    return context, page


def expected_counts(db: Database, site_id: int) -> dict[str, int]:
    from checks.models import Check, CheckStateRow

    with db.session() as s:
        rows = dict(s.execute(
            select(CheckStateRow.status, func.count())
            .join(Check, Check.id == CheckStateRow.check_id)
            .where(Check.site_id == site_id, CheckStateRow.in_maintenance.is_(False))
            .group_by(CheckStateRow.status)).all())
    return {"critical": rows.get("CRITICAL", 0), "warning": rows.get("WARNING", 0)}


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_head_office_strip_shows_each_sites_counts_on_one_readable_screen(
    browser: Any, live_server: Any, db: Database, heartbeat: None, output_dir: Path, lang: str
) -> None:
    seed_big_site(db, checks=5000, incidents=200)
    site_ids = spread_over_sites(db)
    add_probe(db, site_ids[1], "kyiv-dc2-a", silent=timedelta(minutes=12), buffered=1234)
    locale = {"en": "en-GB", "ru": "ru-RU", "uk": "uk-UA"}[lang]
    context, page = open_page(browser, f"{live_server.url}/kiosk/{kiosk(db, None)}", locale)
    try:
        cells = page.locator(".wall-sites .wall-site")
        assert cells.count() == 5
        kyiv = page.locator('.wall-site[data-site="kyiv-dc2"]')
        want = expected_counts(db, site_ids[1])
        assert int(kyiv.locator('[data-count="critical"] b').inner_text()) == want["critical"]
        assert int(kyiv.locator('[data-count="warning"] b').inner_text()) == want["warning"]
        assert kyiv.locator('[data-count="probes"]').count() == 1  # its probe is offline
        assert page.locator('.wall-probe[data-probe="kyiv-dc2-a"]').is_visible()
        found = page.evaluate(MEASURE)
        assert found["scroll"] == [False, False], "the wall scrolls"
        assert found["small"] == [], f"must-read text under 32 px: {found['small']}"
        assert found["cut"] == [] and found["clipped"] == [], found
        for selector in (".wall-sites", ".wall-probes", ".wall-clock",
                         '[data-section="problems"] > :not([hidden])'):
            box = page.locator(selector).first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 1081, selector
        violations = axe(page)
        assert violations == [], json.dumps(violations, indent=1, ensure_ascii=False)
        page.screenshot(path=str(output_dir / f"wall-sites-head-office-{lang}.png"))
        kyiv.locator("a").click()  # a cell opens that site's wall
        page.wait_for_url("**/wall?site=kyiv-dc2")
        assert page.locator("h1.wall-site-name").inner_text() == "Kyiv DC2"
    finally:
        context.close()


def test_a_sites_kiosk_sees_only_its_site_and_cannot_widen_by_url(
    browser: Any, live_server: Any, db: Database, checks: Any, heartbeat: None, output_dir: Path
) -> None:
    kyiv = add_site(db, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv")
    lviv = add_site(db, "lviv", "Lviv", "Europe/Kyiv")
    checks.add("kyiv-ups", "Hall K / UPS", "CRITICAL", site_id=kyiv)
    lviv_crac = checks.add("lviv-crac", "Hall L / Cooling", "WARNING", site_id=lviv)
    checks.add("home-ok", site_id=default_site(db))
    context, page = open_page(browser, f"{live_server.url}/kiosk/{kiosk(db, 'kyiv-dc2')}")
    try:
        assert page.locator("h1.wall-site-name").inner_text() == "Kyiv DC2"
        assert "kyiv-ups" in page.locator("#wall").inner_text()
        assert "lviv-crac" not in page.locator("#wall").inner_text()
        assert page.locator(".wall-sites .wall-site").count() == 0
        checks.set_status(lviv_crac, "CRITICAL", "supply air 31 C")  # another site: not here
        page.wait_for_timeout(3000)
        assert "lviv-crac" not in page.locator("#wall").inner_text()
        violations = axe(page)
        assert violations == [], json.dumps(violations, indent=1, ensure_ascii=False)
        page.screenshot(path=str(output_dir / "wall-site-kiosk.png"))
        for url in ("/wall?site=lviv", "/wall"):
            response = page.goto(f"{live_server.url}{url}")
            if url == "/wall":
                assert response.status == 200 and "lviv-crac" not in page.content()
            else:
                assert response.status == 403
                assert "Kyiv DC2" in page.content()
    finally:
        context.close()


def test_an_offline_probe_appears_on_its_sites_wall_and_goes_when_healthy(
    browser: Any, live_server: Any, db: Database, checks: Any, heartbeat: None, output_dir: Path
) -> None:
    from sqlalchemy import update

    from dutydesk.core.db import utcnow
    from dutydesk.sites.models import Probe

    kyiv = add_site(db, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv")
    checks.add("kyiv-ups", "Hall K / UPS", site_id=kyiv)
    context, page = open_page(browser, f"{live_server.url}/kiosk/{kiosk(db, 'kyiv-dc2')}")
    try:
        assert page.locator(".wall-probe").count() == 0
        probe_id = add_probe(db, kyiv, "kyiv-dc2-a", silent=timedelta(minutes=15),
                             buffered=1234, dropped=12)
        row = page.locator('.wall-probe[data-probe="kyiv-dc2-a"]')
        row.wait_for(timeout=LIVE_MS)
        text = row.inner_text()
        assert "no contact since" in text and "(site time)" in text
        assert "1,234 results buffered" in text and "12 results dropped" in text
        assert row.locator("xpath=ancestor::*[contains(@class,'wall-group')]").count() == 0
        violations = axe(page)
        assert violations == [], json.dumps(violations, indent=1, ensure_ascii=False)
        page.screenshot(path=str(output_dir / "wall-site-probe-offline.png"))
        with db.session() as s:  # it pushes again, its buffer drained
            s.execute(update(Probe).where(Probe.id == probe_id)
                      .values(last_contact_at=utcnow(), buffer_depth=0))
        row.wait_for(state="detached", timeout=LIVE_MS)
    finally:
        context.close()
