"""The shared SLA stopwatch: one set of rules for every clock (incidents, requests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dutydesk.core.stopwatch import (
    ClockState,
    Stopwatch,
    Threshold,
    check_warn_at,
    read_clock,
    thresholds_crossed,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TARGETS = {"fast": timedelta(minutes=60), "slow": timedelta(hours=8)}


def read(watch: Stopwatch, key: str = "fast", *, running: bool = True, paused: bool = False):
    return read_clock(watch, key=key, target_for=TARGETS.__getitem__, running=running,
                      paused=paused, warn_at=0.75, now=NOW)


def test_a_clock_under_three_quarters_is_ok_and_says_when_it_will_warn() -> None:
    reading = read(Stopwatch(timedelta(minutes=30)))
    assert reading.state is ClockState.OK
    assert reading.next_threshold_at == NOW + timedelta(minutes=15)
    assert reading.deadline == NOW + timedelta(minutes=30)


def test_a_clock_past_three_quarters_warns_and_next_looks_at_its_deadline() -> None:
    reading = read(Stopwatch(timedelta(minutes=50)))
    assert reading.state is ClockState.WARNING
    assert reading.next_threshold_at == NOW + timedelta(minutes=10)


def test_a_clock_at_its_target_is_breached_and_needs_no_further_look() -> None:
    reading = read(Stopwatch(timedelta(minutes=60)))
    assert reading.state is ClockState.BREACHED and reading.breached
    assert reading.next_threshold_at is None


def test_a_paused_clock_keeps_its_state_but_has_no_deadline() -> None:
    reading = read(Stopwatch(timedelta(minutes=50)), running=False, paused=True)
    assert reading.state is ClockState.WARNING and reading.paused
    assert reading.deadline is None and reading.next_threshold_at is None


def test_a_stopped_clock_keeps_the_target_it_stopped_under() -> None:
    watch = Stopwatch(timedelta(minutes=90))
    watch.settle(True, "slow")  # stopped while the target was 8 h: met
    watch.settle(True, "fast")  # a later change does not rewrite it
    reading = read(watch, "fast", running=False)
    assert reading.state is ClockState.STOPPED
    assert reading.target == timedelta(hours=8) and not reading.breached


def test_a_clock_that_comes_back_forgets_where_it_stopped() -> None:
    watch = Stopwatch(timedelta(minutes=90))
    watch.settle(True, "slow")
    watch.settle(False, "fast")
    assert read(watch, "fast").state is ClockState.BREACHED


def test_a_clock_that_jumped_past_its_target_reports_both_crossings() -> None:
    assert thresholds_crossed(ClockState.BREACHED) == (Threshold.WARNING, Threshold.BREACHED)
    assert thresholds_crossed(ClockState.WARNING) == (Threshold.WARNING,)
    assert thresholds_crossed(ClockState.STOPPED) == ()
    assert thresholds_crossed(ClockState.OK) == ()


def test_a_warning_ratio_outside_zero_and_one_is_explained() -> None:
    assert check_warn_at(0.75) is None
    assert "between 0 and 1" in (check_warn_at(1.5) or "")
    assert "between 0 and 1" in (check_warn_at(True) or "")
