"""Requests in a real browser: an employee on a phone, without JavaScript, gets the link from a
real mailbox, sees the known outage, says "me too", sends another request; the engineer's queue
and the request page work from the keyboard; every screen passes axe-core (no serious or
critical violation)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.sender import deliver_due
from dutydesk.requests.models import IncidentFollower, ServiceRequest
from shifts.notices import service as svc
from tests.conftest import PASSWORD, make_user
from tests.dutydesk.notify.receivers import SmtpServer
from tests.dutydesk.test_accessibility_browser import axe

from .test_requests_web import outage


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def test_an_employee_on_a_phone_without_javascript_and_the_engineer_at_the_queue(
        browser: Any, page: Any, live_server: Any, db: Database, settings: Settings,
        smtp: SmtpServer, output_dir: Any) -> None:
    base = live_server.url
    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
    incident_id = outage(db, settings)
    phone = browser.new_context(viewport={"width": 375, "height": 740}, locale="ru-RU",
                                java_script_enabled=False)
    tab = phone.new_page()
    tab.goto(base + "/help")
    assert "Обратиться в службу поддержки" in tab.locator("h1").inner_text()
    tab.fill("input[name=email]", "anna@corp.example")
    tab.click("text=Прислать мне ссылку")
    assert "Проверьте почту" in tab.locator("h1").inner_text()
    deliver_due(db, dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port))
    body = smtp.mailbox.messages[-1].get_content()
    link = re.search(r"/help/my/[\w.\-]+", body).group(0)  # type: ignore[union-attr]

    tab.goto(base + link)
    tab.select_option("#service-pick", "mail")
    tab.click("text=Показать, что известно")
    assert "Mail is down" in tab.locator("main").inner_text()
    tab.click("text=У меня тоже, держите в курсе")
    assert "будем держать вас в курсе" in tab.locator("main").inner_text()
    tab.select_option("#r-service", "mail")
    tab.fill("#r-description", "Принтер на 3 этаже не печатает")
    tab.click("text=Отправить обращение")
    assert "зарегистрировано" in tab.locator("main").inner_text()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    with db.session() as s:
        assert s.scalar(select(IncidentFollower.email)) == "anna@corp.example"
        [request_id] = s.scalars(select(ServiceRequest.id)).all()

    engineer = make_user(db, "engineer")
    page.goto(base + "/login")
    page.fill("input[name=email]", engineer.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(base + "/requests")
    assert f"REQ-{request_id}" in page.locator("table.queue").inner_text()
    found = {"queue": axe(page)}
    page.click(f"text=REQ-{request_id}")
    page.fill("#a-text", "Уже идём")
    page.click("button[value=reply]")
    assert "Service desk replied" in page.locator("ol.timeline").inner_text()
    page.set_input_files("#a-file", files=[{"name": "screen.png", "mimeType": "image/png",
                                            "buffer": b"\x89PNG\r\n\x1a\n" + b"\0" * 64}])
    page.click("form[enctype] button[type=submit]")
    assert "screen.png" in page.locator("ul.files").inner_text()
    page.screenshot(path=str(output_dir / "request-with-file.png"), full_page=True)
    found["request"] = axe(page)
    page.goto(base + "/requests/new?service=mail")
    # typing starts at once (autofocus is applied once the page is shown: wait for it)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'c-email'",
                           timeout=5000)
    assert f"#{incident_id}" in page.locator("fieldset").inner_text()
    found["log a call"] = axe(page)
    page.goto(base + "/help")
    found["help"] = axe(page)
    assert found == {"queue": [], "request": [], "log a call": [], "help": []}
