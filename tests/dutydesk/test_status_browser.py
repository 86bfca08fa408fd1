"""The status page as people use it, in a real browser: an engineer publishes a notice drafted
from an incident, employees read it in English and Russian (also without JavaScript and on a
phone), a subscriber gets the mail on a real SMTP server, the feed and JSON carry it, and
resolving it turns the page green again."""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.sender import deliver_due
from shifts.notices import service as svc
from tests.conftest import PASSWORD, make_user
from tests.dutydesk.notify.receivers import SmtpServer
from tests.dutydesk.test_incidents_web import open_incident

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def services(db: Database) -> None:
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=utcnow())
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=utcnow())
        svc.save_service(s, "admin", slug="vpn", name="VPN", group_id=group.id, now=utcnow())


def deliver(db: Database, settings: Settings, smtp: SmtpServer) -> None:
    deliver_due(db, dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                        smtp_from="status@dc.example"))


def fetch(url: str, **headers: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
        return r.read()


def text_of(message: Any) -> str:
    return message.get_body(preferencelist=("plain", "html")).get_content()


def test_a_notice_from_an_incident_reaches_page_languages_mail_feed_json_and_goes_green(
        page: Any, browser: Any, live_server: Any, app: Any, db: Database, settings: Settings,
        smtp: SmtpServer, services: None, output_dir: Path) -> None:
    base = live_server.url
    # An employee subscribes by email and confirms (double opt-in) from the real mailbox.
    visitor = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    tab = visitor.new_page()
    tab.goto(base + "/status/subscribe")
    tab.fill("input[name=email]", "olena@dc.example")
    tab.click("button[type=submit]")
    assert "Check your mailbox" in tab.locator("main").inner_text()
    deliver(db, settings, smtp)
    confirm = re.search(r"/status/subscribe/confirm/[\w.\-]+", text_of(smtp.mailbox.messages[0]))
    assert confirm is not None
    tab.goto(base + confirm.group(0))
    assert "confirmed" in tab.locator("main").inner_text()

    # The engineer drafts a notice from the incident with one click and publishes it.
    incident = open_incident(db, app, summary="Mail relay down")
    engineer = make_user(db, "engineer")
    page.goto(base + "/login")
    page.fill("input[name=email]", engineer.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{base}/notices/new?incident={incident}&title=Mail%20down")
    assert page.input_value("input[name=title]") == "Mail down"
    assert page.input_value("input[name=incident]") == str(incident)
    page.check("input[name=services][value=mail]")
    page.select_option("select[name=impact-mail]", "major_outage")
    page.fill("textarea[name=body]", "Nobody can send mail. We are **on it**.")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r".*/notices/\d+$"))
    notice_url = page.url

    # Employees see it, in English and in Russian.
    tab.goto(base + "/status")
    assert tab.locator(".headline h1").inner_text() == "Major outage: Mail"
    assert "Mail down" in tab.locator("section.active").inner_text()
    tab.screenshot(path=str(output_dir / "status-outage-1920.png"), full_page=True)
    tab.goto(base + "/status?lang=ru")
    assert "Серьёзный сбой: Mail" in tab.locator(".headline h1").inner_text()
    assert "Выясняем причину" in tab.locator("section.active").inner_text()
    russian = fetch(base + "/status", **{"Accept-Language": "ru-RU,ru;q=0.9"}).decode()
    assert "Серьёзный сбой: Mail" in russian
    visitor.close()

    # A phone, without JavaScript: the same page, readable, nothing hidden behind scripts.
    phone = browser.new_context(viewport={"width": 375, "height": 812}, java_script_enabled=False,
                                locale="en-GB", is_mobile=True)
    small = phone.new_page()
    small.goto(base + "/status")
    assert small.locator(".headline h1").inner_text() == "Major outage: Mail"
    assert small.locator("svg.bars").count() == 2
    for part in (".headline", "svg.bars >> nth=0", "section.active"):
        box = small.locator(part).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, part
    small.screenshot(path=str(output_dir / "status-outage-375.png"), full_page=True)
    phone.close()

    # The subscriber gets the notice by mail; the Atom feed and summary.json carry it.
    deliver(db, settings, smtp)
    notice_mails = [m for m in smtp.mailbox.messages if "Mail down" in str(m["Subject"])
                    or "Mail down" in text_of(m)]
    assert notice_mails and notice_mails[0]["To"] == "olena@dc.example"
    feed = ET.fromstring(fetch(base + "/status/feed.atom"))
    assert any("Mail down" in (e.findtext(f"{ATOM}title") or "")
               for e in feed.iter(f"{ATOM}entry"))
    summary = json.loads(fetch(base + "/api/v2/summary.json"))
    assert [i["name"] for i in summary["incidents"]] == ["Mail down"]
    assert summary["status"]["indicator"] in ("major", "critical")

    # Resolving it turns the page green again, in both languages.
    page.goto(notice_url)
    page.select_option("select[name=status]", "resolved")
    page.fill("textarea[name=body]", "Mail flows again.")
    page.click("form.stack button[type=submit]")
    page.wait_for_url(notice_url)
    green = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB",
                                java_script_enabled=False)
    view = green.new_page()
    view.goto(base + "/status")
    assert view.locator(".headline h1").inner_text() == "All systems operational"
    view.screenshot(path=str(output_dir / "status-green-1920.png"), full_page=True)
    view.goto(base + "/status?lang=ru")
    assert view.locator(".headline h1").inner_text() == "Все системы работают нормально"
    green.close()
    assert json.loads(fetch(base + "/api/v2/summary.json"))["incidents"] == []
