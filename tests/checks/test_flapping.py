"""Flap detection: weighted percent state change and start/stop hysteresis.

Expected percentages are worked out by hand from the rule "20 change slots (21 states), weights
0.8 (oldest) to 1.2 (newest) in equal steps of 0.4/19, percent = 100 * weighted changes / 20".
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.flapping import flap_weights, is_flapping, percent_state_change, record_change

STATES = 21  # Icinga/Nagios: 21 states, 20 state changes


def test_weights_rise_from_point_eight_to_one_point_two_and_average_one():
    weights = flap_weights(STATES)
    assert len(weights) == 20
    assert weights[0] == pytest.approx(0.8)
    assert weights[-1] == pytest.approx(1.2)
    assert all(a < b for a, b in pairwise(weights))
    assert sum(weights) / len(weights) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param([False] * 20, 0.0, id="steady check is 0 %"),
        pytest.param([], 0.0, id="new check without history is 0 %"),
        pytest.param([True] * 20, 100.0, id="change on every run is 100 %"),
        pytest.param([False] * 19 + [True], 6.0, id="one newest change weighs 1.2 -> 6 %"),
        pytest.param([True] + [False] * 19, 4.0, id="one oldest change weighs 0.8 -> 4 %"),
        pytest.param([True], 6.0, id="short history is padded at the old end"),
        # changes in slots 1, 3, ..., 19: 10 * 0.8 + (0.4 / 19) * 100 = 10.105 -> 50.53 %
        pytest.param([False, True] * 10, 50.526316, id="every other run changes"),
        # slots 14..19: 6 * 0.8 + (0.4 / 19) * 99 = 6.884 -> 34.42 %
        pytest.param([False] * 14 + [True] * 6, 34.421053, id="six newest changes"),
        pytest.param([True] * 25, 100.0, id="longer history is cut to the newest 20"),
    ],
)
def test_percent_state_change(history, expected):
    assert percent_state_change(history, STATES) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    ("was_flapping", "percent", "expected"),
    [
        pytest.param(False, 29.9, False, id="below high does not start"),
        pytest.param(False, 30.0, False, id="exactly at high does not start"),
        pytest.param(False, 30.1, True, id="above high starts"),
        pytest.param(False, 27.0, False, id="between thresholds stays not flapping"),
        pytest.param(True, 27.0, True, id="between thresholds stays flapping"),
        pytest.param(True, 25.0, True, id="exactly at low does not stop"),
        pytest.param(True, 24.9, False, id="below low stops"),
    ],
)
def test_flapping_hysteresis(was_flapping, percent, expected):
    assert is_flapping(was_flapping, percent, low=25.0, high=30.0) is expected


def test_record_change_keeps_the_newest_twenty_flags_newest_last():
    history: tuple[bool, ...] = ()
    for i in range(30):
        history = record_change(history, i % 3 == 0, STATES)
    assert len(history) == 20
    assert history[-1] is (29 % 3 == 0)
    assert history[0] is (10 % 3 == 0)


def test_alternating_check_starts_flapping_at_sixth_change_and_stops_fifteen_runs_after():
    history: tuple[bool, ...] = (False,) * 20
    flapping = False
    started_at_change = None
    for change in range(1, 7):
        history = record_change(history, True, STATES)
        flapping = is_flapping(flapping, percent_state_change(history, STATES), 25.0, 30.0)
        if flapping and started_at_change is None:
            started_at_change = change
    # five newest changes: 5 * 0.8 + (0.4/19) * 85 = 5.789 -> 28.9 %, not above 30 %;
    # six: 34.4 %.
    assert started_at_change == 6

    stopped_after = None
    for steady_run in range(1, 21):
        history = record_change(history, False, STATES)
        flapping = is_flapping(flapping, percent_state_change(history, STATES), 25.0, 30.0)
        if not flapping:
            stopped_after = steady_run
            break
    # After m steady runs the six changes sit in slots 14-m..19-m:
    # percent = 5 * (4.8 + (2.4/19) * (16.5 - m)); m=14 -> 25.58 % (still flapping, although
    # already below the 30 % start threshold), m=15 -> 24.95 % -> stops.
    assert stopped_after == 15


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=30), st.integers(min_value=0, max_value=29))
def test_percent_is_bounded_and_one_more_change_never_lowers_it(history, index):
    before = percent_state_change(history, STATES)
    assert 0.0 <= before <= 100.0
    if history:
        flipped = list(history)
        flipped[index % len(history)] = True
        assert percent_state_change(flipped, STATES) >= before


def test_too_short_history_window_is_rejected():
    with pytest.raises(ValueError, match="at least 2 states, got 1"):
        percent_state_change([True], 1)
