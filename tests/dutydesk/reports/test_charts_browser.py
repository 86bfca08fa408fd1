"""The report charts in a real headless Chromium: they take room on the page and show their
bars, lines and cells, on the dark theme and on white paper (screenshots saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dutydesk.reports.charts import Series, bar_chart, heat_map, line_chart

pytestmark = pytest.mark.browser
CSS = Path(__file__).resolve().parents[3] / "dutydesk" / "static" / "css" / "app.css"
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def charts_page(theme: str) -> str:
    weeks = [f"2026-W{week}" for week in range(44, 49)]
    trend = line_chart(
        [Series("MTTA median", [4, 6.5, None, 3, 5]), Series("MTTA p90", [12, 15, 9, None, 11])],
        weeks,
        title="MTTA by week",
        y_unit="min",
    )
    bars = bar_chart(
        [("check", 31), ("alertmanager", 12), ("manual <b>phone</b>", 4)],
        title="Incidents by source",
    )
    services = bar_chart(
        [("mail", 9), ("VPN gateway of the Kyiv office", 14), ("1C", 2)],
        title="Incidents by service",
        horizontal=True,
    )
    heat = heat_map(
        [[(d * 24 + h) % 7 for h in range(24)] for d in range(7)],
        DAYS,
        [f"{h:02d}" for h in range(24)],
        title="Incidents by hour and weekday",
    )
    empty = bar_chart([], title="Visitors per client")
    return (
        f'<!doctype html><html lang="en" data-theme="{theme}"><head><meta charset="utf-8">'
        f"<style>{CSS.read_text()}</style></head><body><main class=\"page\">"
        f"{trend}{bars}{services}{heat}{empty}</main></body></html>"
    )


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "not rendered"
    return found


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_three_charts_render_with_visible_marks(
    page: Any, output_dir: Path, theme: str
) -> None:
    page.set_content(charts_page(theme))
    svgs = page.locator("svg.ddc")
    assert svgs.count() == 5
    for i in range(5):
        size = box(svgs.nth(i))
        assert size["width"] > 300 and size["height"] > 100
    # The marks a reader looks at have an area on screen, the longest bar the longest.
    bars = page.locator("svg.ddc-bar rect.ddc-bar")
    heights = [box(bars.nth(i))["height"] for i in range(bars.count())]
    assert heights[0] == max(heights) and min(heights) > 0
    horizontal = page.locator("svg.ddc-hbar rect.ddc-bar")
    widths = [box(horizontal.nth(i))["width"] for i in range(horizontal.count())]
    assert widths[1] == max(widths) and min(widths) > 0
    lines = page.locator("svg.ddc-line g.ddc-series path.ddc-line")
    # Each None cuts its line: 4, 6.5 | 3, 5 and 12, 15, 9 | 11 (a dot alone, no segment).
    assert lines.count() == 3
    for i in range(lines.count()):
        assert box(lines.nth(i))["width"] > 0
    cells = page.locator("svg.ddc-heat rect.ddc-cell")
    assert cells.count() == 7 * 24
    assert box(cells.first)["width"] > 5 and box(cells.first)["height"] > 5
    assert page.locator("svg.ddc-empty text.ddc-empty-text").text_content() == "No data"
    # The label with markup in it is shown as text, not as bold.
    assert page.locator("svg.ddc-bar b").count() == 0
    page.screenshot(path=str(output_dir / f"report-charts-{theme}.png"), full_page=True)
