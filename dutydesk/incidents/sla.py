"""SLA clocks: time to acknowledge and time to resolve, as stopwatches replayed from the timeline.

``sla_clock(policy, events, now)`` reads the incident's timeline up to ``now`` and returns both
clocks. The semantics follow iTop/GLPI stopwatches:

- **Time to acknowledge** runs while the incident is *triggered* and has never been
  acknowledged. It stops for good at the first acknowledgement (a later ack timeout or
  withdrawal does not restart it: the SLA measures the first response). It pauses while
  *pending*, and stops while *resolved*; if a never-acknowledged incident is reopened, it
  resumes where it stopped.
- **Time to resolve** runs while *triggered* or *acknowledged*, pauses while *pending*, stops at
  *resolved*. A *reopen* resumes it from the time already accumulated: time spent resolved does
  not count, time before the resolution still does.
- **Priority changes**: a running or paused clock is measured against the target of the
  *current* priority, applied to all time accumulated so far (raising P3 → P1 after 40 minutes
  breaches a 15-minute acknowledge target at once; lowering gives more room). A stopped clock
  keeps the target of the priority it had when it stopped, so a later change does not rewrite a
  met or missed SLA.
- States: ``ok`` below ``warn_at`` (75 %), ``warning`` from 75 %, ``breached`` from 100 %
  (elapsed ≥ target), ``stopped`` once the clock is done; ``paused`` is reported separately.
- ``next_threshold_at`` tells a worker when a running clock will cross its next threshold, so it
  can schedule the next check instead of polling; ``SlaStatus.next_check_at`` is the earliest.

``sla_events_due`` turns readings into ``sla_warning`` / ``sla_breached`` timeline events the
worker should record (each at most once per clock and incident); an ``sla_breached`` event is
what makes escalation move to its next step.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dutydesk.core.stopwatch import (
    ClockState,
    Stopwatch,
    Threshold,
    check_warn_at,
    read_clock,
    thresholds_crossed,
)
from dutydesk.core.timeutil import TimestampError, ensure_utc
from dutydesk.incidents.events import EventKind, IncidentEvent, IncidentStatus, in_order
from dutydesk.incidents.priority import Priority, PriorityError


class SlaError(ValueError):
    """A policy or timeline cannot be used to compute SLA clocks."""


class ClockName(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """Targets for one priority."""

    acknowledge: timedelta
    resolve: timedelta

    def for_clock(self, clock: ClockName) -> timedelta:
        return self.acknowledge if clock is ClockName.ACKNOWLEDGE else self.resolve


DEFAULT_TARGETS: Mapping[Priority, SlaTargets] = {
    Priority.P1: SlaTargets(timedelta(minutes=15), timedelta(hours=4)),
    Priority.P2: SlaTargets(timedelta(minutes=30), timedelta(hours=8)),
    Priority.P3: SlaTargets(timedelta(hours=2), timedelta(hours=24)),
    Priority.P4: SlaTargets(timedelta(hours=8), timedelta(hours=72)),
}


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets per priority (all four required) and the warning ratio (default 0.75)."""

    targets: Mapping[Priority, SlaTargets] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    warn_at: float = 0.75

    def __post_init__(self) -> None:
        targets = {}
        for key, value in self.targets.items():
            try:
                targets[Priority.parse(key)] = value
            except PriorityError as exc:
                raise SlaError(f"SLA policy: {exc}") from None
        missing = [str(p) for p in Priority if p not in targets]
        if missing:
            raise SlaError(f"SLA policy has no targets for {', '.join(missing)}")
        for priority, target in targets.items():
            for clock in ClockName:
                value = target.for_clock(clock)
                if not isinstance(value, timedelta) or value <= timedelta(0):
                    raise SlaError(
                        f"SLA policy {priority}: time to {clock.value} must be a positive "
                        f"duration, got {value!r}"
                    )
        problem = check_warn_at(self.warn_at)
        if problem:
            raise SlaError(f"SLA policy: {problem}")
        object.__setattr__(self, "targets", targets)

    @classmethod
    def from_minutes(
        cls, config: Mapping[str, Mapping[str, Any]], warn_at: float = 0.75
    ) -> SlaPolicy:
        """From config such as ``{"P1": {"acknowledge": 15, "resolve": 240}, ...}`` (minutes)."""
        targets = {}
        for key, values in config.items():
            try:
                ack = float(values["acknowledge"])
                resolve = float(values["resolve"])
            except (KeyError, TypeError, ValueError):
                raise SlaError(
                    f"SLA policy {key}: needs numeric 'acknowledge' and 'resolve' minutes, "
                    f"got {values!r}"
                ) from None
            targets[key] = SlaTargets(timedelta(minutes=ack), timedelta(minutes=resolve))
        return cls(targets=targets, warn_at=warn_at)  # type: ignore[arg-type]

    def target(self, priority: Priority, clock: ClockName) -> timedelta:
        return self.targets[priority].for_clock(clock)


@dataclass(frozen=True, slots=True)
class ClockStatus:
    """One clock's reading at ``now``.

    ``remaining`` is ``target - elapsed`` and goes negative once breached (the wall shows
    "-12 min"). ``percent`` is elapsed / target × 100. ``deadline`` is when the target will be
    reached if the clock keeps running (``None`` unless running). ``breached`` stays true for a
    stopped clock that missed its target.
    """

    clock: ClockName
    priority: Priority
    target: timedelta
    elapsed: timedelta
    state: ClockState
    paused: bool
    breached: bool
    next_threshold_at: datetime | None
    deadline: datetime | None

    @property
    def remaining(self) -> timedelta:
        return self.target - self.elapsed

    @property
    def percent(self) -> float:
        return self.elapsed / self.target * 100

    @property
    def running(self) -> bool:
        return self.state is not ClockState.STOPPED and not self.paused


@dataclass(frozen=True, slots=True)
class SlaStatus:
    acknowledge: ClockStatus
    resolve: ClockStatus
    priority: Priority

    @property
    def next_check_at(self) -> datetime | None:
        """The earliest moment a clock crosses a threshold (``None``: nothing will, as is)."""
        moments = [
            c.next_threshold_at for c in (self.acknowledge, self.resolve) if c.next_threshold_at
        ]
        return min(moments, default=None)

    def clocks(self) -> tuple[ClockStatus, ClockStatus]:
        return (self.acknowledge, self.resolve)


def sla_clock(policy: SlaPolicy, events: Sequence[IncidentEvent], now: datetime) -> SlaStatus:
    """Replay ``events`` (the incident's timeline, any order) up to ``now`` into both clocks.

    Events after ``now`` are ignored. Raises ``SlaError`` if there is no ``triggered`` event or
    the first status event is not one, or ``now`` is naive.
    """
    try:
        now = ensure_utc(now, "now")
    except TimestampError as exc:
        raise SlaError(str(exc)) from None
    ordered = in_order(events, now)
    start = next((e for e in ordered if e.status_after() is not None), None)
    if start is None or start.kind is not EventKind.TRIGGERED:
        raise SlaError("the timeline must start with a 'triggered' event carrying the priority")

    status = IncidentStatus.TRIGGERED
    priority = _priority_of(start, "priority")
    acknowledged_ever = False
    ack = Stopwatch()
    resolve = Stopwatch()
    last = start.at

    for event in ordered[ordered.index(start) + 1 :]:
        span = event.at - last
        if status is IncidentStatus.TRIGGERED and not acknowledged_ever:
            ack.run(span)
        if status in (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED):
            resolve.run(span)
        last = event.at

        if event.kind is EventKind.PRIORITY_CHANGED:
            priority = _priority_of(event, "to")
        if event.kind is EventKind.TRIGGERED:
            raise SlaError(f"a second 'triggered' event at {event.at.isoformat()}; use 'reopened'")
        new_status = event.status_after()
        if new_status is None:
            continue
        status = new_status
        if new_status is IncidentStatus.ACKNOWLEDGED:
            acknowledged_ever = True

        # Remember the priority a clock stopped under; forget it when the clock comes back.
        ack.settle(acknowledged_ever or status is IncidentStatus.RESOLVED, priority)
        resolve.settle(status is IncidentStatus.RESOLVED, priority)

    span = now - last
    ack_running = status is IncidentStatus.TRIGGERED and not acknowledged_ever
    resolve_running = status in (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)
    if ack_running:
        ack.run(span)
    if resolve_running:
        resolve.run(span)
    paused = status is IncidentStatus.PENDING

    return SlaStatus(
        acknowledge=_reading(
            policy, ClockName.ACKNOWLEDGE, ack, priority, ack_running,
            paused and not acknowledged_ever, now,
        ),
        resolve=_reading(
            policy, ClockName.RESOLVE, resolve, priority, resolve_running, paused, now
        ),
        priority=priority,
    )  # fmt: skip


def _reading(
    policy: SlaPolicy,
    clock: ClockName,
    watch: Stopwatch,
    priority: Priority,
    running: bool,
    paused: bool,
    now: datetime,
) -> ClockStatus:
    reading = read_clock(
        watch, key=priority, target_for=lambda p: policy.target(p, clock),
        running=running, paused=paused, warn_at=policy.warn_at, now=now,
    )  # fmt: skip
    return ClockStatus(
        clock=clock,
        priority=reading.key,
        target=reading.target,
        elapsed=reading.elapsed,
        state=reading.state,
        paused=reading.paused,
        breached=reading.breached,
        next_threshold_at=reading.next_threshold_at,
        deadline=reading.deadline,
    )


def _priority_of(event: IncidentEvent, key: str) -> Priority:
    try:
        return Priority.parse(event.data.get(key))
    except PriorityError as exc:
        raise SlaError(f"{event.kind.value} event at {event.at.isoformat()}: {exc}") from None


_THRESHOLD_EVENTS = {Threshold.WARNING: EventKind.SLA_WARNING,
                     Threshold.BREACHED: EventKind.SLA_BREACHED}


def sla_events_due(
    policy: SlaPolicy, events: Sequence[IncidentEvent], now: datetime, actor: str = "sla"
) -> list[IncidentEvent]:
    """The ``sla_warning`` / ``sla_breached`` events to record now, in order.

    Each threshold is reported at most once per clock and incident (the timeline already holding
    one suppresses it). A clock that jumped straight past 100 % (priority raised, worker was
    down) gets both its warning and its breach. Stopped clocks produce nothing.
    """
    status = sla_clock(policy, events, now)
    recorded = {
        (event.kind, event.data.get("clock"))
        for event in events
        if event.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED)
    }
    due: list[IncidentEvent] = []
    for reading in status.clocks():
        for threshold in thresholds_crossed(reading.state):
            kind = _THRESHOLD_EVENTS[threshold]
            if (kind, reading.clock.value) in recorded:
                continue
            data = {
                "clock": reading.clock.value,
                "priority": str(reading.priority),
                "elapsed_s": int(reading.elapsed.total_seconds()),
                "target_s": int(reading.target.total_seconds()),
            }
            due.append(IncidentEvent(kind, now, actor, data))
    return due
