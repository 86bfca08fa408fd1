"""Every periodic job of every area, assembled in one readable place.

Each area exposes a function returning ``Job`` values; the worker adds them to APScheduler.
Areas that run their own engine (the check poller) return a job with ``on_start``/``on_stop``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from dutydesk.core.config import Settings
from dutydesk.core.db import Database


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    func: Callable[..., Any]
    trigger: str = "interval"
    trigger_args: dict[str, Any] = field(default_factory=dict)
    on_start: Callable[[], None] | None = None
    on_stop: Callable[[], None] | None = None


def scheduled_jobs(
    settings: Settings, db: Database, registry: CollectorRegistry | None = None
) -> list[Job]:
    """All jobs for this deployment. Areas register here as they land.

    ``registry``: where the worker's metrics go (the check engine's families and
    ``dutydesk_alerts_suppressed_total`` of the flips this process runs through the pipeline);
    None keeps them unexposed.
    """
    from dutydesk.core.notify.sender import deliver_due
    from dutydesk.incidents.jobs import incident_jobs
    from dutydesk.incidents.notify_timeline import record_notification_attempt
    from dutydesk.incidents.paging import disable_contact
    from dutydesk.incidents.pipeline import metrics_for
    from shifts.visitors.jobs import visitor_jobs

    jobs: list[Job] = [
        Job(
            id="outbox",
            name="deliver notifications",
            func=lambda: deliver_due(
                db,
                settings,
                disablers={"contact": disable_contact},
                on_recorded=record_notification_attempt,  # incident timeline entries
            ),
            trigger_args={"seconds": 1},
        ),
        # the flip job counts what it mutes on the same metrics the web views use
        *incident_jobs(settings, db, metrics_for(registry) if registry is not None else None),
        Job(
            id="status-maintenance",
            name="maintenance notices by the clock, reminders, status page refresh",
            func=lambda: _status_clock(db, settings),
            trigger_args={"seconds": 30},
        ),
    ]
    jobs.extend(visitor_jobs(settings, db))
    from shifts.jobs import shift_jobs

    jobs.extend(shift_jobs(settings, db))
    jobs.extend(check_jobs(db, registry))
    return jobs


def _status_clock(settings_db: Database, settings: Settings) -> None:
    from dutydesk.core.db import utcnow
    from shifts.notices.service import run_maintenance_clock

    with settings_db.session() as session:
        run_maintenance_clock(session, utcnow(), base_url=settings.base_url)


def check_jobs(db: Database, registry: CollectorRegistry | None = None) -> list[Job]:
    """The check engine (started and stopped with the worker; in several processes when
    ``DUTYDESK_CHECK_PROCESSES`` says so) and its rollup/prune job. The engine's own metrics
    go to ``registry`` when given (``checks.engine_export``)."""
    from checks.engine_export import register_engine_metrics
    from checks.store import CheckStore
    from checks.workers import engine_runner
    from dutydesk.core.db import utcnow

    engine = engine_runner(db)
    if registry is not None:
        register_engine_metrics(registry, engine)
    store = CheckStore(db)

    def roll_up_and_prune() -> None:
        now = utcnow()
        store.roll_up(now)
        store.prune(now)

    return [
        Job(
            id="checks-rollup",
            name="check engine; rollups and pruning every 5 minutes",
            func=roll_up_and_prune,
            trigger_args={"minutes": 5},
            on_start=engine.start,
            on_stop=engine.stop,
        ),
    ]
