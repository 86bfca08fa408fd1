"""Server-rendered SVG charts for the reports: trend lines, bars and the hour × weekday heat map.

Each chart function returns ONE self-contained inline ``<svg>`` as ``Markup``:

- ``role="img"`` and ``aria-label`` = the title, a ``<title>`` element, a visible title, and a
  ``viewBox`` with a natural width, so it scales down on narrow screens and prints on A4;
- y (or x) axis ticks at "nice" round numbers (1, 2, 2.5, 5 × 10ⁿ) covering the data, the unit
  above the axis, a legend when there are several series;
- a ``<title>`` tooltip on every point, bar and cell with its exact value;
- colours from CSS classes inside the SVG's own ``<style>``: a colour-blind-safe palette (Paul
  Tol's "bright" tones, each with at least 3:1 contrast on white paper AND on the dark theme),
  lines also told apart by dash pattern; text, axes and grid use ``currentColor``, so they take
  the page's text colour (light on the dark theme, black in print);
- every label escaped (labels come from users: service names, engineers);
- an explicit "No data" chart for empty input.

Pure functions: no Flask app is needed. Inside an app with Flask-Babel the "No data" text is
translated into the viewer's language; elsewhere it is the English source text.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import lazy_gettext
from markupsafe import Markup, escape

NO_DATA = lazy_gettext("No data")
PALETTE = ("#4477AA", "#EE6677", "#228833", "#999933", "#AA3377", "#009988")
"""Series colours, in order (Tol bright / muted tones with ≥ 3:1 contrast on #fff and #0f1419)."""
DASHES = ("", "8 4", "2 4", "10 4 2 4")
"""Line dash patterns, in order: a second way to tell series apart (greyscale print, CVD)."""
HEAT_LEVELS = 5
"""Heat-map intensity classes ``ddc-h1`` (lowest) … ``ddc-h5`` (the maximum); ``ddc-h0`` is 0."""
HEAT_ON_WHITE = "#2B5C8A"
HEAT_ON_DARK = "#6CB4EE"
WIDTH = 640
"""Natural width of every chart (px); fits an A4 page's text width at 96 dpi."""
CHAR_W = 6.8  # average width of a 12 px system-ui character, to lay out labels
MAX_LABEL = 28  # longer labels are shortened on the chart (the tooltip keeps them whole)


@dataclass(frozen=True)
class Series:
    """One line of a line chart: ``values[i]`` belongs to ``x_labels[i]``; None = no data."""

    name: str
    values: Sequence[float | None]


# --- pure helpers -------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, *, target: int = 5, integer: bool = False) -> list[float]:
    """Round tick values from ≤ ``lo`` to ≥ ``hi``, about ``target`` steps of 1/2/2.5/5 × 10ⁿ.

    ``integer`` keeps the step at 1 or more (counts have no half incidents). ``lo == hi`` (a
    flat series, or all zeros) still gets an axis one step tall.
    """
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi = lo + 1
    raw = (hi - lo) / max(1, target)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * (1 + 1e-9))
    if integer:
        step = max(1.0, round(step))
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    count = round((end - start) / step)
    return [_clean(start + i * step) for i in range(count + 1)]


def heat_level(value: float, peak: float) -> int:
    """The intensity class of a heat-map cell: 0 for nothing, 1…HEAT_LEVELS up to ``peak``."""
    if value <= 0 or peak <= 0:
        return 0
    return min(HEAT_LEVELS, max(1, math.ceil(value / peak * HEAT_LEVELS - 1e-9)))


def format_value(value: float) -> str:
    """A value as a reader wants it in a tooltip: ``42``, ``12.5``, ``99.95``, ``0.004``."""
    if float(value).is_integer():
        return str(int(value))
    if abs(value) >= 0.01:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def format_tick(value: float) -> str:
    """A tick label, short: ``250``, ``2.5``, ``12k``, ``1.5M``."""
    for size, suffix in ((1e6, "M"), (1e4, "k")):
        if abs(value) >= size:
            div = 1e3 if suffix == "k" else size
            return format_value(round(value / div, 2)) + suffix
    return format_value(value)


def shorten(label: str, limit: int = MAX_LABEL) -> str:
    """``label`` cut to ``limit`` characters with an ellipsis (the tooltip keeps the whole)."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _clean(value: float) -> float:
    """Drop float noise from tick arithmetic (0.30000000000000004 → 0.3)."""
    return round(value, 10) + 0.0


def _is_value(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _num(value: float) -> str:
    """A coordinate, to a tenth of a pixel."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _unit(y_unit: str) -> str:
    return f" {y_unit}" if y_unit else ""


def _text_width(text: str, size: float = 12) -> float:
    return len(text) * CHAR_W * size / 12


# --- the SVG shell ------------------------------------------------------------------------------

_STYLE = "".join(
    [
        ".ddc{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:12px;"
        "max-width:100%;height:auto;overflow:visible}",
        ".ddc text{fill:currentColor}",
        ".ddc .ddc-title{font-size:14px;font-weight:600}",
        ".ddc .ddc-muted{fill-opacity:.75}",
        ".ddc .ddc-small{font-size:10px}",
        ".ddc .ddc-axis{stroke:currentColor;stroke-opacity:.55;fill:none}",
        ".ddc .ddc-grid{stroke:currentColor;stroke-opacity:.14;fill:none}",
        ".ddc .ddc-line{fill:none;stroke:currentColor;stroke-width:2.5;stroke-linejoin:round;"
        "stroke-linecap:round}",
        ".ddc .ddc-dot,.ddc .ddc-bar,.ddc .ddc-swatch{fill:currentColor}",
        ".ddc .ddc-empty-frame{fill:none;stroke:currentColor;stroke-opacity:.3;"
        "stroke-dasharray:6 4}",
        ".ddc .ddc-empty-text{font-size:16px;fill-opacity:.7}",
        *(f".ddc .ddc-s{i}{{color:{colour}}}" for i, colour in enumerate(PALETTE)),
        *(
            f".ddc .ddc-d{i} .ddc-line{{stroke-dasharray:{dash}}}"
            for i, dash in enumerate(DASHES)
            if dash
        ),
        # Heat map: one hue, more ink for more. Tuned for white (paper, a saved SVG, the light
        # theme) and, under the app's dark theme, a lighter tone so the steps stay apart.
        ".ddc .ddc-h0{fill:currentColor;fill-opacity:.04;stroke:currentColor;stroke-opacity:.12}",
        *(
            f".ddc .ddc-h{level}{{fill:{HEAT_ON_WHITE};fill-opacity:{level / HEAT_LEVELS:.2f}}}"
            for level in range(1, HEAT_LEVELS + 1)
        ),
        "[data-theme=dark] .ddc .ddc-ink{fill:" + HEAT_ON_DARK + "}",
        "@media print{[data-theme=dark] .ddc .ddc-ink{fill:" + HEAT_ON_WHITE + "}}",
    ]
)


def _svg(kind: str, title: str, height: float, body: Sequence[str]) -> Markup:
    t = escape(title)
    h = _num(height)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ddc ddc-{kind}" role="img" '
        f'aria-label="{t}" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}">'
        f"<title>{t}</title><style>{_STYLE}</style>"
        f'<text class="ddc-title" x="8" y="20">{escape(shorten(title, 80))}</text>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _no_data_text() -> str:
    # Inside an app with Flask-Babel: the viewer's language. Anywhere else (a script, a test, an
    # app without Babel): the English source text, without touching any Flask machinery.
    if has_app_context() and "babel" in current_app.extensions:
        return str(NO_DATA)
    return "No data"


def _empty(title: str) -> Markup:
    height = 160
    text = escape(_no_data_text())
    return _svg(
        "empty",
        title,
        height,
        [
            f'<rect class="ddc-empty-frame" x="8" y="34" width="{WIDTH - 16}" '
            f'height="{height - 42}" rx="6"/>',
            f'<text class="ddc-empty-text" x="{WIDTH / 2:g}" y="{(height + 34) / 2 + 5:g}" '
            f'text-anchor="middle">{text}</text>',
        ],
    )


def _legend(names: Sequence[str], top: float) -> tuple[list[str], float]:
    """Legend entries (line swatch + name) laid out in rows from ``top``; returns the height."""
    parts: list[str] = []
    x, y, row_h = 8.0, top, 18.0
    for i, name in enumerate(names):
        label = shorten(name)
        width = 30 + _text_width(label) + 16
        if x + width > WIDTH - 8 and x > 8:
            x, y = 8.0, y + row_h
        cls = f"ddc-s{i % len(PALETTE)} ddc-d{i % len(DASHES)}"
        parts.append(
            f'<g class="ddc-legend-item {cls}">'
            f'<path class="ddc-line" d="M{_num(x)} {_num(y - 4)}h24"/>'
            f'<circle class="ddc-dot" cx="{_num(x + 12)}" cy="{_num(y - 4)}" r="3"/></g>'
            f'<text class="ddc-legend" x="{_num(x + 30)}" y="{_num(y)}">'
            f"<title>{escape(name)}</title>{escape(label)}</text>"
        )
        x += width
    return parts, y - top + row_h


def _y_axis(
    ticks: Sequence[float], y_of: Callable[[float], float], left: float, right: float,
    y_unit: str,
) -> list[str]:
    """Horizontal grid lines with tick labels on the left, and the unit above them."""
    parts = []
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<path class="ddc-grid" d="M{_num(left)} {_num(y)}H{_num(right)}"/>')
        parts.append(
            f'<text class="ddc-tick ddc-muted" x="{_num(left - 6)}" y="{_num(y + 4)}" '
            f'text-anchor="end">{format_tick(tick)}</text>'
        )
    if y_unit:
        parts.append(
            f'<text class="ddc-unit ddc-muted" x="{_num(left - 6)}" '
            f'y="{_num(y_of(ticks[-1]) - 10)}" text-anchor="end">{escape(y_unit)}</text>'
        )
    return parts


@dataclass(frozen=True)
class _LabelLayout:
    """How category labels fit under (or over) a plot with ``band`` pixels per category."""

    slant: bool  # long labels are written at -35° instead of overlapping
    limit: int  # characters shown (the tooltip keeps the whole label)
    every: int  # 1 = every label, 2 = every other one, …
    height: float  # vertical room the labels take


def _label_layout(labels: Sequence[str], band: float) -> _LabelLayout:
    longest = max(len(label) for label in labels)
    band = max(band, 1.0)
    if longest * CHAR_W + 10 > band and len(labels) > 4:
        limit = 14
        return _LabelLayout(True, limit, math.ceil(16 / band), min(longest, limit) * 4.2 + 12)
    return _LabelLayout(False, max(4, int(band / CHAR_W)), 1, 14)


def _x_labels(
    labels: Sequence[str], x_of: Callable[[int], float], y: float, layout: _LabelLayout
) -> list[str]:
    """Category labels at ``y``, as ``layout`` says; each carries its whole text as a tooltip."""
    parts = []
    for i, label in enumerate(labels):
        if i % layout.every:
            continue
        x, text = _num(x_of(i)), escape(shorten(label, layout.limit))
        turn = f' transform="rotate(-35 {x} {_num(y)})"' if layout.slant else ""
        anchor = "end" if layout.slant else "middle"
        parts.append(
            f'<text class="ddc-xlabel ddc-muted" x="{x}" y="{_num(y)}" text-anchor="{anchor}"'
            f"{turn}><title>{escape(label)}</title>{text}</text>"
        )
    return parts


# --- charts -------------------------------------------------------------------------------------


def line_chart(
    series: Sequence[Series], x_labels: Sequence[str], *, title: str, y_unit: str = ""
) -> Markup:
    """A trend: one line per series over ``x_labels`` (e.g. weeks); None leaves a gap.

    Raises ValueError when a series does not have one value per x label (a caller's bug).
    Empty input (no series, no labels, or no value at all) renders the "No data" chart.
    """
    labels = [str(label) for label in x_labels]
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(
                f"series {s.name!r} has {len(s.values)} values for {len(labels)} x labels"
            )
    values = [float(v) for s in series for v in s.values if _is_value(v)]  # type: ignore[arg-type]
    if not labels or not values:
        return _empty(title)
    legend, legend_h = _legend([s.name for s in series], 44) if len(series) > 1 else ([], 0.0)
    top = 56 + legend_h
    left, right = 58.0, WIDTH - 16.0
    ticks = nice_ticks(min(0.0, min(values)), max(values),
                       integer=all(v.is_integer() for v in values))
    band = (right - left) / len(labels)
    layout = _label_layout(labels, band)
    plot_h = 200.0
    bottom = top + plot_h
    height = bottom + 12 + layout.height + 8

    def y_of(v: float) -> float:
        return bottom - (v - ticks[0]) / (ticks[-1] - ticks[0]) * plot_h

    def x_of(i: int) -> float:
        return left + (i + 0.5) * band

    parts = [*legend, *_y_axis(ticks, y_of, left, right, y_unit)]
    parts.append(f'<path class="ddc-axis" d="M{_num(left)} {_num(y_of(max(ticks[0], 0)))}'
                 f'H{_num(right)}"/>')
    parts += _x_labels(labels, x_of, bottom + 18, layout)
    unit = _unit(y_unit)
    for index, s in enumerate(series):
        cls = f"ddc-s{index % len(PALETTE)} ddc-d{index % len(DASHES)}"
        parts.append(f'<g class="ddc-series {cls}">')
        run: list[str] = []
        for i, value in enumerate([*s.values, None]):
            if _is_value(value):
                run.append(f"{_num(x_of(i))} {_num(y_of(float(value)))}")  # type: ignore[arg-type]
                continue
            if len(run) > 1:  # a gap (None) ends the segment; one point alone is just its dot
                parts.append(f'<path class="ddc-line" d="M{"L".join(run)}"/>')
            run = []
        for i, value in enumerate(s.values):
            if not _is_value(value):
                continue
            tip = f"{s.name} — {labels[i]}: {format_value(float(value))}{unit}"  # type: ignore[arg-type]
            parts.append(
                f'<circle class="ddc-dot" cx="{_num(x_of(i))}" '
                f'cy="{_num(y_of(float(value)))}" r="4"><title>{escape(tip)}</title></circle>'  # type: ignore[arg-type]
            )
        parts.append("</g>")
    return _svg("line", title, height, parts)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    title: str,
    y_unit: str = "",
    horizontal: bool = False,
) -> Markup:
    """One bar per (label, value), in the order given; ``horizontal`` for long label lists.

    Raises ValueError for a value that is not a finite number. No bars → the "No data" chart.
    """
    items = [(str(label), float(value)) for label, value in bars]
    if not items:
        return _empty(title)
    for label, value in items:
        if not math.isfinite(value):
            raise ValueError(f"bar {label!r} has no finite value ({value!r})")
    values = [v for _label, v in items]
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values),
                       integer=all(v.is_integer() for v in values))
    unit = _unit(y_unit)
    if horizontal:
        return _horizontal_bars(items, ticks, title, y_unit, unit)
    left, right, top, plot_h = 58.0, WIDTH - 16.0, 56.0, 200.0
    bottom = top + plot_h
    band = (right - left) / len(items)
    bar_w = min(56.0, band * 0.66)

    def y_of(v: float) -> float:
        return bottom - (v - ticks[0]) / (ticks[-1] - ticks[0]) * plot_h

    def x_of(i: int) -> float:
        return left + (i + 0.5) * band

    names = [label for label, _v in items]
    layout = _label_layout(names, band)
    parts = [*_y_axis(ticks, y_of, left, right, y_unit), '<g class="ddc-series ddc-s0">']
    zero = y_of(0)
    show_values = band >= 26
    for i, (label, value) in enumerate(items):
        y_top, y_low = sorted((y_of(value), zero))
        parts.append(
            f'<rect class="ddc-bar" x="{_num(x_of(i) - bar_w / 2)}" y="{_num(y_top)}" '
            f'width="{_num(bar_w)}" height="{_num(y_low - y_top)}">'
            f"<title>{escape(label)}: {format_value(value)}{escape(unit)}</title></rect>"
        )
    parts.append("</g>")
    if show_values:
        for i, (_label, value) in enumerate(items):
            y = y_of(value) - 5 if value >= 0 else y_of(value) + 14
            parts.append(
                f'<text class="ddc-value ddc-small" x="{_num(x_of(i))}" y="{_num(y)}" '
                f'text-anchor="middle">{format_tick(value)}</text>'
            )
    parts.append(f'<path class="ddc-axis" d="M{_num(left)} {_num(zero)}H{_num(right)}"/>')
    parts += _x_labels(names, x_of, bottom + 18, layout)
    return _svg("bar", title, bottom + 12 + layout.height + 8, parts)


def _horizontal_bars(
    items: list[tuple[str, float]], ticks: list[float], title: str, y_unit: str, unit: str
) -> Markup:
    longest = max(len(shorten(label)) for label, _v in items)
    left = min(8 + MAX_LABEL * CHAR_W, 16 + longest * CHAR_W)
    right = WIDTH - 48.0
    top, row = 44.0, 24.0
    bottom = top + row * len(items)

    def x_of(v: float) -> float:
        return left + (v - ticks[0]) / (ticks[-1] - ticks[0]) * (right - left)

    parts = []
    for tick in ticks:
        x = x_of(tick)
        parts.append(f'<path class="ddc-grid" d="M{_num(x)} {_num(top)}V{_num(bottom)}"/>')
        parts.append(
            f'<text class="ddc-tick ddc-muted" x="{_num(x)}" y="{_num(bottom + 16)}" '
            f'text-anchor="middle">{format_tick(tick)}</text>'
        )
    if y_unit:
        parts.append(
            f'<text class="ddc-unit ddc-muted" x="{_num(right)}" y="{_num(bottom + 32)}" '
            f'text-anchor="end">{escape(y_unit)}</text>'
        )
    zero = x_of(0)
    parts.append('<g class="ddc-series ddc-s0">')
    for i, (label, value) in enumerate(items):
        x_low, x_high = sorted((zero, x_of(value)))
        parts.append(
            f'<rect class="ddc-bar" x="{_num(x_low)}" y="{_num(top + i * row + 4)}" '
            f'width="{_num(x_high - x_low)}" height="{_num(row - 8)}">'
            f"<title>{escape(label)}: {format_value(value)}{escape(unit)}</title></rect>"
        )
    parts.append("</g>")
    for i, (label, value) in enumerate(items):
        y = top + i * row + row / 2 + 4
        parts.append(
            f'<text class="ddc-ylabel" x="{_num(left - 8)}" y="{_num(y)}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(shorten(label))}</text>"
        )
        end = x_of(value)
        anchor, dx = ("start", 5) if value >= 0 else ("end", -5)
        parts.append(
            f'<text class="ddc-value ddc-small" x="{_num(end + dx)}" y="{_num(y)}" '
            f'text-anchor="{anchor}">{format_tick(value)}</text>'
        )
    parts.append(f'<path class="ddc-axis" d="M{_num(zero)} {_num(top)}V{_num(bottom)}"/>')
    return _svg("hbar", title, bottom + (40 if y_unit else 26), parts)


def _heat_classes(level: int) -> str:
    return f"ddc-h{level} ddc-ink" if level else "ddc-h0"


def heat_map(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str,
) -> Markup:
    """A grid of counts (e.g. weekday × hour of day): more ink for more, a scale below.

    ``values[r][c]`` belongs to ``row_labels[r]`` and ``col_labels[c]``; raises ValueError when
    the shapes differ. No rows or no columns → the "No data" chart.
    """
    rows = [[float(v) for v in row] for row in values]
    rows_l = [str(label) for label in row_labels]
    cols_l = [str(label) for label in col_labels]
    if not rows or not cols_l:
        return _empty(title)
    if len(rows) != len(rows_l):
        raise ValueError(f"{len(rows)} rows of values for {len(rows_l)} row labels")
    for label, row in zip(rows_l, rows, strict=True):
        if len(row) != len(cols_l):
            raise ValueError(f"row {label!r} has {len(row)} values for {len(cols_l)} columns")
        if not all(math.isfinite(v) for v in row):
            raise ValueError(f"row {label!r} has a value that is not a finite number")
    peak = max(max(row) for row in rows)
    longest = max(len(shorten(label, 20)) for label in rows_l)
    left = 16 + longest * CHAR_W
    right = WIDTH - 8.0
    cell_w = (right - left) / len(cols_l)
    cell_h = min(28.0, max(14.0, cell_w))
    top = 56.0
    bottom = top + cell_h * len(rows)
    parts = []
    for r, (label, row) in enumerate(zip(rows_l, rows, strict=True)):
        y = top + r * cell_h
        parts.append(
            f'<text class="ddc-ylabel" x="{_num(left - 6)}" y="{_num(y + cell_h / 2 + 4)}" '
            f'text-anchor="end"><title>{escape(label)}</title>{escape(shorten(label, 20))}</text>'
        )
        for c, value in enumerate(row):
            tip = f"{label} · {cols_l[c]}: {format_value(value)}"
            parts.append(
                f'<rect class="ddc-cell {_heat_classes(heat_level(value, peak))}" '
                f'x="{_num(left + c * cell_w + 1)}" y="{_num(y + 1)}" '
                f'width="{_num(cell_w - 2)}" height="{_num(cell_h - 2)}" rx="2">'
                f"<title>{escape(tip)}</title></rect>"
            )
    # Column labels sit above the grid, in the room under the title, never slanted.
    layout = dataclasses.replace(_label_layout(cols_l, cell_w), slant=False)
    if layout.limit * CHAR_W > cell_w:  # too narrow for every label: every k-th one
        layout = dataclasses.replace(layout, every=math.ceil(3 * CHAR_W / cell_w), limit=3)
    parts += _x_labels(cols_l, lambda c: left + (c + 0.5) * cell_w, top - 8, layout)
    # The scale: what each intensity means, from nothing to the maximum.
    y = bottom + 18
    x = left
    parts.append(f'<text class="ddc-muted ddc-small" x="{_num(x)}" y="{_num(y + 10)}">0</text>')
    x += 14
    for level in range(HEAT_LEVELS + 1):
        parts.append(
            f'<rect class="ddc-scale {_heat_classes(level)}" x="{_num(x)}" y="{_num(y)}" '
            'width="18" height="12" rx="2"/>'
        )
        x += 20
    parts.append(
        f'<text class="ddc-muted ddc-small" x="{_num(x + 4)}" y="{_num(y + 10)}">'
        f"{format_value(peak)}</text>"
    )
    return _svg("heat", title, y + 22, parts)
