"""The check engine's periodic work, listed by the shell in ``dutydesk.jobs.scheduled_jobs``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.jobs import Job


def check_jobs(
    db: Database, registry: CollectorRegistry | None = None, settings: Settings | None = None
) -> list[Job]:
    """The check engine (started and stopped with the worker; in several processes when
    ``DUTYDESK_CHECK_PROCESSES`` says so) and its rollup/prune job. The engine's own metrics
    go to ``registry`` when given (``checks.engine_export``); plugin checks use the
    ``plugin_dirs`` and ``plugin_user`` of ``settings``."""
    from checks.engine import EngineConfig
    from checks.engine_export import register_engine_metrics
    from checks.store import CheckStore
    from checks.workers import engine_runner

    config = (
        EngineConfig(plugin_dirs=settings.plugin_dirs, plugin_user=settings.plugin_user)
        if settings is not None
        else None
    )
    engine = engine_runner(db, config=config)
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
