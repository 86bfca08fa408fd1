"""The wall as a duty room sees it, in Chromium: one screen whatever the site's size, readable
from 3 m, in the wall's language and the site's zone, and never pretending to be live.

Screenshots go to test-output/ (wall-5000-en.png, wall-demo-ru.png, ...)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dutydesk import accounts
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.wall.views import HEARTBEAT_SECONDS
from tests.dutydesk.wall.site import demo_states, seed_big_site, seed_demo_people

pytestmark = pytest.mark.browser
LOCALES = {"en": "en-GB", "ru": "ru-RU", "uk": "uk-UA"}
BROWSER_ZONE = "America/New_York"  # the kiosk's zone; the site (settings) is Europe/Kyiv
MUST_READ_PX = 32

# Everything a duty engineer must see, each on screen: header counts, the problems, the open
# incidents and how many more, who is on duty, visitors, maintenance, the clock.
PANELS = [
    ".wall-counts .unhandled .n",
    ".wall-counts .incidents b",
    '[data-section="problems"] > :not([hidden])',
    ".wall-incidents .incident[data-incident]",
    ".wall-foot [data-key=duty]",
    ".wall-foot [data-key=visitors]",
    ".wall-foot [data-key=maintenance]",
    ".wall-clock",
]

MEASURE = "\n".join(
    line
    for line in (Path(__file__).parent / "measure_wall.js").read_text().splitlines()
    if not line.startswith("//")
)


@pytest.fixture
def kiosk_token(db: Database) -> str:
    with db.session() as s:
        _link, token = accounts.create_kiosk_link(s, "test", name="NOC wall")
    return token


def open_wall(
    browser: Any, url: str, lang: str, width: int = 1920, height: int = 1080
) -> tuple[Any, Any]:
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale=LOCALES[lang],
        timezone_id=BROWSER_ZONE,
    )
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#wall")
    page.wait_for_function("document.querySelector('.wall-live:not(.lost)') !== null")
    page.wait_for_timeout(1500)  # the stream's first wall and the browser's fit have run
    return context, page


def assert_one_readable_screen(page: Any) -> dict[str, Any]:
    for selector in PANELS:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, f"{selector} is not on the screen"
        viewport = page.viewport_size
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 1, selector
    found = page.evaluate(MEASURE)
    assert found["scroll"] == [False, False], "the wall scrolls"
    assert found["small"] == [], f"must-read text under {MUST_READ_PX} px: {found['small']}"
    assert found["cut"] == [] and found["clipped"] == [], found
    assert found["unhandledPx"] == found["biggest"], found["largest"]
    return found


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_a_5000_check_site_fits_one_readable_screen_in_the_walls_language(
    browser: Any,
    live_server: Any,
    db: Database,
    settings: Settings,
    kiosk_token: str,
    lang: str,
    output_dir: Path,
) -> None:
    seed_demo_people(db, settings)
    demo_states(db)
    seed_big_site(db, checks=5000, incidents=200)
    context, page = open_wall(browser, f"{live_server.url}/kiosk/{kiosk_token}", lang)
    try:
        page.screenshot(path=str(output_dir / f"wall-5000-{lang}.png"))
        found = assert_one_readable_screen(page)
        more = page.locator(".incident-more").inner_text()
        assert any(ch.isdigit() for ch in more)  # "+196 more (130 breached)"
        summaries = page.locator(".wall-group.collapsed").count()
        assert summaries > 0  # groups that did not fit are summarised, not dropped
        # the site's clock, not the kiosk browser's
        kyiv = datetime.now(ZoneInfo("Europe/Kyiv")).strftime("%H:%M")
        assert page.locator(".wall-clock").inner_text().startswith(kyiv[:4])
        text = page.locator("#wall").inner_text()
        if lang != "en":
            for english in ("not acknowledged", "more", "On duty", "crit", "breached", "handled"):
                assert english not in text, f"English {english!r} on a {lang} wall"
        print(f"wall-5000-{lang}: largest {found['biggest']} px, {summaries} group summaries")
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (3840, 2160)])
def test_the_big_site_fits_smaller_and_bigger_screens_too(
    browser: Any,
    live_server: Any,
    db: Database,
    settings: Settings,
    kiosk_token: str,
    width: int,
    height: int,
    output_dir: Path,
) -> None:
    seed_demo_people(db, settings)
    demo_states(db)
    seed_big_site(db, checks=5000, incidents=200)
    context, page = open_wall(
        browser, f"{live_server.url}/kiosk/{kiosk_token}", "en", width, height
    )
    try:
        page.screenshot(path=str(output_dir / f"wall-5000-{width}x{height}.png"))
        for selector in PANELS:
            box = page.locator(selector).first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= height + 1, selector
        assert page.evaluate(MEASURE)["scroll"] == [False, False]
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_the_demo_wall_stays_in_its_language_after_a_live_update(
    browser: Any,
    live_server: Any,
    db: Database,
    settings: Settings,
    kiosk_token: str,
    lang: str,
    output_dir: Path,
) -> None:
    from sqlalchemy import select

    from checks.models import Check
    from tests.dutydesk.wall.conftest import Checks

    seed_demo_people(db, settings)
    demo_states(db)
    context, page = open_wall(browser, f"{live_server.url}/kiosk/{kiosk_token}", lang)
    try:
        page.screenshot(path=str(output_dir / f"wall-demo-{lang}.png"))
        assert_one_readable_screen(page)
        with db.session() as s:
            crac = s.scalar(select(Check.id).where(Check.slug == "core-sw-b"))
        Checks(db).set_status(crac, "CRITICAL", "uplink down")
        page.locator(f'.tile[data-check="{crac}"]').wait_for(timeout=8000)
        badge = page.locator(f'.tile[data-check="{crac}"] .badge').inner_text()
        expected = {"en": "CRITICAL", "ru": "КРИТИЧНО", "uk": "КРИТИЧНО"}[lang]
        assert badge == expected
        assert_one_readable_screen(page)
        page.screenshot(path=str(output_dir / f"wall-demo-{lang}-updated.png"))
    finally:
        context.close()


# --------------------------------------------------------------------------- not live


@pytest.fixture
def server_process(settings: Settings, db: Database) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The app in its own process, so the test can freeze it (SIGSTOP) like a hung server."""
    overrides = {
        "env": "testing",
        "database_url": settings.database_url,
        "secret_key": settings.secret_key,
        "instance_path": str(settings.instance_path),
        "timezone": settings.timezone,
    }
    script = Path(__file__).with_name("serve_wall.py")
    process = subprocess.Popen(
        [sys.executable, str(script), json.dumps(overrides)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening "), line
    try:
        yield f"http://127.0.0.1:{line.split()[1]}", process
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(10)


def test_a_hung_server_shows_not_live_within_two_heartbeats_and_recovers_by_itself(
    browser: Any,
    server_process: tuple[str, subprocess.Popen[str]],
    db: Database,
    kiosk_token: str,
    checks: Any,
    heartbeat: None,
    output_dir: Path,
) -> None:
    url, process = server_process
    checks.add("ups-a")
    context, page = open_wall(browser, f"{url}/kiosk/{kiosk_token}", "en")
    try:
        banner = page.locator(".wall-notlive")
        assert banner.is_hidden()
        process.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        banner.wait_for(state="visible", timeout=2 * HEARTBEAT_SECONDS * 1000 + 1500)
        waited = time.monotonic() - stopped
        print(f"NOT LIVE shown {waited:.1f} s after SIGSTOP (heartbeat {HEARTBEAT_SECONDS} s)")
        assert waited <= 2 * HEARTBEAT_SECONDS + 1.5
        text = banner.inner_text()
        assert "NOT LIVE since" in text and "data may be stale" in text
        since = text.split("since", 1)[1].split()[0]
        assert len(since) == 8 and since.count(":") == 2  # HH:MM:SS
        assert "lost" in (page.locator(".wall-live").get_attribute("class") or "")
        box = banner.bounding_box()
        assert box is not None and box["width"] >= 0.95 * 1920  # the full width
        page.screenshot(path=str(output_dir / "wall-not-live.png"))

        process.send_signal(signal.SIGCONT)
        banner.wait_for(state="hidden", timeout=6 * HEARTBEAT_SECONDS * 1000)
        assert "lost" not in (page.locator(".wall-live").get_attribute("class") or "")
    finally:
        context.close()
