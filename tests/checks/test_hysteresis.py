"""Recovery hysteresis on metric thresholds: a value hovering at a threshold must not flap."""

from __future__ import annotations

import pytest

from checks.hysteresis import (
    MetricThresholds,
    ThresholdError,
    assess_metric,
    judge_with_hysteresis,
)
from checks.result import Status

OK, WARN, CRIT, UNKNOWN = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN

ROOM = MetricThresholds(warning=27, critical=30, recover=25, metric="temperature")
BATTERY = MetricThresholds(
    warning=15, critical=5, recover=20, direction="below", metric="battery minutes"
)


@pytest.mark.parametrize(
    ("value", "previous", "expected"),
    [
        pytest.param(22.0, OK, OK, id="cool room is OK"),
        pytest.param(26.0, OK, OK, id="warming into the band stays OK"),
        pytest.param(27.0, OK, OK, id="exactly 27 is not above 27"),
        pytest.param(27.5, OK, WARN, id="above 27 is WARNING"),
        pytest.param(30.5, OK, CRIT, id="above 30 is CRITICAL"),
        pytest.param(30.5, WARN, CRIT, id="warning room getting hotter goes CRITICAL"),
        pytest.param(28.0, CRIT, WARN, id="critical room cooling to 28 is WARNING"),
        pytest.param(26.0, CRIT, WARN, id="critical room at 26 has not recovered"),
        pytest.param(26.0, WARN, WARN, id="warning room at 26 has not recovered"),
        pytest.param(25.0, WARN, WARN, id="exactly 25 is not below 25"),
        pytest.param(24.9, WARN, OK, id="below 25 recovers"),
        pytest.param(24.9, CRIT, OK, id="critical room below 25 recovers at once"),
        pytest.param(26.0, UNKNOWN, OK, id="after a failed reading there is no problem to hold"),
        pytest.param(26.0, None, OK, id="first reading in the band is OK"),
        pytest.param(None, WARN, UNKNOWN, id="missing reading is UNKNOWN"),
        pytest.param(float("nan"), OK, UNKNOWN, id="NaN reading is UNKNOWN"),
    ],
)
def test_server_room_temperature(value, previous, expected):
    assert judge_with_hysteresis(value, ROOM, previous) is expected


@pytest.mark.parametrize(
    ("minutes", "previous", "expected"),
    [
        pytest.param(45.0, OK, OK, id="full battery is OK"),
        pytest.param(17.0, OK, OK, id="draining into the band stays OK"),
        pytest.param(14.0, OK, WARN, id="below 15 minutes is WARNING"),
        pytest.param(4.0, WARN, CRIT, id="below 5 minutes is CRITICAL"),
        pytest.param(10.0, CRIT, WARN, id="charging back to 10 minutes is WARNING"),
        pytest.param(18.0, WARN, WARN, id="18 minutes has not recovered"),
        pytest.param(20.0, WARN, WARN, id="exactly 20 is not above 20"),
        pytest.param(21.0, WARN, OK, id="above 20 minutes recovers"),
    ],
)
def test_ups_battery_minutes_remaining(minutes, previous, expected):
    assert judge_with_hysteresis(minutes, BATTERY, previous) is expected


def test_critical_only_threshold_holds_critical_until_recovered():
    load = MetricThresholds(critical=90, recover=80, metric="PDU load %")
    assert judge_with_hysteresis(85, load, CRIT) is CRIT
    assert judge_with_hysteresis(79, load, CRIT) is OK
    assert judge_with_hysteresis(85, load, OK) is OK


def test_without_recover_point_a_problem_clears_at_the_trigger():
    plain = MetricThresholds(warning=27, critical=30)
    assert judge_with_hysteresis(26.9, plain, CRIT) is OK


def test_a_held_problem_says_what_it_waits_for():
    verdict = assess_metric(26.0, ROOM, CRIT)
    assert verdict.status is WARN
    assert verdict.reason == "temperature 26 has not recovered (needs below 25; was CRITICAL)"


def test_a_crossed_threshold_shows_the_value_it_saw():
    assert assess_metric(4.0, BATTERY, OK).reason == "battery minutes 4 is below 5"


def test_hovering_value_does_not_flap():
    readings = [27.2, 26.8, 27.1, 26.9, 27.3, 26.7, 24.0]
    status = OK
    seen = []
    for value in readings:
        status = judge_with_hysteresis(value, ROOM, status)
        seen.append(status)
    assert seen == [WARN] * 6 + [OK]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param({"warning": 27, "critical": 30, "recover": 28},
                     r"recover \(28\) must be at or below warning \(27\)", id="recover above warn"),
        pytest.param({"warning": 31, "critical": 30},
                     r"warning \(31\) must be at or below critical \(30\)", id="warn above crit"),
        pytest.param({"warning": 15, "critical": 5, "recover": 10, "direction": "below"},
                     r"recover \(10\) must be at or above warning \(15\) when direction is 'below'",
                     id="below: recover under warn"),
        pytest.param({"recover": 25}, "set a warning or a critical threshold", id="no trigger"),
        pytest.param({"warning": 27, "direction": "over"},
                     "direction must be 'above' or 'below', got 'over'", id="bad direction"),
        pytest.param({"warning": "27"}, "warning must be a finite number, got '27'", id="str"),
        pytest.param({"critical": float("inf")}, "critical must be a finite number",
                     id="infinite"),
    ],
)
def test_contradicting_thresholds_are_rejected(args, message):
    with pytest.raises(ThresholdError, match=message):
        MetricThresholds(**args)
