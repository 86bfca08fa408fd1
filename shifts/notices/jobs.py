"""The status page's periodic work, listed by the shell in ``dutydesk.jobs.scheduled_jobs``."""

from __future__ import annotations

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.jobs import Job


def notice_jobs(settings: Settings, db: Database) -> list[Job]:
    """Maintenance notices opened and closed by the clock, reminders, the status page refresh."""
    return [
        Job(
            id="status-maintenance",
            name="maintenance notices by the clock, reminders, status page refresh",
            func=lambda: run_status_clock(db, settings),
            trigger_args={"seconds": 30},
        )
    ]


def run_status_clock(db: Database, settings: Settings) -> None:
    from shifts.notices.service import run_maintenance_clock

    with db.session() as session:
        run_maintenance_clock(session, utcnow(), base_url=settings.base_url)
