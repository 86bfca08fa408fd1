"""The shape of periodic work: a ``Job`` is what a worker adds to its scheduler.

Each domain declares its own jobs (``checks.jobs``, ``shifts.jobs``, ``shifts.visitors.jobs``,
``shifts.notices.jobs``, ``dutydesk.incidents.jobs``) as functions returning ``Job`` values; the
shell (``dutydesk.jobs.scheduled_jobs``) lists the areas of a deployment and the worker runs them.
The core knows only this shape and imports no domain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Job:
    """One periodic job. ``trigger``/``trigger_args`` go to APScheduler as they are; an area that
    runs its own engine (the check poller) passes ``on_start``/``on_stop``, which the worker calls
    when it starts and stops."""

    id: str
    name: str
    func: Callable[..., Any]
    trigger: str = "interval"
    trigger_args: dict[str, Any] = field(default_factory=dict)
    on_start: Callable[[], None] | None = None
    on_stop: Callable[[], None] | None = None
