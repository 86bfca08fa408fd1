"""Heartbeat (push) checks: a cron job or device calls /ping/<key>; silence means trouble.

This module is the pure freshness judgement; the HTTP endpoint records the timestamps.

- OK while the last ping is younger than ``period + grace``;
- CRITICAL when ``period + grace`` passed since the last ping (or since creation, if none came);
- CRITICAL when the job reported ``/fail`` and no success came after it;
- CRITICAL when the job reported ``/start`` and no success came within ``grace``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.result import Result, Status
from checks.specs import SpecReader, format_duration


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    period: float  # seconds between expected pings
    grace: float = 0.0  # seconds of tolerance after a missed period, and for a started run

    @classmethod
    def from_dict(cls, d: dict) -> HeartbeatSpec:
        r = SpecReader(d, "heartbeat check")
        spec = cls(
            period=r.duration("period", minimum=1, maximum=366 * 86400),
            grace=r.duration("grace", 0.0, minimum=0, maximum=366 * 86400),
        )
        r.finish()
        return spec

    def to_dict(self) -> dict:
        return {"period": self.period, "grace": self.grace}


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime {value}")


def _words(seconds: float) -> str:
    """"5 min" reads better than "5m" in a sentence on the wall."""
    text = format_duration(seconds)
    for unit, word in (("ms", " ms"), ("s", " s"), ("m", " min"), ("h", " h"), ("d", " days")):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "").isdigit():
            return text[: -len(unit)] + word
    return text


def judge_heartbeat(
    period: timedelta,
    grace: timedelta,
    last_ping_at: datetime | None,
    last_start_at: datetime | None,
    last_fail_at: datetime | None,
    created_at: datetime,
    now: datetime,
    last_exit_status: int | None = None,
) -> Result:
    """Judge a push check's freshness at ``now`` from the times of its last signals.

    ``last_ping_at`` is the last success ping, ``last_start_at`` the last /start, and
    ``last_fail_at`` the last /fail (or non-zero exit status, ``last_exit_status``, which the
    message then names). All datetimes must be timezone-aware.
    """
    for name, value in (("last_ping_at", last_ping_at), ("last_start_at", last_start_at),
                        ("last_fail_at", last_fail_at), ("created_at", created_at),
                        ("now", now)):
        _aware(name, value)
    if period <= timedelta(0):
        raise ValueError(f"period must be positive, got {period}")
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")

    expected = (f"expected every {_words(period.total_seconds())} + "
                f"{_words(grace.total_seconds())} grace")
    metrics: dict[str, float] = {}
    if last_ping_at is not None:
        metrics["seconds_since_ping"] = max(0.0, (now - last_ping_at).total_seconds())

    def result(status: Status, message: str) -> Result:
        return Result(status=status, message=message, started_at=now, metrics=metrics)

    if last_fail_at is not None and (last_ping_at is None or last_fail_at > last_ping_at):
        code = f" (exit status {last_exit_status})" if last_exit_status else ""
        return result(Status.CRITICAL, f"the job reported a failure{code} "
                                       f"{_words(_secs(now, last_fail_at))} ago")

    baseline = last_ping_at if last_ping_at is not None else created_at
    ping_deadline = baseline + period + grace
    running = last_start_at is not None and (last_ping_at is None or last_start_at > last_ping_at)
    start_deadline = last_start_at + grace if running and last_start_at is not None else None

    if start_deadline is not None and now > start_deadline and start_deadline <= ping_deadline:
        return result(Status.CRITICAL, f"started {_words(_secs(now, last_start_at))} ago but did "
                                       f"not finish within the {_words(grace.total_seconds())} "
                                       "grace")
    if now > ping_deadline:
        if last_ping_at is None:
            return result(Status.CRITICAL, f"no ping since the check was created "
                                           f"{_words(_secs(now, created_at))} ago, {expected}")
        return result(Status.CRITICAL, f"no ping for {_words(_secs(now, last_ping_at))}, "
                                       f"{expected}")
    if running and last_start_at is not None:
        return result(Status.OK, f"running, started {_words(_secs(now, last_start_at))} ago")
    if last_ping_at is None:
        return result(Status.OK, f"waiting for the first ping, {expected}")
    return result(Status.OK, f"last ping {_words(_secs(now, last_ping_at))} ago, {expected}")


def _secs(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    return max(0.0, (now - then).total_seconds())


def heartbeat_result(
    spec: HeartbeatSpec,
    *,
    last_ping_at: datetime | None,
    last_start_at: datetime | None,
    last_fail_at: datetime | None,
    created_at: datetime,
    now: datetime,
    last_exit_status: int | None = None,
) -> Result:
    """``judge_heartbeat`` with the period and grace of a ``HeartbeatSpec``."""
    return judge_heartbeat(
        timedelta(seconds=spec.period), timedelta(seconds=spec.grace),
        last_ping_at, last_start_at, last_fail_at, created_at, now,
        last_exit_status=last_exit_status,
    )
