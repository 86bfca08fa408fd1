"""A loop failing on every pass (the database is down) logs one traceback per streak, a count at
most once a minute, and its recovery — not thousands of lines a second."""

from __future__ import annotations

import logging

import pytest

from dutydesk.core.logthrottle import FailureLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(failures: FailureLog, exc: Exception) -> None:
    try:
        raise exc
    except Exception:
        failures.failed("claiming due checks", "claiming due checks failed; retrying")


def test_a_database_down_for_two_minutes_logs_a_traceback_once_then_counts(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    failures = FailureLog(logging.getLogger("test.engine"), every=60, clock=clock)
    with caplog.at_level(logging.INFO, "test.engine"):
        for _ in range(240):  # every 0.5 s for two minutes
            fail(failures, ConnectionRefusedError("connection refused"))
            clock.now += 0.5
        failures.recovered("claiming due checks")
    records = caplog.records
    assert len(records) == 3  # the first, one "still failing" count a minute on, the recovery
    assert records[0].exc_info is not None
    assert all(r.exc_info is None for r in records[1:])
    assert "still failing: 121 times in 60 s" in records[1].getMessage()
    assert "ConnectionRefusedError: connection refused" in records[1].getMessage()
    assert "after 240 failures in 120 s" in records[-1].getMessage()


def test_another_kind_of_failure_gets_its_own_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    failures = FailureLog(logging.getLogger("test.engine"), every=60, clock=Clock())
    with caplog.at_level(logging.INFO, "test.engine"):
        fail(failures, ConnectionRefusedError("refused"))
        fail(failures, ConnectionRefusedError("refused"))
        fail(failures, ValueError("a bug"))
    assert [r.exc_info is not None for r in caplog.records] == [True, True]
    assert "ValueError" in caplog.text


def test_a_loop_that_never_failed_logs_nothing_on_success(
        caplog: pytest.LogCaptureFixture) -> None:
    failures = FailureLog(logging.getLogger("test.engine"), clock=Clock())
    with caplog.at_level(logging.INFO, "test.engine"):
        failures.recovered("claiming due checks")
    assert caplog.records == []
