"""Heartbeat freshness: the backup cron job of Rack Room B pings every 5 min with 2 min grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from checks.probes.heartbeat import HeartbeatSpec, heartbeat_result, judge_heartbeat
from checks.result import Status
from checks.specs import SpecError

PERIOD = timedelta(minutes=5)
GRACE = timedelta(minutes=2)
CREATED = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def minutes_ago(m: float) -> datetime:
    return NOW - timedelta(minutes=m)


def judge(ping=None, start=None, fail=None, created=CREATED, now=NOW):
    return judge_heartbeat(PERIOD, GRACE, ping, start, fail, created, now)


@pytest.mark.parametrize(
    ("ping", "start", "fail", "status", "message"),
    [
        # pinged 3 min ago: fresh
        (minutes_ago(3), None, None, Status.OK,
         "last ping 3 min ago, expected every 5 min + 2 min grace"),
        # exactly period + grace: still fresh (late only after the deadline)
        (minutes_ago(7), None, None, Status.OK,
         "last ping 7 min ago, expected every 5 min + 2 min grace"),
        # 12 min of silence
        (minutes_ago(12), None, None, Status.CRITICAL,
         "no ping for 12 min, expected every 5 min + 2 min grace"),
        # the job said /fail after its last success
        (minutes_ago(10), None, minutes_ago(1), Status.CRITICAL,
         "the job reported a failure 1 min ago"),
        # a failure that was followed by a success is over
        (minutes_ago(1), None, minutes_ago(4), Status.OK,
         "last ping 1 min ago, expected every 5 min + 2 min grace"),
        # started 1 min ago, still inside the grace
        (minutes_ago(4), minutes_ago(1), None, Status.OK, "running, started 1 min ago"),
        # started 3 min ago, grace is 2 min: did not finish
        (minutes_ago(4), minutes_ago(3), None, Status.CRITICAL,
         "started 3 min ago but did not finish within the 2 min grace"),
        # a start followed by a success: finished
        (minutes_ago(1), minutes_ago(3), None, Status.OK,
         "last ping 1 min ago, expected every 5 min + 2 min grace"),
    ],
)
def test_heartbeat_freshness(ping, start, fail, status: Status, message: str) -> None:
    result = judge(ping, start, fail)
    assert result.status is status
    assert result.message == message
    assert result.started_at == NOW


def test_a_new_check_waits_for_its_first_ping() -> None:
    result = judge(created=minutes_ago(3))
    assert result.status is Status.OK
    assert result.message == "waiting for the first ping, expected every 5 min + 2 min grace"
    assert "seconds_since_ping" not in result.metrics


def test_a_new_check_that_never_pinged_goes_critical_after_period_and_grace() -> None:
    result = judge(created=minutes_ago(12))
    assert result.status is Status.CRITICAL
    assert result.message == (
        "no ping since the check was created 12 min ago, expected every 5 min + 2 min grace"
    )


def test_a_run_started_long_ago_without_a_ping_is_reported_as_unfinished() -> None:
    # a daily job: the start deadline (start + grace) comes before the regular deadline
    result = judge_heartbeat(timedelta(days=1), timedelta(hours=1), minutes_ago(600),
                             minutes_ago(120), None, CREATED, NOW)
    assert result.status is Status.CRITICAL
    assert result.message == "started 2 h ago but did not finish within the 1 h grace"


def test_seconds_since_the_last_ping_is_a_metric() -> None:
    assert judge(minutes_ago(3)).metrics["seconds_since_ping"] == 180


def test_times_in_other_zones_are_the_same_instants() -> None:
    cet = timezone(timedelta(hours=1))
    result = judge(ping=minutes_ago(12).astimezone(cet), now=NOW.astimezone(cet))
    assert result.status is Status.CRITICAL
    assert result.message.startswith("no ping for 12 min")


@pytest.mark.parametrize("field", ["ping", "start", "fail", "created", "now"])
def test_naive_datetimes_are_rejected(field: str) -> None:
    kwargs = {"ping": minutes_ago(3), "start": None, "fail": None, "created": CREATED,
              "now": NOW}
    kwargs[field] = datetime(2025, 3, 1, 11, 0)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        judge(**kwargs)


def test_the_spec_reads_durations_and_feeds_the_judgement() -> None:
    spec = HeartbeatSpec.from_dict({"period": "5m", "grace": "2m"})
    assert (spec.period, spec.grace) == (300.0, 120.0)
    result = heartbeat_result(spec, last_ping_at=minutes_ago(12), last_start_at=None,
                              last_fail_at=None, created_at=CREATED, now=NOW)
    assert result.message == "no ping for 12 min, expected every 5 min + 2 min grace"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "period is required for a heartbeat check"),
        ({"period": "0s"}, "period must be at least 1s"),
        ({"period": "5m", "grace": "-1m"}, "grace must be a duration"),
        ({"period": "5 minutes"}, "period must be a duration"),
    ],
)
def test_bad_specs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        HeartbeatSpec.from_dict(data)


def test_a_failure_reported_with_an_exit_status_names_it() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    result = judge_heartbeat(timedelta(hours=1), timedelta(minutes=5), now - timedelta(hours=1),
                             None, now - timedelta(minutes=2), now - timedelta(days=1), now,
                             last_exit_status=12)
    assert result.status is Status.CRITICAL
    assert result.message == "the job reported a failure (exit status 12) 2 min ago"
