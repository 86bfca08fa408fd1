"""The last gate before a probe contacts its target.

The engine checks a run's claim just before it starts the probe (``checks.schedule.may_start``),
but a worker can be paused (SIGSTOP, a frozen VM) between that check and the moment the request
leaves: woken up after its lease ran out, it would send a request another worker has sent
already. Probes whose first contact comes after an ``await`` (the HTTP probe connects first)
ask :func:`may_contact` again in the same synchronous step that writes to the target.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

#: Set by the engine for each run (a task's own copy): whether its claim still holds.
_gate: ContextVar[Callable[[], bool] | None] = ContextVar("dutydesk_probe_gate", default=None)


class RunOutlived(Exception):
    """The run's claim ran out before its probe contacted the target: nothing was sent."""


def set_gate(still_ours: Callable[[], bool]) -> None:
    """Make ``still_ours`` the gate for probes started from the current task."""
    _gate.set(still_ours)


def current_gate() -> Callable[[], bool] | None:
    """The current task's gate (None outside an engine run: "run now", tests)."""
    return _gate.get()


def may_contact(gate: Callable[[], bool] | None) -> bool:
    """Whether a probe holding ``gate`` may contact its target now."""
    return gate is None or gate()
