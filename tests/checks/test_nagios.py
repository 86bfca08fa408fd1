"""Nagios threshold ranges, performance data and plugin output, as the plugin guidelines say."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.nagios import (
    PerfdataError,
    RangeError,
    base_value,
    judge,
    parse_perfdata,
    parse_perfdatum,
    parse_plugin_output,
    parse_range,
    range_alerts,
)
from checks.result import PerfDatum, Status


# The table of the Monitoring Plugins Development Guidelines, "Threshold and Ranges".
@pytest.mark.parametrize(
    ("threshold", "value", "alerts"),
    [
        # "10": alert if < 0 or > 10
        ("10", -1, True),
        ("10", 0, False),
        ("10", 10, False),
        ("10", 10.1, True),
        # "10:": alert if < 10
        ("10:", 9.9, True),
        ("10:", 10, False),
        ("10:", 1e9, False),
        # "~:10": alert if > 10
        ("~:10", -1e9, False),
        ("~:10", 10, False),
        ("~:10", 11, True),
        # "10:20": alert if < 10 or > 20
        ("10:20", 9, True),
        ("10:20", 10, False),
        ("10:20", 20, False),
        ("10:20", 21, True),
        # "@10:20": alert if 10 <= value <= 20 (inclusive)
        ("@10:20", 9, False),
        ("@10:20", 10, True),
        ("@10:20", 15, True),
        ("@10:20", 20, True),
        ("@10:20", 21, False),
        # negative and fractional bounds
        ("-5:-1", -3, False),
        ("-5:-1", 0, True),
        ("0.5:1.5", 1.6, True),
        ("@~:0", -0.1, True),  # inverted open start: alert at or below zero
        ("@~:0", 0.1, False),
    ],
)
def test_range_alerts_like_the_plugin_guidelines(
    threshold: str, value: float, alerts: bool
) -> None:
    assert range_alerts(threshold, value) is alerts
    assert parse_range(threshold).alerts(value) is alerts


def test_nan_always_alerts() -> None:
    # a sensor that reads NaN is not "within range"
    assert parse_range("10:20").alerts(math.nan)
    assert parse_range("@10:20").alerts(math.nan)


@pytest.mark.parametrize(
    "text",
    ["", "abc", "@", "~", "10:5", "1:2:3", "10 20", "@@1", "ten"],
)
def test_bad_ranges_are_rejected_with_the_syntax_to_use(text: str) -> None:
    with pytest.raises(RangeError) as caught:
        parse_range(text)
    assert isinstance(caught.value, ValueError)
    assert repr(text) in str(caught.value)


def test_a_backwards_range_says_which_bound_is_wrong() -> None:
    with pytest.raises(RangeError, match=r"starts above its end \(10 > 5\)"):
        parse_range("10:5")


@pytest.mark.parametrize(
    ("value", "warn", "crit", "status"),
    [
        (50, "80", "90", Status.OK),
        (85, "80", "90", Status.WARNING),
        (95, "80", "90", Status.CRITICAL),
        (-1, "80", "90", Status.CRITICAL),  # below the implicit 0 start of "90"
        (15, "20:", "10:", Status.WARNING),  # free disk: low is bad
        (5, "20:", "10:", Status.CRITICAL),
        (5, None, None, Status.OK),
        (26, "@25:27", None, Status.WARNING),
        (30, None, "~:28", Status.CRITICAL),
    ],
)
def test_judge_checks_critical_before_warning(
    value: float, warn: str | None, crit: str | None, status: Status
) -> None:
    assert judge(value, warn, crit) is status
    parsed = judge(value, parse_range(warn) if warn else None, parse_range(crit) if crit else None)
    assert parsed is status


@settings(max_examples=200, deadline=None)
@given(
    start=st.floats(-1e6, 1e6),
    width=st.floats(0, 1e6),
    value=st.floats(-2e6, 2e6),
)
def test_inverting_a_range_inverts_the_alert(start: float, width: float, value: float) -> None:
    end = start + width
    text = f"{start!r}:{end!r}"
    assert parse_range(text).alerts(value) is not parse_range("@" + text).alerts(value)


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("time=0.002s;1;2;0;10", PerfDatum("time", 0.002, "s", "1", "2", 0.0, 10.0)),
        ("'/var/log'=818MB;970;975;0;980", PerfDatum("/var/log", 818, "MB", "970", "975", 0, 980)),
        ("'inlet temp'=23.5C;25:;30:", PerfDatum("inlet temp", 23.5, "C", "25:", "30:")),
        ("'it''s'=1", PerfDatum("it's", 1.0)),
        ("load1=0.15;;;0", PerfDatum("load1", 0.15, "", None, None, 0.0, None)),
        ("pl=-5%", PerfDatum("pl", -5.0, "%")),
        ("bytes=12345c", PerfDatum("bytes", 12345.0, "c")),
        ("x=1e3", PerfDatum("x", 1000.0)),
        ("range=5;@10:20;~:30", PerfDatum("range", 5.0, "", "@10:20", "~:30")),
    ],
)
def test_perfdata_items_are_parsed(raw: str, expected: PerfDatum) -> None:
    assert parse_perfdatum(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["novalue", "=5", "x=", "x=abc", "x=Umm", "'open=5", "x=1;a;2", "x=1;;;low", "x=1;1;2;3;4;5"],
)
def test_bad_perfdata_items_are_rejected(raw: str) -> None:
    with pytest.raises(PerfdataError):
        parse_perfdatum(raw)


def test_perfdata_list_keeps_good_items_and_reports_bad_ones() -> None:
    items, bad = parse_perfdata("rta=0.1ms;100;500;0 'packet loss'=0%;20;60 garbage pl=x")
    assert [i.label for i in items] == ["rta", "packet loss"]
    assert items[1].value == 0.0
    assert bad == ("garbage", "pl=x")


def test_plugin_output_with_long_text_and_perfdata_on_several_lines() -> None:
    # the multi-line example of the guidelines ("Plugin Output")
    output = (
        "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
        "/ 15272 MB (77%);\n"
        "/boot 68 MB (69%);\n"
        "/home 69357 MB (27%);\n"
        "/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n"
        "/home=69357MB;253404;253409;0;253414 \n"
        "/var/log=818MB;970;975;0;980\n"
    )
    parsed = parse_plugin_output(output)
    assert parsed.text == "DISK OK - free space: / 3326 MB (56%);"
    assert parsed.long_text == (
        "/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%); "
    )
    assert [(p.label, p.value, p.uom) for p in parsed.perfdata] == [
        ("/", 2643.0, "MB"),
        ("/boot", 68.0, "MB"),
        ("/home", 69357.0, "MB"),
        ("/var/log", 818.0, "MB"),
    ]
    assert parsed.bad_perfdata == ()


def test_plugin_output_without_perfdata() -> None:
    parsed = parse_plugin_output("PING OK - Packet loss = 0%\n")
    assert parsed.text == "PING OK - Packet loss = 0%"
    assert parsed.long_text == ""
    assert parsed.perfdata == ()


def test_a_value_the_plugin_could_not_determine_is_kept_as_unknown() -> None:
    # guidelines: "value ... may be a literal "U" instead, this would indicate that the actual
    # value couldn't be determined"
    datum = parse_perfdatum("'ups load'=U;80;90;0;100")
    assert (datum.label, datum.uom, datum.warn, datum.crit, datum.min, datum.max) == (
        "ups load", "", "80", "90", 0.0, 100.0)
    assert math.isnan(datum.value)
    assert datum.to_dict()["value"] is None


@pytest.mark.parametrize(
    ("raw", "value", "unit"),
    [
        ("rta=42ms;100;500;0", 0.042, "seconds"),
        ("time=0.5s", 0.5, "seconds"),
        ("jitter=250us", 0.00025, "seconds"),
        ("'/var'=818MB;970;975;0;980", 818e6, "bytes"),
        ("swap=2KB", 2000.0, "bytes"),
        ("buffer=1KiB", 1024.0, "bytes"),
        ("mem=3GB", 3e9, "bytes"),
        ("disk=1TB", 1e12, "bytes"),
        ("rx=12B", 12.0, "bytes"),
        ("pl=20%;20;60", 20.0, "percent"),
        ("octets=12345c", 12345.0, "counter"),
        ("'inlet temp'=23.5C", 23.5, ""),  # a unit the guidelines do not name: as given
        ("users=7", 7.0, ""),
    ],
)
def test_perfdata_values_convert_to_base_units_where_the_uom_says(
    raw: str, value: float, unit: str
) -> None:
    got, got_unit = base_value(parse_perfdatum(raw))
    assert got == pytest.approx(value)
    assert got_unit == unit
