"""Embeddable SVG status badge per service, in the familiar two-part shields.io look.

``Mail | operational``: the left part (grey) names the service, the right part is coloured by
status. Widths are computed from an estimate of the text's width in Verdana 11 px (the font
badges are drawn in), so the badge fits its text without a font engine. All text is escaped;
names longer than ``MAX_LABEL_CHARS`` are shortened with an ellipsis.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from .atom import xml_text
from .model import ServiceStatus, parse_enum
from .status import N_

HEIGHT = 20
PADDING = 6  # horizontal space on each side of a text
MAX_LABEL_CHARS = 40
LABEL_COLOUR = "#555"

STATUS_COLOURS = {
    ServiceStatus.OPERATIONAL: "#3c8d2f",
    ServiceStatus.DEGRADED_PERFORMANCE: "#b58900",
    ServiceStatus.PARTIAL_OUTAGE: "#d9690b",
    ServiceStatus.MAJOR_OUTAGE: "#c9302c",
    ServiceStatus.UNDER_MAINTENANCE: "#2a6fb0",
}
STATUS_TEXTS = {
    ServiceStatus.OPERATIONAL: N_("operational"),
    ServiceStatus.DEGRADED_PERFORMANCE: N_("degraded performance"),
    ServiceStatus.PARTIAL_OUTAGE: N_("partial outage"),
    ServiceStatus.MAJOR_OUTAGE: N_("major outage"),
    ServiceStatus.UNDER_MAINTENANCE: N_("under maintenance"),
}

# Approximate advance widths in Verdana 11 px, by character class. Good to a pixel or two per
# word, which the padding absorbs.
_NARROW = set("iljI.,:;|!'`")
_SEMI_NARROW = set("frt()[]{}/\\- \"")
_WIDE = set("mwMW@%")


def char_width(ch: str) -> float:
    if ch in _NARROW:
        return 3.4
    if ch in _SEMI_NARROW:
        return 4.6
    if ch in _WIDE:
        return 10.5
    if ch.isdigit():
        return 7.0
    if ord(ch) >= 0x2E80:  # CJK and other full-width scripts
        return 11.0
    if ch.isupper():
        return 7.6
    return 6.8  # lower-case Latin and Cyrillic, and anything else


def text_width(text: str) -> int:
    """Estimated width of ``text`` in pixels, rounded up."""
    return math.ceil(sum(char_width(ch) for ch in text))


def _shorten(text: str) -> str:
    text = " ".join(xml_text(text).split())
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def render_badge(name: str, status: ServiceStatus | str, *, status_text: str | None = None) -> str:
    """The SVG document for service ``name`` in ``status``.

    ``status_text`` replaces the English status words (pass the translated
    ``STATUS_TEXTS[status]``). The SVG has a ``<title>`` and ``aria-label`` for screen readers
    and uses no ids, so several badges can be inlined in one page.
    """
    status = parse_enum(ServiceStatus, "badge status", status)
    label = _shorten(name) or "?"
    value = _shorten(status_text if status_text is not None else STATUS_TEXTS[status])
    left = text_width(label) + 2 * PADDING
    right = text_width(value) + 2 * PADDING
    total = left + right
    colour = STATUS_COLOURS[status]
    accessible = f"{label}: {value}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{HEIGHT}" '
        f'role="img" aria-label={quoteattr(accessible)}>'
        f"<title>{escape(accessible)}</title>"
        f'<rect width="{total}" height="{HEIGHT}" rx="3" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="{HEIGHT}" rx="3" fill="{colour}"/>'
        f'<rect x="{left}" width="4" height="{HEIGHT}" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:g}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:g}" y="14">{escape(value)}</text>'
        "</g></svg>"
    )
