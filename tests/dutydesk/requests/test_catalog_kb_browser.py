"""The catalog and the knowledge base in a real browser: an employee typing a request sees
matching articles appear (static JS, JSON endpoint), opens one and says "this solved it"; the
desk's knowledge-base and catalog screens, and a request's "resolve with article", pass axe-core
(no serious or critical violation)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.requests import service as req
from dutydesk.requests.catalog.items import parse_item
from dutydesk.requests.catalog.store import get_item, save_item
from dutydesk.requests.kb.models import DeflectionRow
from dutydesk.requests.kb.store import create_article
from dutydesk.requests.mail import requester_token
from shifts.notices import service as svc
from tests.conftest import PASSWORD, make_user
from tests.dutydesk.test_accessibility_browser import axe

pytestmark = pytest.mark.browser

PRINTER = {"visibility": "public", "services": ["printing"], "texts": {
    "en": {"title": "The printer does not print", "body": "Replace the **cartridge**."},
    "uk": {"title": "Принтер не друкує", "body": "Замініть *картридж*."}}}


def test_suggestions_while_typing_and_the_desk_screens(
        browser: Any, page: Any, live_server: Any, db: Database, settings: Settings) -> None:
    base = live_server.url
    with db.session() as s:
        svc.save_service(s, "admin", slug="printing", name="Printing", now=utcnow())
        article = create_article(s, "lead", PRINTER, utcnow()).id
        item = save_item(s, "lead", parse_item({
            "service": "printing", "slug": "toner", "name": {"en": "New toner", "uk": "Тонер"},
            "fields": [{"name": "room", "label": {"en": "Room", "uk": "Кімната"},
                        "required": True}], "approval": "shift_lead"}), utcnow()).id
        request_id = req.create_request(
            s, settings, "olga", req.Requester("ivan@corp.example", "Іван", "uk"),
            service="printing", subject="Printer does not print", description="Help",
            now=utcnow()).id
        pending = req.create_request(
            s, settings, "olga", req.Requester("ivan@corp.example"), service="printing",
            description="Toner please", now=utcnow(), catalog_item=get_item(s, item),
            fields={"room": "2.01"}).id
    found: dict[str, Any] = {}
    employee = browser.new_context(viewport={"width": 1280, "height": 900}, locale="uk-UA")
    tab = employee.new_page()
    my = f"/help/my/{requester_token(settings.secret_key, 'oksana@corp.example')}"
    tab.goto(f"{base}{my}?service=printing&q=принтер&item={item}")
    found["help, first step"] = axe(tab)
    tab.fill("#r-description", "Принтер на третьому поверсі")
    tab.wait_for_selector("#kb-live li a")
    assert "Принтер не друкує" in tab.locator("#kb-live").inner_text()
    found["help, suggestions"] = axe(tab)
    tab.click("#kb-live li a")
    assert "Замініть" in tab.locator("main").inner_text()
    found["article"] = axe(tab)
    tab.click("text=Так, це допомогло")
    tab.wait_for_load_state()
    employee.close()
    with db.session() as s:
        assert s.scalar(select(DeflectionRow.email)) == "oksana@corp.example"

    lead = make_user(db, "shift_lead")
    page.goto(base + "/login")
    page.fill("input[name=email]", lead.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    for name, path in {"knowledge base": "/kb", "kb article": f"/kb/{article}",
                       "kb editor": f"/kb/{article}/edit", "kb history": f"/kb/{article}/history",
                       "catalog": "/catalog", "catalog editor": f"/catalog/{item}/edit",
                       "log a call, catalog item": f"/requests/new?service=printing&"
                                                   f"catalog_item={item}",
                       "request awaiting approval": f"/requests/{pending}",
                       "request": f"/requests/{request_id}"}.items():
        page.goto(base + path)
        page.wait_for_load_state()
        found[name] = axe(page)
    page.click("button[value=resolve_with_article]")
    page.wait_for_load_state()
    assert "Resolved" in page.locator("dl.facts").inner_text()
    assert {k: v for k, v in found.items() if v} == {}
