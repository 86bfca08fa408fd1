"""Every periodic job of every area, assembled in one readable place.

Each area exposes a function returning ``Job`` values; the worker adds them to APScheduler.
Areas that run their own engine (the check poller) return a job with ``on_start``/``on_stop``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dutydesk.config import Settings
from dutydesk.db import Database


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    func: Callable[..., Any]
    trigger: str = "interval"
    trigger_args: dict[str, Any] = field(default_factory=dict)
    on_start: Callable[[], None] | None = None
    on_stop: Callable[[], None] | None = None


def scheduled_jobs(settings: Settings, db: Database) -> list[Job]:
    """All jobs for this deployment. Areas register here as they land."""
    from dutydesk.notify.sender import deliver_due

    jobs: list[Job] = [
        Job(
            id="outbox",
            name="deliver notifications",
            func=lambda: deliver_due(db, settings),
            trigger_args={"seconds": 1},
        ),
    ]
    return jobs
