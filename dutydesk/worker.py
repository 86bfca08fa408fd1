"""The scheduler process: periodic jobs of every area, plus a heartbeat that /readyz reads.

Web processes never run this (``dutydesk web``); ``dutydesk worker`` runs it alone and
``dutydesk serve`` runs it beside the web server for small sites and the demo. Jobs are listed
in one place, ``dutydesk.jobs.scheduled_jobs``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import delete

from dutydesk.config import Settings
from dutydesk.db import Database, utcnow
from dutydesk.models import LoginFailure, WorkerHeartbeat

log = logging.getLogger("dutydesk.worker")
HEARTBEAT_SECONDS = 10


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(db: Database, name: str, started_at: object) -> None:
    """Upsert this process's heartbeat row (portable: update, insert when absent)."""
    with db.session() as s:
        row = s.get(WorkerHeartbeat, name)
        if row is None:
            s.add(
                WorkerHeartbeat(name=name, beat_at=utcnow(), started_at=started_at, pid=os.getpid())
            )
        else:
            row.beat_at = utcnow()


def prune_housekeeping(db: Database, settings: Settings) -> None:
    """Drop login failures that can no longer count towards throttling."""
    cutoff = utcnow() - timedelta(seconds=settings.login_window_seconds) - timedelta(hours=1)
    with db.session() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))


class Worker:
    """Owns an APScheduler instance; ``start()`` returns at once, ``stop()`` waits for jobs."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.name = worker_name()
        self.started_at = utcnow()
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        self._stopped = threading.Event()
        self._jobs: list = []

    def start(self) -> None:
        from dutydesk.jobs import scheduled_jobs

        beat(self.db, self.name, self.started_at)
        self.scheduler.add_job(
            beat,
            "interval",
            seconds=HEARTBEAT_SECONDS,
            args=(self.db, self.name, self.started_at),
            id="heartbeat",
            name="scheduler heartbeat",
        )
        self.scheduler.add_job(
            prune_housekeeping,
            "interval",
            minutes=10,
            args=(self.db, self.settings),
            id="housekeeping",
            name="housekeeping",
        )
        self._jobs = scheduled_jobs(self.settings, self.db)
        for job in self._jobs:
            self.scheduler.add_job(
                job.func, job.trigger, id=job.id, name=job.name, **job.trigger_args
            )
            if job.on_start is not None:
                job.on_start()
        self.scheduler.start()
        log.info(
            "scheduler started", extra={"worker": self.name, "jobs": len(self.scheduler.get_jobs())}
        )

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        for job in self._jobs:
            if job.on_stop is not None:
                job.on_stop()
        self.scheduler.shutdown(wait=True)
        with self.db.session() as s:
            row = s.get(WorkerHeartbeat, self.name)
            if row is not None:
                s.delete(row)
        log.info("scheduler stopped", extra={"worker": self.name})
