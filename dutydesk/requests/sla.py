"""Request SLA clocks: time to first response and time to resolve, per priority.

Replays the request's timeline with the shared stopwatch rules (``dutydesk.core.stopwatch``,
the same ones incidents use):

- **First response** runs while the request is new or in progress and the desk has not yet
  replied publicly; it stops for good at the first public reply (or at resolution).
- **Resolve** runs while new or in progress, pauses while waiting for the requester, stops at
  resolved/closed; a re-open resumes it from the time accumulated before.
- A priority change measures running and paused clocks against the new target; a stopped clock
  keeps the target it stopped under. Warning at 75 %, breach at 100 %, each reported once.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dutydesk.core.stopwatch import (
    DEFAULT_WARN_AT,
    ClockState,
    Reading,
    Stopwatch,
    Threshold,
    check_warn_at,
    read_clock,
    thresholds_crossed,
)
from dutydesk.incidents.priority import Priority, PriorityError
from dutydesk.requests.events import EventKind, RequestEvent, RequestStatus


class RequestSlaError(ValueError):
    """A policy or timeline cannot be used to compute request SLA clocks."""


class Clock(enum.StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLVE = "resolve"


DEFAULT_REQUEST_TARGETS: Mapping[Priority, Mapping[Clock, timedelta]] = {
    Priority.P1: {Clock.FIRST_RESPONSE: timedelta(minutes=30), Clock.RESOLVE: timedelta(hours=4)},
    Priority.P2: {Clock.FIRST_RESPONSE: timedelta(hours=1), Clock.RESOLVE: timedelta(hours=8)},
    Priority.P3: {Clock.FIRST_RESPONSE: timedelta(hours=4), Clock.RESOLVE: timedelta(hours=24)},
    Priority.P4: {Clock.FIRST_RESPONSE: timedelta(hours=8), Clock.RESOLVE: timedelta(hours=72)},
}


@dataclass(frozen=True, slots=True)
class RequestSlaPolicy:
    """Targets per priority (all four, both clocks) and the warning ratio."""

    targets: Mapping[Priority, Mapping[Clock, timedelta]] = field(
        default_factory=lambda: dict(DEFAULT_REQUEST_TARGETS))
    warn_at: float = DEFAULT_WARN_AT

    def __post_init__(self) -> None:
        for priority in Priority:
            for clock in Clock:
                value = self.targets.get(priority, {}).get(clock)
                if not isinstance(value, timedelta) or value <= timedelta(0):
                    raise RequestSlaError(f"request SLA {priority}: time to {clock.value} must "
                                          f"be a positive duration, got {value!r}")
        problem = check_warn_at(self.warn_at)
        if problem:
            raise RequestSlaError(f"request SLA: {problem}")

    @classmethod
    def from_minutes(cls, config: Mapping[str, Mapping[str, Any]],
                     warn_at: float = DEFAULT_WARN_AT) -> RequestSlaPolicy:
        """From ``{"P1": {"first_response": 30, "resolve": 240}, ...}`` (minutes)."""
        targets: dict[Priority, dict[Clock, timedelta]] = {}
        for key, values in config.items():
            try:
                priority = Priority.parse(key)
                targets[priority] = {clock: timedelta(minutes=float(values[clock.value]))
                                     for clock in Clock}
            except (PriorityError, KeyError, TypeError, ValueError):
                raise RequestSlaError(f"request SLA {key}: needs numeric 'first_response' and "
                                      f"'resolve' minutes, got {values!r}") from None
        return cls(targets=targets, warn_at=warn_at)

    def as_minutes(self) -> dict[str, dict[str, float]]:
        """The snapshot stored on a request when it opens (config changes do not rewrite it)."""
        return {str(p): {c.value: t.total_seconds() / 60 for c, t in clocks.items()}
                for p, clocks in self.targets.items()}


@dataclass(frozen=True, slots=True)
class RequestClocks:
    first_response: Reading
    resolve: Reading
    priority: Priority

    def items(self) -> tuple[tuple[Clock, Reading], ...]:
        return ((Clock.FIRST_RESPONSE, self.first_response), (Clock.RESOLVE, self.resolve))

    @property
    def next_check_at(self) -> datetime | None:
        moments = [r.next_threshold_at for _, r in self.items() if r.next_threshold_at]
        return min(moments, default=None)


_RUNNING = (RequestStatus.NEW, RequestStatus.IN_PROGRESS)


def request_clocks(policy: RequestSlaPolicy, events: Sequence[RequestEvent],
                   now: datetime) -> RequestClocks:
    """Replay ``events`` up to ``now`` into both clocks; the first must be ``created``."""
    ordered = sorted((e for e in events if e.at <= now), key=lambda e: e.at)
    if not ordered or ordered[0].kind is not EventKind.CREATED:
        raise RequestSlaError("the timeline must start with a 'created' event")
    priority = _priority(ordered[0].data.get("priority"))
    status = RequestStatus.NEW
    responded = False
    first, resolve = Stopwatch(), Stopwatch()
    last = ordered[0].at
    for event in ordered[1:]:
        span = event.at - last
        if status in _RUNNING and not responded:
            first.run(span)
        if status in _RUNNING:
            resolve.run(span)
        last = event.at
        if event.kind is EventKind.PRIORITY_CHANGED:
            priority = _priority(event.data.get("to"))
        if event.kind is EventKind.REPLIED:
            responded = True
        status = event.status_after() or status
        done = status in (RequestStatus.RESOLVED, RequestStatus.CLOSED)
        # A resolution answers the requester: reopened later, the first response was given.
        responded = responded or done
        first.settle(responded or done, priority)
        resolve.settle(done, priority)
    span = now - last
    first_running = status in _RUNNING and not responded
    resolve_running = status in _RUNNING
    if first_running:
        first.run(span)
    if resolve_running:
        resolve.run(span)
    paused = status is RequestStatus.WAITING

    def read(watch: Stopwatch, clock: Clock, running: bool, is_paused: bool) -> Reading:
        return read_clock(watch, key=priority, target_for=lambda p: policy.targets[p][clock],
                          running=running, paused=is_paused, warn_at=policy.warn_at, now=now)

    return RequestClocks(
        first_response=read(first, Clock.FIRST_RESPONSE, first_running,
                            paused and not responded),
        resolve=read(resolve, Clock.RESOLVE, resolve_running, paused),
        priority=priority,
    )


_THRESHOLD_EVENTS = {Threshold.WARNING: EventKind.SLA_WARNING,
                     Threshold.BREACHED: EventKind.SLA_BREACHED}


def sla_events_due(policy: RequestSlaPolicy, events: Sequence[RequestEvent], now: datetime,
                   actor: str = "sla") -> list[RequestEvent]:
    """``sla_warning``/``sla_breached`` events to record now, each once per clock and request."""
    clocks = request_clocks(policy, events, now)
    recorded = {(e.kind, e.data.get("clock")) for e in events
                if e.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED)}
    due = []
    for clock, reading in clocks.items():
        if reading.state is ClockState.STOPPED:
            continue
        for threshold in thresholds_crossed(reading.state):
            kind = _THRESHOLD_EVENTS[threshold]
            if (kind, clock.value) in recorded:
                continue
            due.append(RequestEvent(kind, now, actor, {
                "clock": clock.value, "priority": str(reading.key),
                "elapsed_s": int(reading.elapsed.total_seconds()),
                "target_s": int(reading.target.total_seconds())}))
    return due


def _priority(value: Any) -> Priority:
    try:
        return Priority.parse(value)
    except PriorityError as exc:
        raise RequestSlaError(str(exc)) from None
