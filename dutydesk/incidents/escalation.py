"""Escalation: who should have been notified by now, what is due, and when the next step is due.

A policy is an ordered list of steps, each with targets and a delay, plus a repeat count and an
optional acknowledgement timeout::

    steps = [first_line (10 min), second_line (20 min), shift_lead (30 min)], repeat = 1

Semantics (as PagerDuty and GoAlert): step 1 is notified when the incident is triggered; each
step's ``delay_minutes`` is how long it waits *on that step* before the next one is notified.
With the policy above, unacknowledged: first line at 0, second line at 10 min, shift lead at
30 min, then (repeat = 1) the whole list once more: first line at 60, second line at 70, shift
lead at 90, and nothing after that.

- A **cycle** starts whenever the incident (re-)enters *triggered*: opened, reopened, an
  acknowledgement withdrawn or timed out, or resumed from pending without an owner. Each cycle
  starts again from step 1.
- **Acknowledgement stops** the cycle (so do pending and resolved): nothing more becomes due.
- **Acknowledgement timeout** (``ack_timeout_minutes``): if an acknowledged incident is still
  acknowledged that long after the acknowledgement, ``retrigger_due`` says so; the worker then
  applies the lifecycle action ``unacknowledge`` (reason "acknowledgement timeout"), which starts
  a new cycle.
- **SLA breach or a manual escalate** (``sla_breached`` / ``escalated`` events): while the cycle
  runs, the next step becomes due at once and the schedule continues from there. On an
  acknowledged or pending incident, the next step after the last one notified is notified once
  (the owner stays; the next line is told the SLA is breached).

- **Policy change** (``escalation_policy_changed``: a person chose another policy for the
  incident, or its policy was deleted and the default took over): ``policy`` is the policy in
  force *now*, and the timeline before the change was run under another one. So at the change
  the running cycle keeps exactly the steps the timeline says were notified, and the rest of it
  follows the new policy: the next step is due one (new) delay after the last step was notified,
  and never before the change itself. Switching to a faster policy can therefore page the next
  step at once (one step, not a burst); switching to a slower one postpones it.

The worker records each notification it sends as an ``escalation_notified`` event (use
``notified_event``); ``escalation_due`` never returns a step the timeline says was notified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dutydesk.core.timeutil import TimestampError, ensure_utc
from dutydesk.incidents.events import EventKind, IncidentEvent, IncidentStatus, in_order

ROLE_TARGETS = ("first_line", "second_line", "shift_lead")
USER_PREFIX = "user:"
MAX_REPEAT = 9
DEFAULT_REPAGE_MINUTES = 15
MAX_REPAGE_MINUTES = 240


class EscalationError(ValueError):
    """An escalation policy or timeline is invalid; the message names the step and field."""


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """Notify ``targets``; after ``delay_minutes`` without acknowledgement, go to the next step.

    A target is ``"first_line"``, ``"second_line"``, ``"shift_lead"`` (resolved to people by the
    on-duty lookup) or ``"user:<login>"``.
    """

    targets: tuple[str, ...]
    delay_minutes: int

    def __post_init__(self) -> None:
        targets = (self.targets,) if isinstance(self.targets, str) else tuple(self.targets)
        if not targets:
            raise EscalationError("an escalation step needs at least one target")
        for target in targets:
            if target in ROLE_TARGETS:
                continue
            if (
                isinstance(target, str)
                and target.startswith(USER_PREFIX)
                and target[len(USER_PREFIX) :].strip()
            ):
                continue
            raise EscalationError(
                f"escalation target must be first_line, second_line, shift_lead or "
                f"user:<login>, got {target!r}"
            )
        if len(set(targets)) != len(targets):
            raise EscalationError(f"escalation step lists a target twice: {list(targets)}")
        object.__setattr__(self, "targets", targets)
        if (
            isinstance(self.delay_minutes, bool)
            or not isinstance(self.delay_minutes, int)
            or self.delay_minutes < 1
        ):
            raise EscalationError(
                f"escalation delay must be a whole number of minutes >= 1, "
                f"got {self.delay_minutes!r}"
            )

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.delay_minutes)


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Steps, how many extra times to run through them, the acknowledgement timeout, and how
    often an unacknowledged P1/P2 is paged again once the steps ran out (keep paging,
    ``dutydesk.incidents.keep_paging``)."""

    steps: tuple[EscalationStep, ...]
    repeat: int = 0
    ack_timeout_minutes: int | None = None
    repage_minutes: int = DEFAULT_REPAGE_MINUTES

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise EscalationError("an escalation policy needs at least one step")
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int):
            raise EscalationError(f"repeat must be a whole number, got {self.repeat!r}")
        if not 0 <= self.repeat <= MAX_REPEAT:
            raise EscalationError(f"repeat must be between 0 and {MAX_REPEAT}, got {self.repeat}")
        repage = self.repage_minutes
        if (isinstance(repage, bool) or not isinstance(repage, int)
                or not 1 <= repage <= MAX_REPAGE_MINUTES):
            raise EscalationError(
                f"keep paging every must be a whole number of minutes from 1 to "
                f"{MAX_REPAGE_MINUTES}, got {repage!r}")
        timeout = self.ack_timeout_minutes
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1
        ):
            raise EscalationError(
                f"acknowledgement timeout must be a whole number of minutes >= 1 or unset, "
                f"got {timeout!r}"
            )

    @property
    def positions(self) -> int:
        """How many notifications one full cycle makes: steps × (repeat + 1)."""
        return len(self.steps) * (self.repeat + 1)

    def step_at(self, position: int) -> EscalationStep:
        return self.steps[position % len(self.steps)]


@dataclass(frozen=True, slots=True)
class DueNotification:
    """Notify ``targets`` (step ``step`` of round ``round``, both 0-based) from ``due_at`` on.

    ``cycle`` and ``position`` identify it within the incident; record them when sent.
    """

    cycle: int
    position: int
    step: int
    round: int
    targets: tuple[str, ...]
    due_at: datetime


@dataclass(frozen=True, slots=True)
class EscalationStatus:
    """Where escalation stands at ``now``.

    - ``active``: the cycle runs (incident triggered and steps left).
    - ``current``: the step that should have been notified most recently in this cycle.
    - ``due``: notifications due now and not yet recorded as sent, oldest first.
    - ``next_due_at``: when something next becomes due (a step or the re-trigger), or ``None``.
    - ``retrigger_at`` / ``retrigger_due``: the acknowledgement timeout, when acknowledged.
    - ``exhausted``: every step of every round has been reached; nothing more will come.
    """

    active: bool
    cycle: int
    current: DueNotification | None
    due: tuple[DueNotification, ...]
    next_due_at: datetime | None
    retrigger_at: datetime | None
    retrigger_due: bool
    exhausted: bool
    snoozed: bool = False  # the re-trigger ends a snooze, not the policy's timeout


class _Cycle:
    """One pass through the policy, started when the incident entered triggered."""

    def __init__(self, policy: EscalationPolicy, number: int, started_at: datetime) -> None:
        self.policy = policy
        self.number = number
        self.anchor_position = 0  # positions >= anchor follow on from anchor_time
        self.anchor_time = started_at
        self.reached: list[DueNotification] = []  # due by the last replayed moment
        self.running = True
        self.stopped_at: datetime | None = None

    def due_time(self, position: int) -> datetime:
        moment = self.anchor_time
        for earlier in range(self.anchor_position, position):
            moment += self.policy.step_at(earlier).delay
        return moment

    def notification(self, position: int, due_at: datetime) -> DueNotification:
        return DueNotification(
            cycle=self.number,
            position=position,
            step=position % len(self.policy.steps),
            round=position // len(self.policy.steps),
            targets=self.policy.step_at(position).targets,
            due_at=due_at,
        )

    def advance_to(self, moment: datetime) -> None:
        """Mark every scheduled position due by ``moment`` as reached (while running)."""
        if not self.running:
            return
        position = self.next_position
        while position < self.policy.positions and self.due_time(position) <= moment:
            self.reached.append(self.notification(position, self.due_time(position)))
            position += 1

    @property
    def next_position(self) -> int:
        return self.reached[-1].position + 1 if self.reached else 0

    def rebase(self, moment: datetime, notified: dict[tuple[int, int], datetime]) -> None:
        """The policy changed at ``moment`` (see the module docstring, *Policy change*).

        What was replayed so far used the new policy on a past that ran under the old one, so
        only the steps really notified in this cycle (``notified``: key -> when) stay reached.
        """
        last = max((pos for number, pos in notified if number == self.number), default=0)
        last = min(last, self.policy.positions - 1)
        replayed = {n.position: n.due_at for n in self.reached}
        self.reached = [
            self.notification(
                position,
                notified.get((self.number, position)) or replayed.get(position) or moment,
            )
            for position in range(last + 1)
        ]
        self.anchor_position = last + 1
        self.anchor_time = max(moment, self.reached[-1].due_at + self.policy.step_at(last).delay)

    def bump(self, moment: datetime) -> None:
        """Escalate now: the next position becomes due at ``moment``."""
        self.advance_to(moment)
        position = self.next_position
        if position >= self.policy.positions:
            return
        self.reached.append(self.notification(position, moment))
        self.anchor_position = position
        self.anchor_time = moment


def escalation_due(
    policy: EscalationPolicy, timeline: Sequence[IncidentEvent], now: datetime
) -> EscalationStatus:
    """Replay the incident's ``timeline`` up to ``now`` against ``policy``.

    Raises ``EscalationError`` if the timeline has no ``triggered`` event or ``now`` is naive.
    """
    try:
        now = ensure_utc(now, "now")
    except TimestampError as exc:
        raise EscalationError(str(exc)) from None
    events = in_order(timeline, now)
    notified: dict[tuple[int, int], datetime] = {}  # (cycle, position) -> when it was sent
    status: IncidentStatus | None = None
    cycle: _Cycle | None = None
    cycles_started = 0
    acknowledged_since: datetime | None = None
    snooze: timedelta | None = None

    for event in events:
        if cycle is not None:
            cycle.advance_to(event.at)
        if event.kind is EventKind.ESCALATION_NOTIFIED:
            notified.setdefault(_notified_key(event), event.at)
            continue
        if event.kind is EventKind.ESCALATION_POLICY_CHANGED:
            if cycle is not None:
                cycle.rebase(event.at, notified)
            continue
        if event.kind in (EventKind.SLA_BREACHED, EventKind.ESCALATED):
            if cycle is not None and status in (
                IncidentStatus.TRIGGERED,
                IncidentStatus.ACKNOWLEDGED,
                IncidentStatus.PENDING,
            ):
                cycle.bump(event.at)
            continue
        new_status = event.status_after()
        if new_status is None:
            continue
        if status is None and event.kind is not EventKind.TRIGGERED:
            raise EscalationError("the timeline must start with a 'triggered' event")
        entering_triggered = new_status is IncidentStatus.TRIGGERED and (
            status is not IncidentStatus.TRIGGERED or event.kind is EventKind.TRIGGERED
        )
        status = new_status
        if entering_triggered:
            cycle = _Cycle(policy, cycles_started, event.at)
            cycles_started += 1
            cycle.advance_to(event.at)
        elif cycle is not None and cycle.running and status is not IncidentStatus.TRIGGERED:
            cycle.running = False  # acknowledged, pending or resolved: stop escalating
            cycle.stopped_at = event.at
        acknowledged_since = event.at if status is IncidentStatus.ACKNOWLEDGED else None
        if event.kind is EventKind.ACKNOWLEDGED:
            minutes = event.data.get("snooze_minutes")
            snooze = timedelta(minutes=minutes) if isinstance(minutes, int) and minutes > 0 \
                else None
        elif status is not IncidentStatus.ACKNOWLEDGED:
            snooze = None

    if cycle is None:
        raise EscalationError("the timeline must start with a 'triggered' event")
    cycle.advance_to(now)

    due = tuple(n for n in cycle.reached if (n.cycle, n.position) not in notified)
    # Once the cycle stopped, only one-off escalations (breach/manual) made after the stop
    # remain worth sending; scheduled steps that were not sent in time are moot.
    if cycle.stopped_at is not None:
        due = tuple(n for n in due if n.due_at > cycle.stopped_at)
    if status is IncidentStatus.RESOLVED:
        due = ()

    next_position = cycle.next_position
    next_due_at = None
    if cycle.running and next_position < policy.positions:
        next_due_at = cycle.due_time(next_position)
    retrigger_at = None
    if acknowledged_since is not None and snooze is not None:
        retrigger_at = acknowledged_since + snooze  # a snooze says when, not the policy
    elif acknowledged_since is not None and policy.ack_timeout_minutes is not None:
        retrigger_at = acknowledged_since + timedelta(minutes=policy.ack_timeout_minutes)
    if retrigger_at is not None and retrigger_at > now:
        next_due_at = min(filter(None, (next_due_at, retrigger_at)))
    return EscalationStatus(
        active=cycle.running and next_position < policy.positions,
        cycle=cycle.number,
        current=cycle.reached[-1] if cycle.reached else None,
        due=due,
        next_due_at=next_due_at,
        retrigger_at=retrigger_at,
        retrigger_due=retrigger_at is not None and retrigger_at <= now,
        exhausted=next_position >= policy.positions,
        snoozed=retrigger_at is not None and snooze is not None,
    )


def _notified_key(event: IncidentEvent) -> tuple[int, int]:
    try:
        return int(event.data["cycle"]), int(event.data["position"])
    except (KeyError, TypeError, ValueError):
        raise EscalationError(
            f"escalation_notified event at {event.at.isoformat()} needs integer 'cycle' and "
            f"'position' data, got {dict(event.data)!r}"
        ) from None


def notified_event(
    notification: DueNotification, now: datetime, actor: str = "escalation"
) -> IncidentEvent:
    """The timeline event to record after sending ``notification``."""
    return IncidentEvent(
        EventKind.ESCALATION_NOTIFIED,
        now,
        actor,
        {
            "cycle": notification.cycle,
            "position": notification.position,
            "step": notification.step,
            "round": notification.round,
            "targets": list(notification.targets),
        },
    )
