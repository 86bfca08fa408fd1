"""The shape of periodic work, and how it runs when several workers share one database.

A ``Job`` is what a worker adds to its scheduler. Each domain declares its own jobs
(``checks.jobs``, ``shifts.jobs``, ``shifts.visitors.jobs``, ``shifts.notices.jobs``,
``dutydesk.incidents.jobs``, …) as functions returning ``Job`` values; the shell
(``dutydesk.jobs.scheduled_jobs``) lists the areas of a deployment and the worker runs each
through :func:`guarded`. The core knows only this shape and imports no domain.

One runner per job: every worker schedules every job, so with three workers a job fires three
times per interval. A job with ``one_runner`` (the default) runs in one worker at a time:

- PostgreSQL: the run holds ``pg_try_advisory_xact_lock(<the job's key>)`` in a transaction of
  its own, on a connection it keeps for the run; a worker that does not get the lock skips
  this pass (the holder is doing the work). The lock goes with the transaction — at the end of
  the run, or when the worker dies (its connection closes). A worker paused mid-run (SIGSTOP,
  a frozen VM) keeps it at most :func:`hold_bound` seconds: the lock's transaction sets its
  ``idle_in_transaction_session_timeout`` to that, and the server ends it.
- SQLite: one writer at a time already (every write transaction begins ``IMMEDIATE``), and
  several processes on one SQLite file are not a supported deployment: the job just runs.

The lock saves work; it is not the only guard. A job must still be correct when two runs
overlap (a run that outlived its bound, SQLite): jobs write keyed rows with upserts and act on
rows by compare-and-set. Jobs whose work every worker shares row by row (``SKIP LOCKED``
claims) or that each worker runs for itself (a listener, the outbox sender's watchdog) set
``one_runner=False``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from dutydesk.core.db import Database

log = logging.getLogger("dutydesk.jobs")

#: Bounds of how long a paused runner may keep a job's lock (seconds); see :func:`hold_bound`.
MIN_HOLD = 30.0
MAX_HOLD = 1800.0


@dataclass(frozen=True)
class Job:
    """One periodic job. ``trigger``/``trigger_args`` go to APScheduler as they are; an area that
    runs its own engine (the check poller) passes ``on_start``/``on_stop``, which the worker calls
    when it starts and stops. ``one_runner``: one worker at a time runs it (module docstring);
    False for work each worker does for itself or shares out row by row."""

    id: str
    name: str
    func: Callable[..., Any]
    trigger: str = "interval"
    trigger_args: dict[str, Any] = field(default_factory=dict)
    on_start: Callable[[], None] | None = None
    on_stop: Callable[[], None] | None = None
    one_runner: bool = True


def lock_key(job_id: str) -> int:
    """The job's advisory-lock key: a signed 64-bit number from a hash of its id, the same in
    every process and release (namespaced, so it does not collide with other advisory locks)."""
    digest = hashlib.blake2b(job_id.encode("utf-8"), digest_size=8,
                             person=b"dutydesk-job").digest()
    return int.from_bytes(digest, "big", signed=True)


def hold_bound(job: Job) -> float:
    """Seconds a run may keep its job's lock: twice the job's interval, within
    ``[MIN_HOLD, MAX_HOLD]`` (``MAX_HOLD`` for cron and date triggers). A run that takes longer
    loses the lock (the next pass elsewhere may start beside it) but goes on to the end."""
    if job.trigger != "interval":
        return MAX_HOLD
    args = job.trigger_args
    seconds = (args.get("seconds", 0) + 60 * args.get("minutes", 0)
               + 3600 * args.get("hours", 0) + 86400 * args.get("days", 0)
               + 604800 * args.get("weeks", 0))
    return min(MAX_HOLD, max(MIN_HOLD, 2.0 * seconds))


@contextmanager
def job_lock(db: Database, job_id: str, hold_seconds: float) -> Iterator[bool]:
    """Yield whether this process holds the job's lock for the ``with`` block (always True off
    PostgreSQL). The lock is transaction-scoped and released at the block's end, whatever
    happens in it; a lost lock connection (the bound passed, the database restarted) is
    logged, never raised over the job's own outcome."""
    if db.dialect != "postgresql":
        yield True
        return
    conn = db.engine.connect()
    try:
        conn.execute(text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"),
                     {"ms": f"{int(hold_seconds * 1000)}ms"})
        held = bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                 {"key": lock_key(job_id)}).scalar())
    except BaseException:
        conn.invalidate()
        conn.close()
        raise
    try:
        yield held
    finally:
        try:
            conn.rollback()  # ends the transaction: the lock goes with it
        except Exception as exc:  # the server ended it already (bound passed): lock is gone
            log.warning("job %s outlived its lock (%.0f s): %s", job_id, hold_seconds,
                        str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
            conn.invalidate()
        conn.close()


def guarded(job: Job, db: Database) -> Callable[[], Any]:
    """What the worker schedules for ``job``: its ``func``, run under the job's lock when it is
    ``one_runner`` (a pass another worker is running is skipped and returns None)."""
    if not job.one_runner:
        return job.func
    bound = hold_bound(job)

    def run() -> Any:
        with job_lock(db, job.id, bound) as held:
            if not held:
                log.debug("job %s: another worker is running it; skipped", job.id)
                return None
            return job.func()

    run.__name__ = f"guarded_{job.id.replace('-', '_')}"
    run.__qualname__ = run.__name__
    return run
