"""The check state machine: soft/hard states, flapping, unreachability and maintenance, as one
pure function ``next_state(prev, result, policy, now) -> Transition``.

Semantics (Icinga 2 / Nagios, adapted to a flip-based alert pipeline)
----------------------------------------------------------------------
Soft and hard states
    OK is always HARD. The first non-OK result after OK is SOFT, attempt 1 (HARD at once when
    ``max_attempts == 1``). Each further non-OK result while SOFT counts one attempt; reaching
    ``max_attempts`` makes it HARD with the status of that last result. A HARD problem that moves
    to another non-OK status (WARNING -> CRITICAL) changes HARD at once, without new attempts.
    Any OK result ends a problem at once: a HARD problem recovers HARD, and a SOFT problem simply
    ends ("soft recovery") without ever having been announced. While SOFT the check is re-run
    every ``retry_interval``, otherwise every ``interval`` (``Transition.next_run_at``).

First result (pending)
    :meth:`CheckState.initial` has no status. A first OK result becomes HARD OK at once and
    produces no flip (there is nothing to recover from). A first non-OK result is handled like a
    problem coming from OK: SOFT attempt 1, and when it goes HARD the problem flip has
    ``old_status=None`` ("never checked before").

Flips: what leaves checks/
    ``problem`` (a HARD non-OK status the pipeline has not heard of, coming from OK or pending),
    ``recovery`` (HARD OK after an announced problem), ``changed`` (an announced HARD problem
    moved to another non-OK status). The state remembers ``notified_status``, the hard status
    the last of these flips carried; a flip is emitted whenever the HARD status differs from it
    and nothing suppresses it. This one rule also settles the score after a suppression ends:
    when flapping stops or the parents come back, the pipeline hears the current HARD status if
    it differs from what it last heard, and nothing if the check came back to where it was.
    Informational events travel in the same list: ``flapping_started``/``flapping_stopped``,
    ``unreachable``/``reachable``, ``maintenance_started``/``maintenance_ended``.

Flapping
    Every result records whether its status differs from the previous result's status (soft
    changes count, as in Icinga); see :mod:`checks.flapping`. While the check is flapping no
    problem/recovery/changed flips are emitted, but flapping_started/flapping_stopped are.

Unreachable (``parents_down=True``)
    The check still runs and its soft/hard state is still tracked, but it is marked unreachable
    and raises no problem or changed flip of its own. The event stream shows: an ``unreachable``
    event when the parents go down (carrying the check's own status), then nothing about the
    check's own problems; a ``recovery`` still goes out if a problem announced *before* the parent
    went down clears. When the parents come back, a ``reachable`` event, immediately followed in
    the same transition by a ``problem``/``changed`` flip if the check is still HARD non-OK.
    If the child reaches HARD before its parent's problem is known, its problem flip goes out (the
    same race exists in Icinga); the pipeline's parent-down muter covers that case.

Maintenance (``in_maintenance=True``)
    Nothing is suppressed: state changes and flips are recorded as usual, but every event emitted
    while the check is in maintenance carries ``muted_by="maintenance"`` so the alert pipeline
    records it without notifying and the wall shows "maintenance". ``maintenance_ended`` is not
    muted. A problem the pipeline muted is *held* there and raised exactly once when the window
    is over and the check is still HARD non-OK ("was failing during maintenance since 02:10",
    see ``dutydesk.incidents.held``): one rule for maintenance, silences and parents.

Stale and repeated results
    A result that started before the previous one (a slow run finishing after a newer run), or at
    the same instant (the same result delivered twice), is ignored: ``Transition.stale`` is True,
    the state is unchanged and no event is emitted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from checks.flapping import is_flapping, percent_state_change, record_change
from checks.policy import CheckPolicy
from checks.result import STATUS_NAME, Result, Status
from checks.schedule import NaiveDatetimeError, ensure_utc

MAINTENANCE = "maintenance"


class StateError(ValueError):
    """A persisted check state is inconsistent; the message names the field and value."""


class StateType(enum.StrEnum):
    """SOFT: a problem still being confirmed by retries. HARD: confirmed (and every OK)."""

    SOFT = "SOFT"
    HARD = "HARD"


_STATE_TYPE_VALUE = {state_type: state_type.value for state_type in StateType}


class FlipKind(enum.StrEnum):
    """What a flip announces. The first three are alerts; the rest are informational events."""

    PROBLEM = "problem"
    RECOVERY = "recovery"
    CHANGED = "changed"
    FLAPPING_STARTED = "flapping_started"
    FLAPPING_STOPPED = "flapping_stopped"
    UNREACHABLE = "unreachable"
    REACHABLE = "reachable"
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_ENDED = "maintenance_ended"

    @property
    def is_alert(self) -> bool:
        return self in (FlipKind.PROBLEM, FlipKind.RECOVERY, FlipKind.CHANGED)


@dataclass(frozen=True, slots=True)
class Flip:
    """One event leaving checks/: written as a row, processed by the alert pipeline.

    ``old_status`` is ``None`` when the check had no status before (first result). For alert
    kinds it is the status the pipeline last heard; for informational kinds it is the check's
    previous raw status. ``muted_by`` names why the pipeline must not notify ("maintenance").
    """

    kind: FlipKind
    old_status: Status | None
    new_status: Status
    reason: str
    at: datetime
    muted_by: str | None = None


def _aware_or_none(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return ensure_utc(value, name)
    except NaiveDatetimeError as exc:
        raise StateError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class CheckState:
    """The persisted state of one check (see the module docstring for the rules).

    - ``status``: status of the last result; ``None`` while pending (never checked).
    - ``state_type`` / ``attempt``: SOFT or HARD, and which attempt of ``max_attempts``
      (1 while OK; stays at ``max_attempts`` while a problem is HARD, as Nagios shows "3/3").
    - ``last_hard_status`` / ``last_hard_change``: the confirmed status and when it last changed.
    - ``notified_status``: the hard status the last alert flip carried (what the pipeline knows).
    - ``since``: when ``status`` last changed (soft or hard); ``last_check``: when the last
      result was judged; ``last_result_at``: when that result started (to drop stale results).
    - ``flapping``, ``flap_history`` (change flags, oldest first), ``flap_percent``.
    - ``reachable``: False while a parent is down; ``in_maintenance``: inside a window.
    """

    status: Status | None = None
    state_type: StateType = StateType.HARD
    attempt: int = 1
    last_hard_status: Status | None = None
    notified_status: Status | None = None
    since: datetime | None = None
    last_hard_change: datetime | None = None
    last_check: datetime | None = None
    last_result_at: datetime | None = None
    flapping: bool = False
    flap_history: tuple[bool, ...] = ()
    flap_percent: float = 0.0
    reachable: bool = True
    in_maintenance: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 1:
            raise StateError(f"attempt must be a whole number of at least 1, got {self.attempt!r}")
        if not 0.0 <= self.flap_percent <= 100.0:
            raise StateError(f"flap_percent must be between 0 and 100, got {self.flap_percent!r}")
        if self.status is Status.OK and self.state_type is StateType.SOFT:
            raise StateError("state_type must be HARD while status is OK, got SOFT")
        for name in ("since", "last_hard_change", "last_check", "last_result_at"):
            object.__setattr__(self, name, _aware_or_none(name, getattr(self, name)))
        object.__setattr__(self, "flap_history", tuple(bool(x) for x in self.flap_history))

    @classmethod
    def initial(cls) -> CheckState:
        """The state of a check that has never run (shown as PENDING)."""
        return cls()

    @property
    def pending(self) -> bool:
        return self.status is None

    @property
    def hard_problem(self) -> bool:
        """True while a non-OK status is confirmed (HARD)."""
        return self.state_type is StateType.HARD and self.status not in (None, Status.OK)

    @property
    def display_status(self) -> str:
        """What the wall shows as the status word: PENDING, UNREACHABLE or the status name.

        Maintenance and flapping are shown as badges next to it (``in_maintenance``,
        ``flapping``), so the real status stays visible.
        """
        if self.status is None:
            return "PENDING"
        if not self.reachable and self.status is not Status.OK:
            return "UNREACHABLE"
        return STATUS_NAME[self.status]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (status names, ISO 8601 times, flap history as "0101...")."""
        return {
            "status": _name(self.status),
            "state_type": _STATE_TYPE_VALUE[self.state_type],
            "attempt": self.attempt,
            "last_hard_status": _name(self.last_hard_status),
            "notified_status": _name(self.notified_status),
            "since": _iso(self.since),
            "last_hard_change": _iso(self.last_hard_change),
            "last_check": _iso(self.last_check),
            "last_result_at": _iso(self.last_result_at),
            "flapping": self.flapping,
            "flap_history": "".join("1" if x else "0" for x in self.flap_history),
            "flap_percent": self.flap_percent,
            "reachable": self.reachable,
            "in_maintenance": self.in_maintenance,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckState:
        """Inverse of :meth:`to_dict`; raises :class:`StateError` on unknown values."""
        try:
            history = str(data.get("flap_history", ""))
            if set(history) - {"0", "1"}:
                raise StateError(f"flap_history must be a string of 0 and 1, got {history!r}")
            return cls(
                status=_status(data.get("status")),
                state_type=StateType(data.get("state_type", "HARD")),
                attempt=int(data.get("attempt", 1)),
                last_hard_status=_status(data.get("last_hard_status")),
                notified_status=_status(data.get("notified_status")),
                since=_time(data.get("since")),
                last_hard_change=_time(data.get("last_hard_change")),
                last_check=_time(data.get("last_check")),
                last_result_at=_time(data.get("last_result_at")),
                flapping=bool(data.get("flapping", False)),
                flap_history=tuple(c == "1" for c in history),
                flap_percent=float(data.get("flap_percent", 0.0)),
                reachable=bool(data.get("reachable", True)),
                in_maintenance=bool(data.get("in_maintenance", False)),
            )
        except StateError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise StateError(f"invalid stored check state: {exc}") from None


def _name(status: Status | None) -> str | None:
    return None if status is None else STATUS_NAME[status]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _status(value: object) -> Status | None:
    if value is None:
        return None
    try:
        return Status[str(value)]
    except KeyError:
        allowed = ", ".join(s.name for s in Status)
        raise StateError(f"status must be one of {allowed}, got {value!r}") from None


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of judging one result: the new state, the flips to record, the next run."""

    state: CheckState
    flips: tuple[Flip, ...]
    next_run_at: datetime
    stale: bool = False


def _run_delay(state: CheckState, policy: CheckPolicy) -> timedelta:
    seconds = policy.retry_seconds if state.state_type is StateType.SOFT else policy.interval
    return timedelta(seconds=seconds)


def _soft_hard(prev: CheckState, new: Status, policy: CheckPolicy) -> tuple[StateType, int]:
    """State type and attempt after a result with status ``new``."""
    if new is Status.OK:
        return StateType.HARD, 1
    if prev.status in (None, Status.OK):
        # A new problem starts SOFT at attempt 1, unless no confirmation is wanted.
        if policy.max_attempts <= 1:
            return StateType.HARD, 1
        return StateType.SOFT, 1
    if prev.state_type is StateType.SOFT:
        attempt = prev.attempt + 1
        if attempt >= policy.max_attempts:
            return StateType.HARD, policy.max_attempts
        return StateType.SOFT, attempt
    # HARD problem -> another (or the same) non-OK status: stays HARD, no new confirmation.
    return StateType.HARD, max(1, min(prev.attempt, policy.max_attempts))


def _alert_flip(
    prev_notified: Status | None,
    state: CheckState,
    policy: CheckPolicy,
    result: Result,
    now: datetime,
    context: str,
    muted_by: str | None,
) -> Flip:
    target = state.status
    assert target is not None
    if target is Status.OK:
        kind = FlipKind.RECOVERY
        was = prev_notified.name if prev_notified else "a problem"
        reason = f"OK again after {was}"
    elif prev_notified in (None, Status.OK):
        kind = FlipKind.PROBLEM
        reason = f"{target.name} (HARD, attempt {state.attempt}/{policy.max_attempts})"
    else:
        kind = FlipKind.CHANGED
        reason = f"{prev_notified.name} -> {target.name} (HARD)"
    if context:
        reason += f" ({context})"
    if result.message:
        reason += f": {result.message}"
    return Flip(kind, prev_notified, target, reason, now, muted_by)


def next_state(
    prev: CheckState,
    result: Result,
    policy: CheckPolicy,
    now: datetime,
    *,
    parents_down: bool = False,
    in_maintenance: bool = False,
    muted_by: str | None = None,
) -> Transition:
    """Judge one probe ``result`` against the previous state; see the module docstring.

    ``now`` (timezone-aware) is when the result is judged and stamps the flips; ``parents_down``
    says whether any parent of the check is in a HARD problem; ``in_maintenance`` whether a
    maintenance window is active for the check at ``now``; ``muted_by`` names another reason
    the pipeline must not notify these flips (``"poller_offline"``, see :mod:`checks.guard`;
    maintenance wins when both apply). Pure: no I/O, no clock.
    """
    now = ensure_utc(now, "now")
    started = ensure_utc(result.started_at, "result.started_at")
    if prev.last_result_at is not None and started <= prev.last_result_at:
        return Transition(prev, (), now + _run_delay(prev, policy), stale=True)

    new_status = result.status
    old_status = prev.status
    state_type, attempt = _soft_hard(prev, new_status, policy)
    status_changed = old_status != new_status

    if state_type is StateType.HARD:
        last_hard_status = new_status
        hard_changed = prev.last_hard_status != new_status
        last_hard_change = now if hard_changed else prev.last_hard_change
    else:
        last_hard_status = prev.last_hard_status
        last_hard_change = prev.last_hard_change

    history = record_change(
        prev.flap_history, old_status is not None and status_changed, policy.flap_history_states
    )
    percent = percent_state_change(history, policy.flap_history_states)
    flapping = policy.flap_detection and is_flapping(
        prev.flapping, percent, policy.flap_low_threshold, policy.flap_high_threshold
    )
    reachable = not parents_down
    muted_by = MAINTENANCE if in_maintenance else muted_by

    state = CheckState(
        status=new_status,
        state_type=state_type,
        attempt=attempt,
        last_hard_status=last_hard_status,
        notified_status=prev.notified_status,
        since=now if status_changed else prev.since,
        last_hard_change=last_hard_change,
        last_check=now,
        last_result_at=started,
        flapping=flapping,
        flap_history=history,
        flap_percent=percent,
        reachable=reachable,
        in_maintenance=in_maintenance,
    )

    flips: list[Flip] = []

    def event(kind: FlipKind, reason: str) -> None:
        flips.append(Flip(kind, old_status, new_status, reason, now, muted_by))

    if prev.reachable and not reachable:
        event(
            FlipKind.UNREACHABLE,
            f"a parent is down; the check's own problems are not alerted until it is back "
            f"(check is {new_status.name})",
        )
    elif not prev.reachable and reachable:
        event(FlipKind.REACHABLE, f"parents are up again; check is {new_status.name}")

    if in_maintenance and not prev.in_maintenance:
        event(FlipKind.MAINTENANCE_STARTED, "maintenance window started; alerts are muted")
    elif prev.in_maintenance and not in_maintenance:
        event(FlipKind.MAINTENANCE_ENDED, f"maintenance window ended; check is {new_status.name}")

    thresholds = f"{policy.flap_low_threshold:g} %/{policy.flap_high_threshold:g} %"
    if flapping and not prev.flapping:
        event(
            FlipKind.FLAPPING_STARTED,
            f"weighted state change {percent:.1f} % over the last {policy.flap_history_states} "
            f"results is above {policy.flap_high_threshold:g} %; problem and recovery alerts "
            f"are held",
        )
    elif prev.flapping and not flapping:
        why = (
            "flap detection disabled"
            if not policy.flap_detection
            else f"weighted state change {percent:.1f} % fell below "
            f"{policy.flap_low_threshold:g} %"
        )
        event(FlipKind.FLAPPING_STOPPED, f"{why} (thresholds {thresholds})")

    # Reconcile what the pipeline last heard with the confirmed (HARD) status.
    notified = prev.notified_status
    if state_type is StateType.HARD and new_status != notified:
        if notified is None and new_status is Status.OK:
            notified = Status.OK  # first result OK: nothing to announce
        elif flapping or (not reachable and new_status is not Status.OK):
            pass  # held back; announced once the suppression ends (see module docstring)
        else:
            context = ""
            if prev.flapping and not flapping:
                context = "settled after flapping stopped"
            elif not prev.reachable and reachable:
                context = "parents reachable again"
            flips.append(_alert_flip(notified, state, policy, result, now, context, muted_by))
            notified = new_status

    if notified != state.notified_status:
        state = replace(state, notified_status=notified)
    return Transition(state, tuple(flips), now + _run_delay(state, policy))
