"""Every screen a person uses passes axe-core in Chromium with no serious or critical violation:
sign-in, the wall, incidents (list and one incident), shifts and the schedule editor, the visitor
desk, the status page, reports, checks and the error pages. The report of each run is written to
test-output/axe.json (each violation with its rule, impact and the elements)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from tests.dutydesk.wall.site import demo_states, seed_demo_people

pytestmark = pytest.mark.browser
AXE = Path(__file__).parents[1] / "assets" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def axe(page: Any) -> list[dict[str, Any]]:
    """Serious and critical violations on the page as it is now (WCAG 2.x A and AA rules)."""
    # Evaluated through the DevTools protocol: a <script> tag would be refused by our own CSP
    # (script-src 'self'), which is exactly what the pages must keep.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => (await axe.run(document, {
             runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
           })).violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
             nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
    )
    return [v for v in result if v["impact"] in BLOCKING]


def screens(db: Database) -> dict[str, str]:
    from dutydesk.incidents.models import Incident
    from shifts.models import ShiftScheduleRow as Schedule

    with db.session() as s:
        incident = s.scalar(select(Incident.id).limit(1))
        schedule = s.scalar(select(Schedule.id).limit(1))
    return {
        "wall": "/wall",
        "incidents": "/incidents",
        "incident": f"/incidents/{incident}",
        "shifts": "/shifts",
        "schedule editor": f"/shifts/schedules/{schedule}",
        "visitor desk": "/visitors/",
        "status page": "/status",
        "reports": "/reports",
        "checks": "/checks",
        "check editor": "/checks/new",
        "facility inputs": "/admin/facility",
        "remote probes": "/admin/probes",
        "sites": "/admin/sites",
        "site maintenance": "/checks/sites/default",
        "chat accounts": "/account/chat",
        "not found": "/no-such-page",
    }


def test_no_screen_has_a_serious_or_critical_accessibility_violation(
    browser: Any, live_server: Any, db: Database, settings: Settings, output_dir: Path
) -> None:
    seed_demo_people(db, settings)
    demo_states(db)
    from dutydesk.core.db import utcnow
    from dutydesk.sites.service import create_probe

    with db.session() as s:
        create_probe(s, "default", "kyiv-dc2", utcnow())  # a row on the probes screen
    found: dict[str, list[dict[str, Any]]] = {}
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        found["login"] = axe(page)
        page.fill("input[name=email]", "admin@dc.example")
        page.fill("input[name=password]", "a" * 12)
        page.press("input[name=password]", "Enter")
        page.wait_for_load_state()
        for name, path in screens(db).items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state()
            if name == "wall":
                page.wait_for_timeout(1500)  # the live feed has applied its first wall
            found[name] = axe(page)
            page.screenshot(path=str(output_dir / f"screen-{name.replace(' ', '-')}.png"))
    finally:
        context.close()
    (output_dir / "axe.json").write_text(json.dumps(found, indent=2, ensure_ascii=False))
    failing = {name: violations for name, violations in found.items() if violations}
    assert failing == {}, json.dumps(failing, indent=1, ensure_ascii=False)


def _sign_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_the_screens_in_russian_and_ukrainian_have_no_serious_violation_either(
    browser: Any, live_server: Any, db: Database, settings: Settings, output_dir: Path,
    language: str,
) -> None:
    """Longer words, other scripts: the translated screens keep their labels, names and
    contrast (a label lost in a translation would show here)."""
    from dutydesk.models import User

    seed_demo_people(db, settings)
    demo_states(db)
    with db.session() as s:
        s.scalar(select(User).where(User.email == "lead@dc.example")).language = language
    found: dict[str, list[dict[str, Any]]] = {}
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    try:
        _sign_in(page, live_server.url, "lead@dc.example", "l" * 12)
        assert page.evaluate("document.documentElement.lang") == language
        for name, path in {**screens(db), "requests": "/requests", "help": "/help",
                           "catalog": "/catalog", "knowledge base": "/kb"}.items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state()
            found[name] = axe(page)
    finally:
        context.close()
    (output_dir / f"axe-{language}.json").write_text(
        json.dumps(found, indent=2, ensure_ascii=False))
    failing = {name: violations for name, violations in found.items() if violations}
    assert failing == {}, json.dumps(failing, indent=1, ensure_ascii=False)


def test_the_forbidden_page_has_no_serious_violation(
    browser: Any, live_server: Any, db: Database, settings: Settings
) -> None:
    seed_demo_people(db, settings)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
    page = context.new_page()
    try:
        _sign_in(page, live_server.url, "ivan@dc.example", "e" * 12)
        response = page.goto(f"{live_server.url}/admin/facility")
        assert response is not None and response.status == 403
        assert axe(page) == []
    finally:
        context.close()
