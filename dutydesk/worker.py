"""The scheduler process: periodic jobs of every area, plus a heartbeat that /readyz reads.

Web processes never run this (``dutydesk web``); ``dutydesk worker`` runs it alone and
``dutydesk serve`` runs it beside the web server for small sites and the demo. Jobs are listed
in one place, ``dutydesk.jobs.scheduled_jobs``; each runs through
``dutydesk.core.jobs.guarded``, so with several workers on one PostgreSQL a job runs in one of
them at a time.

Metrics (the check engine's, alerts muted by the flip pipeline, the heartbeat age) go to the
registry given by ``serve`` (the app's, on its /metrics); ``dutydesk worker`` keeps its own and
serves it with prometheus_client's HTTP server on ``DUTYDESK_WORKER_METRICS_HOST``:
``DUTYDESK_WORKER_METRICS_PORT`` when that port is set (0, the default, is off).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from sqlalchemy import delete

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.jobs import Job, guarded
from dutydesk.models import LoginFailure, UserSession, WorkerHeartbeat

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
    """Drop login failures that can no longer count towards throttling, and expired sessions."""
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.login_window_seconds) - timedelta(hours=1)
    expired = now - timedelta(hours=settings.session_lifetime_hours)
    with db.session() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))
        s.execute(delete(UserSession).where(UserSession.created_at < expired))


class MetricsEndpointError(RuntimeError):
    """The worker's metrics endpoint could not listen; the message names the setting."""


class Worker:
    """Owns an APScheduler instance; ``start()`` returns at once, ``stop()`` waits for jobs.

    ``registry``: where the worker's metrics go; None gives it its own, served on
    ``settings.worker_metrics_port`` when that is not 0 (``start()`` raises
    ``MetricsEndpointError``, having started nothing, when it cannot listen there).
    """

    def __init__(
        self, settings: Settings, db: Database, registry: CollectorRegistry | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.name = worker_name()
        self.started_at = utcnow()
        self._serve_metrics = registry is None and settings.worker_metrics_port > 0
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._last_beat: float | None = None
        Gauge(
            "dutydesk_scheduler_heartbeat_age_seconds",
            "Seconds since this scheduler last wrote its heartbeat (every 10 s while healthy)",
            registry=self.registry,
        ).set_function(self._heartbeat_age)
        self._exporter: Any = None
        #: ``(host, port)`` the metrics endpoint listens on, once started.
        self.metrics_address: tuple[str, int] | None = None
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        self._stopped = threading.Event()
        self._jobs: list = []

    def _heartbeat_age(self) -> float:
        if self._last_beat is None:
            return float("nan")  # not started: no heartbeat yet
        return time.monotonic() - self._last_beat

    def _beat(self) -> None:
        beat(self.db, self.name, self.started_at)
        self._last_beat = time.monotonic()

    def start(self) -> None:
        from dutydesk.jobs import scheduled_jobs

        if self._serve_metrics:  # first, so a taken port stops start-up before any work
            host, port = self.settings.worker_metrics_host, self.settings.worker_metrics_port
            try:
                server, _thread = start_http_server(port, host, registry=self.registry)
            except OSError as exc:
                raise MetricsEndpointError(
                    f"cannot serve worker metrics on {host}:{port} "
                    f"(DUTYDESK_WORKER_METRICS_HOST/PORT): {exc.strerror or exc}"
                ) from exc
            self._exporter = server
            self.metrics_address = (host, server.server_address[1])
            log.info("worker metrics on http://%s:%d/metrics", host, port)
        self._beat()
        self.scheduler.add_job(
            self._beat,
            "interval",
            seconds=HEARTBEAT_SECONDS,
            id="heartbeat",
            name="scheduler heartbeat",
        )
        housekeeping = Job(id="housekeeping", name="housekeeping",
                           func=lambda: prune_housekeeping(self.db, self.settings),
                           trigger_args={"minutes": 10})
        self._jobs = [housekeeping, *scheduled_jobs(self.settings, self.db, self.registry)]
        for job in self._jobs:
            # one worker at a time runs a one_runner job (dutydesk.core.jobs.guarded)
            self.scheduler.add_job(
                guarded(job, self.db), job.trigger, id=job.id, name=job.name,
                **job.trigger_args
            )
            if job.on_start is not None:
                job.on_start()
        self.scheduler.start()
        log.info(
            "scheduler started", extra={"worker": self.name, "jobs": len(self.scheduler.get_jobs())}
        )

    def _shutdown_scheduler(self) -> None:
        with contextlib.suppress(Exception):  # not started
            self.scheduler.shutdown(wait=True)

    def stop(self) -> None:
        """Stop within a few seconds (SIGTERM to the worker → exit well inside 10 s), handing
        back what this worker holds so other workers take it at once. The whole shutdown
        sequence lives here, in this order:

        1. no new job run starts (the scheduler is paused);
        2. side by side, waited for up to ``STOP_HOOKS_SECONDS``: the stop hooks, every job's
           ``on_stop`` (:class:`dutydesk.jobs.Job`) — the check engine gives back its unstarted
           claims at once and those of probes still running after a one-second grace; an area
           that leases work (the outbox's messages) releases it in its own hook — and the
           scheduler's shutdown, which waits for job runs in progress (each pass is bounded);
        3. the metrics endpoint closes and this worker's heartbeat row goes.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("scheduler stopping: handing work back", extra={"worker": self.name})
        with contextlib.suppress(Exception):  # not started
            self.scheduler.pause()
        hooks = [job.on_stop for job in self._jobs if job.on_stop is not None]
        run_stop_hooks([*hooks, self._shutdown_scheduler], STOP_HOOKS_SECONDS)
        if self._exporter is not None:
            self._exporter.shutdown()
            self._exporter.server_close()
            self._exporter = None
        with self.db.session() as s:
            row = s.get(WorkerHeartbeat, self.name)
            if row is not None:
                s.delete(row)
        log.info("scheduler stopped", extra={"worker": self.name})


STOP_HOOKS_SECONDS = 7.0


def run_stop_hooks(hooks: list[Callable[[], None]], timeout: float) -> None:
    """Run ``hooks`` side by side (one slow hook does not delay the others' hand-back) and wait
    up to ``timeout`` seconds for all of them; a hook that raises is logged, not fatal."""

    def run(hook: Callable[[], None]) -> None:
        try:
            hook()
        except Exception:
            log.exception("stop hook %r failed", hook)

    threads = [threading.Thread(target=run, args=(hook,), name="stop-hook", daemon=True)
               for hook in hooks]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.error("a stop hook did not finish in %.0f s; stopping anyway", timeout)
