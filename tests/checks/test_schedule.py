"""Scheduling: each check keeps a stable phase in its interval, so a fleet is spread out."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.schedule import (
    NaiveDatetimeError,
    ScheduleError,
    ensure_utc,
    next_due,
    phase_offset,
    slot_at_or_after,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 5, 6, 9, 0, 0, tzinfo=UTC)


def seconds_into_interval(at: datetime, interval: float) -> float:
    return round((at - EPOCH).total_seconds() % interval, 6)


def test_phase_is_the_same_in_another_process_with_another_hash_seed():
    ids = ["ups-a", "pdu-3/outlet-12", "http://intranet/health"]
    mine = [phase_offset(i, 60) for i in ids]
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from checks.schedule import phase_offset;"
        f"print([phase_offset(i, 60) for i in {ids!r}])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert out.stdout.strip() == repr(mine)


def test_five_thousand_checks_at_sixty_seconds_are_spread_over_the_minute():
    interval = 60
    per_second = Counter(int(phase_offset(f"check-{n}", interval)) for n in range(5000))
    # 5,000 / 60 = 83.3 per second on average; a herd would put them all in one second.
    assert set(per_second) == set(range(60)), "every second of the minute gets some checks"
    assert max(per_second.values()) < 2 * 83.3
    assert min(per_second.values()) > 0.5 * 83.3


def test_phases_are_distinct_and_inside_the_interval():
    phases = [phase_offset(f"sensor-{n}", 30) for n in range(5000)]
    assert all(0 <= p < 30 for p in phases)
    assert len(set(phases)) > 4990


def test_first_run_of_a_new_check_is_on_its_slot_within_one_interval():
    due = next_due("ups-a", 60, None, NOW)
    assert NOW <= due < NOW + timedelta(seconds=60)
    assert seconds_into_interval(due, 60) == pytest.approx(phase_offset("ups-a", 60), abs=1e-6)


def test_a_check_that_ran_late_keeps_its_rhythm():
    slot = slot_at_or_after("ups-a", 60, NOW)
    late_run = slot + timedelta(seconds=7)  # the probe started 7 s late
    assert next_due("ups-a", 60, late_run, late_run + timedelta(seconds=1)) == slot + timedelta(
        seconds=60
    )


def test_next_run_after_a_run_on_the_slot_is_one_interval_later():
    slot = slot_at_or_after("ups-a", 60, NOW)
    assert next_due("ups-a", 60, slot, slot) == slot + timedelta(seconds=60)


def test_missed_runs_are_skipped_not_caught_up():
    slot = slot_at_or_after("ups-a", 60, NOW)
    now = slot + timedelta(minutes=30, seconds=10)  # the worker was down for half an hour
    due = next_due("ups-a", 60, slot, now)
    assert now <= due < now + timedelta(seconds=60)
    assert seconds_into_interval(due, 60) == seconds_into_interval(slot, 60)


def test_slot_at_an_exact_slot_is_that_slot():
    slot = slot_at_or_after("pdu-1", 15, NOW)
    assert slot_at_or_after("pdu-1", 15, slot) == slot
    assert slot_at_or_after("pdu-1", 15, slot + timedelta(microseconds=1)) == slot + timedelta(
        seconds=15
    )


@settings(max_examples=200, deadline=None)
@given(
    check_id=st.text(min_size=1, max_size=20),
    interval=st.sampled_from([5, 10, 15, 30, 60, 300, 3600, 7.5]),
    since_last=st.integers(min_value=0, max_value=10_000_000),  # µs between last run and now
    offset=st.integers(min_value=0, max_value=10**12),
)
def test_next_due_is_after_the_last_run_not_in_the_past_and_within_one_interval(
    check_id, interval, since_last, offset
):
    last_run = EPOCH + timedelta(microseconds=offset)
    now = last_run + timedelta(microseconds=since_last)
    due = next_due(check_id, interval, last_run, now)
    assert due > last_run
    assert due >= now
    assert due - max(now, last_run) <= timedelta(seconds=interval)


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        pytest.param(0, "interval must be a positive number of seconds, got 0", id="zero"),
        pytest.param(-60, "interval must be a positive number of seconds, got -60", id="negative"),
        pytest.param(float("inf"), "interval must be a positive number", id="infinite"),
        pytest.param("60", "interval must be a number of seconds, got '60'", id="text"),
    ],
)
def test_bad_interval_is_rejected(interval, message):
    with pytest.raises(ScheduleError, match=message):
        next_due("ups-a", interval, None, NOW)


def test_empty_check_id_is_rejected():
    with pytest.raises(ScheduleError, match="check_id must not be empty"):
        phase_offset("", 60)


def test_naive_times_are_rejected_naming_the_argument():
    with pytest.raises(NaiveDatetimeError, match="last_run must be timezone-aware"):
        next_due("ups-a", 60, datetime(2024, 5, 6, 9), NOW)


def test_aware_non_utc_time_is_converted_to_utc():
    kyiv = datetime(2024, 5, 6, 12, 0, tzinfo=ZoneInfo("Europe/Kyiv"))
    converted = ensure_utc(kyiv, "now")
    assert converted == NOW
    assert converted.tzinfo is UTC


def test_a_late_run_is_not_followed_by_another_a_moment_later() -> None:
    slot = next_due("ups-a", 60, None, NOW)
    started = slot + timedelta(seconds=55)  # an overloaded or resumed worker ran it late
    due = next_due("ups-a", 60, slot, started, not_before=started + timedelta(seconds=30))
    assert due == slot + timedelta(seconds=120)  # not slot + 60 s, five seconds after this run
    on_time = next_due("ups-a", 60, slot, slot, not_before=slot + timedelta(seconds=30))
    assert on_time == slot + timedelta(seconds=60)
