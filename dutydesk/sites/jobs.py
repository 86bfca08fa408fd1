"""The sites area's periodic work, listed in ``dutydesk.jobs.scheduled_jobs``."""

from __future__ import annotations

from typing import Any

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.jobs import Job


def site_jobs(settings: Settings, db: Database, metrics: Any = None) -> list[Job]:
    """``probe-health``: the "probe offline" incidents and UNKNOWN checks (every 10 s)."""
    from dutydesk.sites.health import watch_probes

    return [Job(id="probe-health", name="watch remote probes (offline incident per probe)",
                func=lambda: watch_probes(db, settings, metrics=metrics),
                trigger_args={"seconds": 10})]
