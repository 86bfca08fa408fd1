"""The check engine's periodic work, listed by the shell in ``dutydesk.jobs.scheduled_jobs``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dutydesk.core.db import Database, utcnow
from dutydesk.core.jobs import Job


def check_jobs(db: Database, registry: CollectorRegistry | None = None) -> list[Job]:
    """The check engine (started and stopped with the worker; in several processes when
    ``DUTYDESK_CHECK_PROCESSES`` says so) and its rollup/prune job. The engine's own metrics
    go to ``registry`` when given (``checks.engine_export``)."""
    from checks.engine_export import register_engine_metrics
    from checks.store import CheckStore
    from checks.workers import engine_runner

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
