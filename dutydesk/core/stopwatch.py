"""SLA stopwatches, the pure part every clock shares (incidents' and requests' SLA clocks).

A domain replays its own timeline and decides, span by span, whether each clock *runs*, is
*paused* (waiting on someone else: the time does not count) or is *stopped* (done). This module
holds the rest, once:

- ``Stopwatch`` accumulates running time and remembers the target key (a priority) a clock
  stopped under, so a later priority change does not rewrite a met or missed SLA;
- ``read_clock`` turns elapsed time and a target into a reading: ``ok`` below ``warn_at`` of the
  target (75 % by default), ``warning`` from there, ``breached`` from 100 %, ``stopped`` once
  done; with the deadline and the next moment a threshold will be crossed (for a worker to
  schedule its next look instead of polling);
- ``thresholds_crossed`` says which one-off events (warning, breach) a reading calls for; a
  breach is what moves escalation on.

The semantics follow iTop/GLPI stopwatches. Nothing here knows a domain, a table or a clock name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DEFAULT_WARN_AT = 0.75


class ClockState(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    STOPPED = "stopped"


class Threshold(enum.StrEnum):
    """A one-off crossing a clock reports: its warning, then its breach."""

    WARNING = "warning"
    BREACHED = "breached"


@dataclass(slots=True)
class Stopwatch:
    """Running time so far, and the key (e.g. a priority) the clock last stopped under."""

    elapsed: timedelta = timedelta(0)
    stop_key: Any = None  # set while stopped

    def run(self, span: timedelta) -> None:
        """Count ``span`` (the caller decided the clock was running during it)."""
        self.elapsed += span

    def settle(self, done: bool, key: Any) -> None:
        """After a status change: remember ``key`` when the clock is done (keeping the key of
        an earlier stop), forget it when the clock comes back (a reopen)."""
        self.stop_key = (self.stop_key if self.stop_key is not None else key) if done else None


@dataclass(frozen=True, slots=True)
class Reading:
    """One clock at ``now``: its state, whether it missed its target, the next crossing."""

    state: ClockState
    paused: bool
    breached: bool
    target: timedelta
    elapsed: timedelta
    key: Any  # the target key the reading was measured against
    next_threshold_at: datetime | None
    deadline: datetime | None

    @property
    def running_now(self) -> bool:
        """Counting time at the moment of reading (a deadline exists only then)."""
        return self.deadline is not None


def check_warn_at(warn_at: float) -> str | None:
    """Why ``warn_at`` is unusable (``None``: fine). It is a ratio strictly between 0 and 1."""
    if isinstance(warn_at, bool) or not isinstance(warn_at, int | float) or not 0 < warn_at < 1:
        return f"warn_at must be between 0 and 1 (e.g. 0.75), got {warn_at!r}"
    return None


def read_clock(
    watch: Stopwatch,
    *,
    key: Any,
    target_for: Any,
    running: bool,
    paused: bool,
    warn_at: float,
    now: datetime,
) -> Reading:
    """Read ``watch`` at ``now``.

    ``key`` is the current target key (priority); a stopped clock is measured against the key it
    stopped under instead. ``target_for(key)`` gives the target duration. ``running`` and
    ``paused`` are the caller's decision for the span ending at ``now``; a clock neither running
    nor paused that has a stop key is stopped.
    """
    stopped = watch.stop_key is not None and not running and not paused
    effective = watch.stop_key if stopped else key
    target: timedelta = target_for(effective)
    warn = target * warn_at
    breached = watch.elapsed >= target
    if stopped:
        state = ClockState.STOPPED
    elif breached:
        state = ClockState.BREACHED
    elif watch.elapsed >= warn:
        state = ClockState.WARNING
    else:
        state = ClockState.OK
    next_at = deadline = None
    if running:
        deadline = now + (target - watch.elapsed)
        if watch.elapsed < warn:
            next_at = now + (warn - watch.elapsed)
        elif not breached:
            next_at = deadline
    return Reading(state, paused, breached, target, watch.elapsed, effective, next_at, deadline)


def thresholds_crossed(state: ClockState) -> tuple[Threshold, ...]:
    """The crossings a clock in ``state`` has made, in order (a stopped clock reports none: it
    reported them while it ran). A clock that jumped past 100 % gets both."""
    if state is ClockState.WARNING:
        return (Threshold.WARNING,)
    if state is ClockState.BREACHED:
        return (Threshold.WARNING, Threshold.BREACHED)
    return ()
