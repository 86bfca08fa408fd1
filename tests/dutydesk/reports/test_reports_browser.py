"""The reports in Chromium: a shift lead opens October, every section draws its chart, the form
narrows the report, a CSV downloads with the page's cells, and the monthly page prints on A4
(screenshots and the PDF saved)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from dutydesk.core.db import Database
from dutydesk.models import Role
from tests.conftest import PASSWORD, make_user
from tests.dutydesk.reports.seed import seed_october

pytestmark = pytest.mark.browser
SECTIONS = ["sla", "response", "sources", "heatmap", "reassignments", "engineers",
            "availability", "visitors"]


def sign_in(page: Any, base: str, email: str, target: str) -> None:
    page.goto(base + target)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + target)


def test_a_shift_lead_reads_october_with_charts_filters_csv_and_print(
    live_server: Any, page: Any, db: Database, output_dir: Path
) -> None:
    october = seed_october(db)
    ping_pong = f"#{october.incidents['C']}"
    lead = make_user(db, Role.SHIFT_LEAD)
    base = live_server.url
    sign_in(page, base, lead.email, "/reports?month=2026-10")
    assert page.locator("h1").inner_text() == "Reports · 2026-10"

    for section in SECTIONS:  # every section draws at least one chart, really on screen
        charts = page.locator(f"#{section} svg.ddc")
        assert charts.count() >= 1, section
        box = charts.first.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 80, section
        assert charts.first.is_visible(), section
    # Real marks, not "No data": SLA bars, two trend lines, six lit heat-map hours.
    assert page.locator("#sla svg.ddc rect.ddc-bar").count() == 7  # P4 resolve: undecided
    assert page.locator("#response svg.ddc .ddc-series .ddc-line").count() >= 2
    assert page.locator("#heatmap svg.ddc rect.ddc-cell:not(.ddc-h0)").count() == 6
    assert ping_pong in page.locator("#reassignments svg.ddc").inner_html()
    assert "VPN refuses logins" in page.locator("#sla table[data-report=breaches]").inner_text()
    page.screenshot(path=str(output_dir / "reports-october.png"), full_page=True)

    page.select_option("select[name=priority]", "P1")
    page.click("button[name=kind][value=month]")
    page.wait_for_url("**/reports?*priority=P1*")
    total = page.locator("table[data-report=sla] tbody tr").last.locator("td").nth(1)
    assert total.inner_text() == "2"  # A and B are the P1 incidents of October

    with page.expect_download() as download:
        page.click("#sla a.csv")
    body = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    shown = [[cell.inner_text() for cell in row.locator("td").all()]
             for row in page.locator("table[data-report=sla] tbody tr").all()]
    assert rows[1:] == shown

    page.goto(base + "/reports/print?month=2026-10")
    assert page.locator("svg.ddc").count() >= 6
    assert page.locator("h1").inner_text() == "DutyDesk monthly report 2026-10"
    page.emulate_media(media="print")
    assert not page.locator(".no-print").first.is_visible()
    page.screenshot(path=str(output_dir / "reports-print.png"), full_page=True)
    pdf = page.pdf(path=str(output_dir / "reports-october.pdf"), prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") > 1
