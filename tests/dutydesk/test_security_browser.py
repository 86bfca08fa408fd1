"""Pages whose inline handlers moved to static JS still behave in Chromium under the CSP: deleting
a check asks first (and a "no" keeps it), print buttons print, and no page reports a CSP
violation."""

from __future__ import annotations

from typing import Any

import pytest

from checks.models import Check
from dutydesk.core.db import Database
from dutydesk.models import Role

from ..conftest import PASSWORD, make_user
from .test_checks_web import add_check

pytestmark = pytest.mark.browser


def _sign_in(page: Any, live_server: Any, db: Database, path: str) -> None:
    admin = make_user(db, Role.ADMIN)
    page.goto(live_server.url + path)
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + path)


def test_deleting_a_check_asks_first_and_no_keeps_it(
    live_server: Any, page: Any, db: Database
) -> None:
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    check_id = add_check(db, "ups-a", "Hall A / UPS")
    _sign_in(page, live_server, db, f"/checks/{check_id}")
    questions: list[str] = []

    def answer_no(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer_no)
    page.click("form[data-confirm] button.danger")
    page.wait_for_timeout(300)
    assert questions == ["Delete this check and its history?"]
    with db.session() as s:
        assert s.get(Check, check_id) is not None

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("form[data-confirm] button.danger")
    with db.session() as s:
        assert s.get(Check, check_id) is None
    page.goto(live_server.url + "/wall")
    page.wait_for_timeout(500)
    assert violations == []


def test_print_buttons_print_without_inline_script(
    live_server: Any, page: Any, db: Database
) -> None:
    _sign_in(page, live_server, db, "/visitors/on-site")
    # (the expression ends in a number: Playwright would call a function it evaluates to)
    page.evaluate("window.__printed = 0; window.print = () => { window.__printed += 1; }; 0")
    page.click("button[data-print]")
    assert page.evaluate("window.__printed") == 1
