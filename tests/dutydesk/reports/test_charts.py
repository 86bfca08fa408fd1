"""The report charts as a reader sees them: the SVG is parsed, never matched as a string."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from markupsafe import Markup

from dutydesk.reports.charts import (
    Series,
    bar_chart,
    format_tick,
    format_value,
    heat_level,
    heat_map,
    line_chart,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert('x')</script> & co"


def parse(markup: Markup) -> ET.Element:
    assert isinstance(markup, Markup)
    return ET.fromstring(str(markup))


def elements(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if cls in (e.get("class") or "").split()]


def tooltip(element: ET.Element) -> str:
    title = element.find(SVG + "title")
    assert title is not None, f"{element.tag} {element.attrib} has no tooltip"
    return title.text or ""


def visible(element: ET.Element) -> str:
    """The text a reader sees in ``element``: its own, without the tooltip's."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def texts(root: ET.Element, cls: str) -> list[str]:
    """What a reader sees written in the text elements of class ``cls``."""
    return [visible(e) for e in elements(root, "text", cls)]


def all_text(root: ET.Element) -> str:
    return " ".join(t for t in root.itertext())


def ticks_of(root: ET.Element) -> list[float]:
    def number(label: str) -> float:
        scale = {"k": 1e3, "M": 1e6}.get(label[-1], 1)
        return float(label.rstrip("kM")) * scale

    return [number(label) for label in texts(root, "ddc-tick")]


SOURCES = [("check", 120.0), ("alertmanager", 45.0), ("manual", 7.0)]


# --- what every chart is -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        lambda: line_chart([Series("MTTA", [3, 4])], ["W47", "W48"], title="MTTA by week"),
        lambda: bar_chart(SOURCES, title="MTTA by week"),
        lambda: bar_chart(SOURCES, title="MTTA by week", horizontal=True),
        lambda: heat_map([[1, 2]], ["Mon"], ["00", "01"], title="MTTA by week"),
        lambda: bar_chart([], title="MTTA by week"),
    ],
    ids=["line", "bar", "horizontal", "heat", "empty"],
)
def test_each_chart_is_one_scalable_svg_image_named_by_its_title(chart: Any) -> None:
    root = parse(chart())
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "MTTA by week"
    assert tooltip(root) == "MTTA by week"
    assert len(root.get("viewBox", "").split()) == 4
    assert "MTTA by week" in texts(root, "ddc-title")
    # Self-contained: its own style, no scripts, no links to anything outside.
    assert root.find(SVG + "style") is not None
    assert not list(root.iter(SVG + "script"))
    assert not [e for e in root.iter() if any("href" in k for k in e.attrib)]


# --- bars ---------------------------------------------------------------------------------------


def test_the_largest_value_is_the_tallest_bar() -> None:
    root = parse(bar_chart(SOURCES, title="Incidents by source"))
    bars = elements(root, "rect", "ddc-bar")
    heights = {tooltip(b).split(":")[0]: float(b.get("height")) for b in bars}
    assert max(heights, key=heights.__getitem__) == "check"
    assert heights["check"] > heights["alertmanager"] > heights["manual"] > 0


def test_the_largest_value_is_the_longest_horizontal_bar() -> None:
    services = [("mail", 3.0), ("vpn", 11.0), ("file share", 5.0)]
    root = parse(bar_chart(services, title="By service", horizontal=True))
    widths = {tooltip(b).split(":")[0]: float(b.get("width")) for b in elements(root, "rect",
                                                                                  "ddc-bar")}
    assert max(widths, key=widths.__getitem__) == "vpn"
    assert texts(root, "ddc-ylabel") == ["mail", "vpn", "file share"]


def test_every_bar_tooltip_carries_its_exact_value_and_unit() -> None:
    root = parse(bar_chart([("mail", 12.5), ("vpn", 3.0)], title="MTTA", y_unit="min"))
    assert [tooltip(b) for b in elements(root, "rect", "ddc-bar")] == [
        "mail: 12.5 min",
        "vpn: 3 min",
    ]
    assert texts(root, "ddc-unit") == ["min"]


def test_axis_ticks_are_round_numbers_that_cover_the_largest_bar() -> None:
    root = parse(bar_chart([("a", 137.0), ("b", 12.0)], title="t"))
    ticks = ticks_of(root)
    assert ticks[0] == 0 and ticks[-1] >= 137
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert mantissa in (1, 2, 2.5, 5)


def test_a_long_service_name_is_shortened_on_the_axis_but_whole_in_its_tooltip() -> None:
    name = "the accounting department's file share in hall B, rack 12"
    root = parse(bar_chart([(name, 4.0)], title="t", horizontal=True))
    (label,) = elements(root, "text", "ddc-ylabel")
    assert visible(label).endswith("…") and len(visible(label)) < len(name)
    assert tooltip(label) == name
    assert tooltip(elements(root, "rect", "ddc-bar")[0]) == f"{name}: 4"


def test_a_bar_without_a_finite_value_is_refused() -> None:
    with pytest.raises(ValueError, match="'vpn'"):
        bar_chart([("vpn", float("nan"))], title="t")


# --- lines --------------------------------------------------------------------------------------


def test_none_leaves_a_gap_in_the_line() -> None:
    weeks = ["W44", "W45", "W46", "W47", "W48"]
    root = parse(line_chart([Series("MTTR", [10, 20, None, 40, 50])], weeks, title="t"))
    segments = elements(root, "path", "ddc-line")
    assert len(segments) == 2  # W44–W45 and W47–W48, nothing across W46
    assert [seg.get("d").count("L") for seg in segments] == [1, 1]
    dots = elements(root, "circle", "ddc-dot")
    assert [tooltip(d) for d in dots] == [
        "MTTR — W44: 10",
        "MTTR — W45: 20",
        "MTTR — W47: 40",
        "MTTR — W48: 50",
    ]
    gap_x = float(texts_at(root, "W46"))
    for seg in segments:
        xs = [float(point.split()[0]) for point in seg.get("d")[1:].split("L")]
        assert not min(xs) < gap_x < max(xs)


def texts_at(root: ET.Element, label: str) -> str:
    (element,) = [e for e in elements(root, "text", "ddc-xlabel") if visible(e) == label]
    return element.get("x")


def test_a_point_alone_between_gaps_is_a_dot_without_a_line() -> None:
    root = parse(line_chart([Series("p90", [None, 5, None])], ["a", "b", "c"], title="t"))
    assert elements(root, "path", "ddc-line") == []
    assert [tooltip(d) for d in elements(root, "circle", "ddc-dot")] == ["p90 — b: 5"]


def test_higher_values_are_drawn_higher_and_ticks_cover_the_peak() -> None:
    root = parse(
        line_chart([Series("MTTA", [2.5, 7.25, 4])], ["a", "b", "c"], title="t", y_unit="min")
    )
    ys = [float(d.get("cy")) for d in elements(root, "circle", "ddc-dot")]
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards
    assert ticks_of(root)[-1] >= 7.25
    assert "MTTA — b: 7.25 min" in [tooltip(d) for d in elements(root, "circle", "ddc-dot")]


def test_several_series_get_a_legend_and_each_its_own_colour_class() -> None:
    series = [Series("median", [1, 2]), Series("p90", [3, 4])]
    root = parse(line_chart(series, ["W47", "W48"], title="t"))
    assert texts(root, "ddc-legend") == ["median", "p90"]
    groups = elements(root, "g", "ddc-series")
    colours = [next(c for c in g.get("class").split() if re.fullmatch(r"ddc-s\d+", c))
               for g in groups]
    assert len(set(colours)) == 2


def test_one_series_needs_no_legend() -> None:
    root = parse(line_chart([Series("median", [1, 2])], ["W47", "W48"], title="t"))
    assert texts(root, "ddc-legend") == []


def test_a_series_with_the_wrong_number_of_values_is_refused() -> None:
    with pytest.raises(ValueError, match="'median' has 1 values for 2 x labels"):
        line_chart([Series("median", [1])], ["W47", "W48"], title="t")


# --- heat map -----------------------------------------------------------------------------------


def test_the_busiest_cell_of_the_heat_map_has_the_darkest_class_and_an_empty_one_none() -> None:
    days, hours = ["Mon", "Tue"], ["00", "01", "02"]
    root = parse(heat_map([[0, 1, 2], [3, 9, 4]], days, hours, title="By hour"))
    cells = {tooltip(c): c.get("class").split() for c in elements(root, "rect", "ddc-cell")}
    assert "ddc-h5" in cells["Tue · 01: 9"]
    assert "ddc-h0" in cells["Mon · 00: 0"]
    levels = {t: int(next(c for c in cls if c.startswith("ddc-h"))[5:]) for t, cls in
              cells.items()}
    assert levels["Mon · 01: 1"] <= levels["Mon · 02: 2"] <= levels["Tue · 00: 3"] < 5
    assert len(cells) == 6
    assert texts(root, "ddc-ylabel") == days
    assert texts(root, "ddc-xlabel") == hours


@pytest.mark.parametrize(
    ("value", "peak", "level"),
    [
        (0, 10, 0),  # nothing: no ink
        (0.1, 10, 1),  # a little: the faintest ink, never none
        (2, 10, 1),  # exactly the first fifth
        (2.1, 10, 2),
        (10, 10, 5),  # the peak: the darkest
        (3, 0, 0),  # no peak (all zero or negative): nothing to show
    ],
)
def test_heat_level_steps(value: float, peak: float, level: int) -> None:
    assert heat_level(value, peak) == level


def test_a_heat_map_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="row 'Mon' has 1 values for 2 columns"):
        heat_map([[1]], ["Mon"], ["00", "01"], title="t")


# --- labels from users are text, never markup ---------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        lambda: bar_chart([(EVIL, 1.0)], title=EVIL),
        lambda: bar_chart([(EVIL, 1.0)], title=EVIL, horizontal=True),
        lambda: line_chart([Series(EVIL, [1, 2]), Series("b", [2, 1])], [EVIL, "x"], title=EVIL),
        lambda: heat_map([[1.0]], [EVIL], [EVIL], title=EVIL),
        lambda: bar_chart([], title=EVIL),
    ],
    ids=["bar", "horizontal", "line", "heat", "empty"],
)
def test_a_script_in_a_label_is_shown_as_text(chart: Any) -> None:
    markup = chart()
    root = parse(markup)  # would not even parse if "& co" were not escaped
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert root.get("aria-label") == EVIL
    assert EVIL in all_text(root)
    assert "<script>" not in str(markup)


# --- empty input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        lambda: line_chart([], [], title="MTTA"),
        lambda: line_chart([Series("median", [])], [], title="MTTA"),
        lambda: line_chart([Series("median", [None, None])], ["W47", "W48"], title="MTTA"),
        lambda: bar_chart([], title="MTTA"),
        lambda: heat_map([], [], [], title="MTTA"),
        lambda: heat_map([[], []], ["Mon", "Tue"], [], title="MTTA"),
    ],
)
def test_empty_input_renders_a_no_data_chart(chart: Any) -> None:
    root = parse(chart())
    assert texts(root, "ddc-empty-text") == ["No data"]
    assert root.get("aria-label") == "MTTA"
    assert not elements(root, "rect", "ddc-bar") and not elements(root, "circle", "ddc-dot")


def test_zeros_are_data_not_an_empty_chart() -> None:
    root = parse(bar_chart([("manual", 0.0)], title="t"))
    assert texts(root, "ddc-empty-text") == []
    assert [tooltip(b) for b in elements(root, "rect", "ddc-bar")] == ["manual: 0"]
    assert ticks_of(root) == [0, 1]


def test_no_data_is_said_in_the_viewers_language(app: Any) -> None:
    with app.test_request_context("/?lang=uk"):
        assert texts(parse(bar_chart([], title="t")), "ddc-empty-text") == ["Немає даних"]
    with app.test_request_context("/?lang=ru"):
        assert texts(parse(bar_chart([], title="t")), "ddc-empty-text") == ["Нет данных"]
    with app.app_context():  # no request (a job, the CLI): the site's default language
        assert texts(parse(bar_chart([], title="t")), "ddc-empty-text") == ["No data"]


# --- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "integer", "expected"),
    [
        (0, 137, False, [0, 50, 100, 150]),
        (0, 3, True, [0, 1, 2, 3]),
        (0, 2, True, [0, 1, 2]),  # counts: no half incidents
        (0, 2, False, [0, 0.5, 1, 1.5, 2]),
        (0, 0, True, [0, 1]),  # flat zero still gets an axis
        (0, 0.7, False, [0, 0.2, 0.4, 0.6, 0.8]),
        (-5, 12, False, [-5, 0, 5, 10, 15]),
        (0, 86_400, False, [0, 20_000, 40_000, 60_000, 80_000, 100_000]),
        (0, 100, False, [0, 20, 40, 60, 80, 100]),  # a percentage ends at 100, not above
    ],
)
def test_nice_ticks(lo: float, hi: float, integer: bool, expected: list[float]) -> None:
    assert nice_ticks(lo, hi, integer=integer) == expected


@pytest.mark.parametrize(
    ("value", "value_text", "tick_text"),
    [
        (42, "42", "42"),
        (12.5, "12.5", "12.5"),
        (99.95, "99.95", "99.95"),
        (0.004, "0.004", "0.004"),
        (12_000, "12000", "12k"),
        (1_500_000, "1500000", "1.5M"),
    ],
)
def test_numbers_are_written_as_a_reader_expects(
    value: float, value_text: str, tick_text: str
) -> None:
    assert format_value(value) == value_text
    assert format_tick(value) == tick_text
