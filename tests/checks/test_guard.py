"""Probe guard: when the poller loses the network, checks go UNKNOWN, not CRITICAL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checks.guard import GuardError, GuardVerdict, assess_poller, guard_result
from checks.result import PerfDatum, Result, Status

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
OK, WARN, CRIT, UNKNOWN = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN


def ref(status: Status, age_s: float = 10) -> Result:
    return Result(status, f"reference {status.name}", started_at=NOW - timedelta(seconds=age_s))


@pytest.mark.parametrize(
    ("references", "offline", "reason_part"),
    [
        pytest.param({"core-router": ref(CRIT), "resolver": ref(CRIT)}, True,
                     "poller offline: all reference targets unreachable (core-router, resolver)",
                     id="all references down means the poller is offline"),
        pytest.param({"core-router": ref(CRIT), "resolver": ref(UNKNOWN)}, True,
                     "poller offline", id="unknown counts as failed"),
        pytest.param({"core-router": ref(CRIT), "resolver": ref(OK)}, False,
                     "online: 1 of 2 reference targets reachable",
                     id="one reference up means the poller is online"),
        pytest.param({"core-router": ref(CRIT), "resolver": ref(WARN)}, False, "online",
                     id="a slow reference still answered"),
        pytest.param({"core-router": ref(CRIT), "resolver": None}, False,
                     "undecided: no fresh result from resolver",
                     id="a reference without a result leaves the guard undecided"),
        pytest.param({"core-router": ref(CRIT), "resolver": ref(CRIT, age_s=600)}, False,
                     "undecided: no fresh result from resolver",
                     id="a stale failure is no evidence"),
        pytest.param({"core-router": ref(OK, age_s=600), "resolver": ref(CRIT)}, False,
                     "undecided", id="a stale success is no evidence either"),
        pytest.param({"core-router": ref(CRIT)}, False,
                     "guard off: 1 reference target(s) configured, needs 2",
                     id="a single reference cannot take the whole wall down by default"),
        pytest.param({}, False, "guard off: 0 reference target(s)", id="no references configured"),
    ],
)
def test_assess_poller(references, offline, reason_part):
    verdict = assess_poller(references, NOW)
    assert verdict.offline is offline
    assert reason_part in verdict.reason


def test_single_reference_is_enough_when_configured_so():
    verdict = assess_poller({"gateway": ref(CRIT)}, NOW, min_targets=1)
    assert verdict.offline


def test_verdict_lists_failed_and_missing_targets():
    verdict = assess_poller(
        {"a": ref(CRIT), "b": None, "c": ref(OK, age_s=999)}, NOW, min_targets=1
    )
    assert verdict.failed == ("a",)
    assert verdict.missing == ("b", "c")


OFFLINE = GuardVerdict(True, "poller offline: all reference targets unreachable (a, b)")
ONLINE = GuardVerdict(False, "online: 2 of 2 reference targets reachable")


def test_critical_result_becomes_unknown_poller_offline_keeping_what_the_probe_said():
    result = Result(
        CRIT, "connection timed out", started_at=NOW, duration=10.0,
        metrics={"response_time": 10.0}, perfdata=(PerfDatum("time", 10.0, "s"),),
    )
    guarded = guard_result(result, OFFLINE)
    assert guarded.status is UNKNOWN
    assert guarded.message == (
        "poller offline: all reference targets unreachable "
        "(probe said CRITICAL: connection timed out)"
    )
    assert (guarded.started_at, guarded.duration) == (result.started_at, result.duration)
    assert guarded.metrics == result.metrics
    assert guarded.perfdata == result.perfdata


@pytest.mark.parametrize(
    ("verdict", "status", "expected"),
    [
        pytest.param(OFFLINE, UNKNOWN, UNKNOWN, id="unknown while offline stays unknown"),
        pytest.param(OFFLINE, OK, OK, id="OK while offline is believed"),
        pytest.param(OFFLINE, WARN, WARN, id="warning while offline is believed"),
        pytest.param(ONLINE, CRIT, CRIT, id="critical while online stays critical"),
    ],
)
def test_guard_result(verdict, status, expected):
    result = Result(status, "probe text", started_at=NOW)
    guarded = guard_result(result, verdict)
    assert guarded.status is expected
    if verdict.offline and status in (CRIT, UNKNOWN):
        assert guarded.message.startswith("poller offline: all reference targets unreachable")
    else:
        assert guarded is result


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"max_age": timedelta(0)}, "max_age must be a positive timedelta",
                     id="zero max_age"),
        pytest.param({"min_targets": 0}, "min_targets must be a whole number of at least 1, got 0",
                     id="zero min_targets"),
    ],
)
def test_bad_guard_settings_are_rejected(kwargs, message):
    with pytest.raises(GuardError, match=message):
        assess_poller({}, NOW, **kwargs)


def test_naive_now_is_rejected():
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        assess_poller({}, datetime(2024, 5, 6, 9))


@pytest.mark.parametrize(
    ("age_s", "fresh_s", "offline"),
    [
        (240, 5 * 60 + 10, True),  # checked every 5 min: a 4-minute-old failure still counts
        (400, 5 * 60 + 10, False),  # older than its own interval and timeout: stale
        (240, 60, False),  # a 1-minute reference keeps the 2-minute default
    ],
)
def test_a_reference_checked_less_often_is_fresh_within_its_own_interval(
    age_s: float, fresh_s: float, offline: bool
) -> None:
    verdict = assess_poller({"core-router": ref(CRIT), "resolver": ref(CRIT, age_s=age_s)},
                            NOW, fresh_for={"resolver": timedelta(seconds=fresh_s)})
    assert verdict.offline is offline
