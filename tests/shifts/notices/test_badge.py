"""The SVG badge another intranet page embeds: right colour, escaped text, fitting width."""

import xml.etree.ElementTree as ET

import pytest

from shifts.notices.badge import MAX_LABEL_CHARS, STATUS_COLOURS, render_badge, text_width
from shifts.notices.model import ServiceStatus

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root):
    return [t.text for t in root.iter(f"{SVG}text")]


def fills(root):
    return [r.get("fill") for r in root.iter(f"{SVG}rect")]


@pytest.mark.parametrize(
    ("status", "words"),
    [
        pytest.param("operational", "operational", id="operational"),
        pytest.param("degraded_performance", "degraded performance", id="degraded"),
        pytest.param("partial_outage", "partial outage", id="partial"),
        pytest.param("major_outage", "major outage", id="major"),
        pytest.param("under_maintenance", "under maintenance", id="maintenance"),
    ],
)
def test_badge_shows_name_and_status_in_the_status_colour(status, words):
    root = parse(render_badge("Mail", status))
    assert texts(root) == ["Mail", words]
    assert STATUS_COLOURS[ServiceStatus(status)] in fills(root)
    assert root.find(f"{SVG}title").text == f"Mail: {words}"
    assert root.get("aria-label") == f"Mail: {words}"


def test_each_status_has_its_own_colour():
    assert len(set(STATUS_COLOURS.values())) == len(ServiceStatus)


def test_text_is_escaped():
    svg = render_badge('<script>"Mail" & Co</script>', "operational")
    root = parse(svg)  # well-formed despite the markup in the name
    assert texts(root)[0] == '<script>"Mail" & Co</script>'
    assert "<script>" not in svg
    assert root.get("aria-label").startswith('<script>"Mail"')


def test_width_grows_with_the_text():
    short = int(parse(render_badge("1C", "operational")).get("width"))
    long = int(parse(render_badge("File share in hall A", "operational")).get("width"))
    assert long > short
    assert text_width("WWWW") > text_width("iiii")
    # The coloured part starts where the label part ends, and both fit their text.
    root = parse(render_badge("Telephony", "major_outage"))
    status_rect = next(r for r in root.iter(f"{SVG}rect") if r.get("x"))
    assert int(status_rect.get("x")) >= text_width("Telephony")
    assert int(root.get("width")) - int(status_rect.get("x")) >= text_width("major outage")


def test_long_names_are_shortened_with_an_ellipsis():
    root = parse(render_badge("Very " * 30 + "long", "operational"))
    label = texts(root)[0]
    assert len(label) == MAX_LABEL_CHARS and label.endswith("…")


def test_translated_status_text_is_used_and_measured():
    english = parse(render_badge("Почта", "major_outage"))
    russian = parse(render_badge("Почта", "major_outage", status_text="серьёзный сбой"))
    assert texts(russian) == ["Почта", "серьёзный сбой"]
    assert int(russian.get("width")) > int(english.get("width"))


def test_unknown_status_is_refused():
    with pytest.raises(ValueError, match=r"badge status must be one of operational.*; got 'down'"):
        render_badge("Mail", "down")
