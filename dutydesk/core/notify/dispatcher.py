"""The worker's sender: delivers outbox messages concurrently, bounded per destination.

One loop thread claims due messages that fit the lane bounds (``dutydesk.core.notify.lanes``: per
destination, per channel, in total, P1 first with reserved room) and hands each to a pool of
daemon threads, which only talk to the receiver; the loop records the outcomes in batches,
renews the leases of what is still in flight, and claims again as slots free up. So a webhook
that never answers holds only its own lane, and e-mail pages keep flowing beside it.

Leases are per message: a message is claimed only when a thread is free to start it, leased for
the longest transport timeout plus ``LEASE_MARGIN``, and the lease is renewed every
``RENEW_EVERY`` while the delivery runs. Two senders never deliver the same message (unless one
is stuck for longer than its lease without renewing), and when a sender is killed, its messages
are due again within the transport timeout plus the margin.

``stop()`` is the graceful shutdown: no new claims, in-flight deliveries get up to ``grace``
seconds (at most the transport timeout) to finish and be recorded, then every lease still held
is released (``release_leases``) so another sender takes those messages at once.

Time: leases are compared by senders on other machines, so they run on the database's clock
(:class:`dutydesk.core.dbclock.DbClock`, measured every ``CLOCK_SYNC_EVERY`` seconds), not
this host's: a sender whose host clock runs ahead cannot take over a live sender's message
before its lease really ran out, and so cannot send it twice.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.dbclock import DbClock
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.delivery import RetryPolicy
from dutydesk.core.notify.lanes import InFlight, Limits
from dutydesk.core.notify.outbox import claim_due, release_leases, renew_leases
from dutydesk.core.notify.sender import (
    DEFAULT_POLICY,
    AttemptHook,
    ChannelDisabler,
    attempt,
    record_delivered,
    record_in,
)
from dutydesk.core.notify.transports import TRANSPORTS, Outcome, Transport

log = logging.getLogger("dutydesk.core.notify")

LEASE_MARGIN = timedelta(seconds=5)
#: Seconds between measurements of the database's clock (``DbClock.sync``, one query).
CLOCK_SYNC_EVERY = 5.0
RENEW_EVERY = 3.0  # seconds; well inside the margin, so a live sender never loses a lease
POLL_SECONDS = 0.25  # how often an idle sender looks for due messages
COALESCE_SECONDS = 0.005  # record and refill several finished slots in one round


def limits_for(settings: Settings) -> Limits:
    return Limits(
        per_lane=settings.outbox_per_destination,
        per_channel=max(settings.outbox_concurrency, settings.outbox_per_destination),
        total=settings.outbox_concurrency,
    )


def lease_for(settings: Settings) -> timedelta:
    """The longest a live delivery can go without a renewal: transport timeout plus margin."""
    return timedelta(seconds=max(settings.webhook_timeout, settings.smtp_timeout)) + LEASE_MARGIN


def sender_name() -> str:
    """Unique per sender instance (several may share a process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:120]


@dataclass(slots=True)
class _Done:
    message: OutboxMessage
    outcome: Outcome
    elapsed_ms: int


class Dispatcher:
    """Concurrent, lane-bounded delivery of due outbox messages (see the module docstring).

    ``start()`` runs the loop in a thread; ``step()`` and ``drain()`` drive it by hand (one
    round, as ``deliver_due`` does). ``stop()`` shuts down gracefully and releases leases.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        transports: Mapping[str, Transport] = TRANSPORTS,
        policy: RetryPolicy | None = None,
        disablers: Mapping[str, ChannelDisabler] | None = None,
        rng: Callable[[], float] = random.random,
        on_recorded: AttemptHook | None = None,
        limits: Limits | None = None,
        batch: int = 200,
        clock: Callable[[], datetime] | None = None,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.transports = transports
        self.policy = policy or DEFAULT_POLICY
        self.disablers = disablers or {}
        self.rng = rng
        self.on_recorded = on_recorded
        self.limits = limits or limits_for(settings)
        self.batch = batch
        #: The database's clock unless one is given (tests pass a fixed one).
        self._dbclock = DbClock() if clock is None else None
        self.clock: Callable[[], datetime] = clock or self._dbclock.now  # type: ignore[union-attr]
        self._clock_synced = -CLOCK_SYNC_EVERY
        self.name = name or sender_name()
        self.lease = lease_for(settings)
        self.busy = InFlight()
        self._in_flight: dict[int, OutboxMessage] = {}
        self._done: queue.Queue[_Done] = queue.Queue()
        self._work: queue.Queue[OutboxMessage | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._loop: threading.Thread | None = None
        self._last_renewal = time.monotonic()
        self._lock = threading.Lock()

    # --- the pool: daemon threads, so a hung receiver never holds up the process exit ----------

    def _ensure_threads(self, wanted: int) -> None:
        wanted = min(wanted, self.limits.threads)
        while len(self._threads) < wanted:
            thread = threading.Thread(target=self._deliver_forever, daemon=True,
                                      name=f"outbox-{len(self._threads)}")
            thread.start()
            self._threads.append(thread)

    def _deliver_forever(self) -> None:
        while True:
            message = self._work.get()
            if message is None:
                return
            outcome, elapsed_ms = attempt(message, self.settings, self.transports)
            self._done.put(_Done(message, outcome, elapsed_ms))
            self._wake.set()

    # --- one round -------------------------------------------------------------------------------

    def step(self, now: datetime | None = None) -> int:
        """Record what finished, renew leases, claim and start what fits; returns how many
        messages were started.

        The records of what finished and the claim of what takes their slots are one
        transaction (one round of database trips per batch, not two); should it fail (a hook
        raising, the database away), what finished is recorded one by one and the claim runs
        on its own, as separate transactions."""
        finished = self._collect()
        self._renew_if_due()
        room = self.limits.threads - self.busy.total + len(finished)
        if self._stopping.is_set() or room <= 0:
            self._record_all(finished)
            return 0
        at = now or self._now()
        try:
            with self.db.session() as s:
                self._write_records(s, finished)
                claimed = claim_due(s, at, min(room, self.batch), owner=self.name,
                                    lease=self.lease, busy=self._busy_without(finished),
                                    limits=self.limits)  # commits the records with the claim
            self._release(finished)
        except Exception:
            if not finished:
                raise
            log.exception("recording deliveries with the next claim failed; recording apart")
            self._record_all(finished)
            with self.db.session() as s:
                claimed = claim_due(s, at, min(room, self.batch), owner=self.name,
                                    lease=self.lease, busy=self.busy, limits=self.limits)
        self._ensure_threads(self.busy.total + len(claimed))
        for message in claimed:
            with self._lock:
                self._in_flight[message.id] = message
                self.busy.add(message)
            self._work.put(message)
        return len(claimed)

    def record_finished(self) -> int:
        """Record every finished attempt in one transaction; returns how many."""
        finished = self._collect()
        self._record_all(finished)
        return len(finished)

    def _collect(self) -> list[_Done]:
        finished: list[_Done] = []
        while True:
            try:
                finished.append(self._done.get_nowait())
            except queue.Empty:
                return finished

    def _busy_without(self, finished: list[_Done]) -> InFlight:
        """What stays in flight once ``finished`` is recorded (their slots are free)."""
        with self._lock:
            busy = self.busy.copy()
        for done in finished:
            busy.remove(done.message)
        return busy

    def _now(self) -> datetime:
        """The database's now (re-measured every ``CLOCK_SYNC_EVERY`` s), or the given clock's."""
        if self._dbclock is not None and (
                time.monotonic() - self._clock_synced >= CLOCK_SYNC_EVERY):
            try:
                with self.db.engine.connect() as conn:
                    self._dbclock.sync(conn)
                self._clock_synced = time.monotonic()
            except Exception:  # the database is away: the claim below says so
                log.debug("measuring the database's clock failed", exc_info=True)
        return self.clock()

    def _write_records(self, s: Session, finished: list[_Done]) -> None:
        now = self.clock()
        record_delivered(s, [(d.message, d.outcome, d.elapsed_ms) for d in finished
                             if d.outcome.ok], now=now, on_recorded=self.on_recorded)
        for done in finished:
            if not done.outcome.ok:
                self._record(s, done)

    def _record_all(self, finished: list[_Done]) -> None:
        """Record ``finished`` in one transaction, or one by one should that fail."""
        if not finished:
            return
        try:
            with self.db.session() as s:
                self._write_records(s, finished)
        except Exception:  # one bad hook must not cost the others their record
            log.exception("recording a batch of deliveries failed; recording one by one")
            for done in finished:
                try:
                    with self.db.session() as s:
                        self._record(s, done)
                except Exception:
                    log.exception("recording delivery of outbox message %s failed",
                                  done.message.id)
        self._release(finished)

    def _release(self, finished: list[_Done]) -> None:
        for done in finished:
            with self._lock:
                self._in_flight.pop(done.message.id, None)
                self.busy.remove(done.message)

    def _record(self, s: Session, done: _Done) -> None:
        record_in(s, done.message, done.outcome, done.elapsed_ms,
                  policy=self.policy, disablers=self.disablers, rng=self.rng, now=self.clock(),
                  on_recorded=self.on_recorded)

    def _renew_if_due(self) -> None:
        if time.monotonic() - self._last_renewal < RENEW_EVERY:
            return
        self._last_renewal = time.monotonic()
        with self._lock:
            ids = list(self._in_flight)
        if ids:
            with self.db.session() as s:
                renew_leases(s, self.name, ids, self._now() + self.lease)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until nothing is in flight (or ``timeout`` seconds passed), recording outcomes
        and renewing leases meanwhile; ``True`` when everything finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.busy.total > 0:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._wake.wait(min(RENEW_EVERY, remaining) if remaining is not None else RENEW_EVERY)
            self._wake.clear()
            self.record_finished()
            self._renew_if_due()
        return True

    # --- the loop --------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop in a background thread (the worker's sender)."""
        if self._loop is not None and self._loop.is_alive():
            return
        self._stopping.clear()
        self._loop = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)
        self._loop.start()
        log.info("sender started", extra={"sender": self.name})

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step()
            except Exception:  # the database away for a moment: log, wait, try again
                log.exception("sender round failed")
            # Whatever was due and fitted has started; the next round is worth its queries when
            # a delivery finished (a slot freed) or after the poll interval (new messages).
            if self._wake.wait(POLL_SECONDS):
                time.sleep(COALESCE_SECONDS)  # let finishing neighbours join this round
            self._wake.clear()

    @property
    def stopping(self) -> bool:
        """``stop()`` was called: no new work is taken."""
        return self._stopping.is_set()

    @property
    def crashed(self) -> bool:
        """Started, not stopped, yet its loop is gone (the watchdog starts it again)."""
        return self._loop is not None and not self._loop.is_alive() and not self.stopping

    def alive(self) -> bool:
        return self._loop is not None and self._loop.is_alive()

    def stop(self, grace: float | None = None) -> int:
        """Stop taking work, let in-flight deliveries finish for up to ``grace`` seconds (default
        and at most: the transport timeout), record them, and release every lease still held.
        Returns how many messages were handed back."""
        self._stopping.set()
        self._wake.set()
        if self._loop is not None:
            self._loop.join(timeout=5)
        limit = max(self.settings.webhook_timeout, self.settings.smtp_timeout)
        self.drain(min(grace, limit) if grace is not None else limit)
        self.record_finished()
        with self.db.session() as s:
            released = release_leases(s, self.name, self.clock())
        if released:
            log.warning("sender stopped with deliveries unfinished; handed back",
                        extra={"sender": self.name, "released": released})
        self.close()
        log.info("sender stopped", extra={"sender": self.name})
        return released

    def close(self) -> None:
        """End the pool's threads (a hung one ends with its transport timeout)."""
        for _thread in self._threads:
            self._work.put(None)
        self._threads.clear()
