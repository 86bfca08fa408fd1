"""The check engine: one asyncio event loop in its own thread runs every due check.

How a run flows::

    claimer (every claim_interval)  --claim_due(now + horizon)-->  timer wheel (loop.call_at)
    timer fires at the check's slot  -->  semaphore (bounded concurrency)  -->  run_probe with a
    hard timeout (or the heartbeat judgement)  -->  probe guard  -->  next_state(...)  -->
    write buffer  --every flush_interval, ONE transaction-->  state (CAS), result, flips, rollup

- The schedule is the database: ``check_states.next_due_at`` holds each check's next slot, laid
  out by :func:`checks.schedule.next_due` (stable per-check phase, no herd at :00). The timer
  wheel is asyncio's own (``loop.call_later``); claims look ``horizon`` seconds ahead so a run
  starts on its slot, not on the next claim tick.
- Slow checks never delay others: every run is its own task; only the semaphore bounds how many
  probes are in flight, and every probe has a hard timeout (``checks.timeout``).
- Several workers share one database: claims are compare-and-set (and ``SKIP LOCKED`` on
  PostgreSQL), see :mod:`checks.store`.
- DB calls run on a small thread pool so the loop keeps timing while SQLite fsyncs.

The engine owns no global state; ``Engine(db).start()`` / ``.stop()`` are what the worker calls
(see ``dutydesk.jobs``). Its Prometheus metrics live on ``Engine.metrics.registry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from checks.engine_metrics import EngineMetrics
from checks.guard import POLLER_OFFLINE, GuardVerdict, guard_result
from checks.maintenance import MaintenanceWindow, active_window
from checks.probes import CHECK_TYPES, ProbeContext, build_spec, run_probe
from checks.probes.base import DEFAULT_PLUGIN_DIRS, DEFAULT_PLUGIN_USER
from checks.probes.gate import RunOutlived, set_gate
from checks.probes.heartbeat import heartbeat_result
from checks.result import Result, Status
from checks.schedule import CLAIM_AHEAD, may_start, next_due
from checks.state import StateType, next_state
from checks.store import CheckStore, Claim, Outcome
from checks.windows import EMPTY_INDEX, WindowIndex, windows_for
from dutydesk.core.db import Database, utcnow
from dutydesk.core.dbclock import DbClock
from dutydesk.core.logthrottle import FailureLog

log = logging.getLogger("checks.engine")
@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Tuning knobs; the defaults carry ~1,000 checks/s on two cores."""

    concurrency: int = 1000
    # Claims look ``horizon`` s ahead every ``claim_interval`` s, and judged runs are written
    # every ``flush_interval`` s: a SQLite commit costs milliseconds whatever its size, so a
    # few larger transactions per second cost far less per check than many small ones.
    claim_interval: float = 0.5
    #: The claim-ahead window; leases leave it (``checks.schedule.lease_until``), so every
    #: worker of one database uses the same (the default).
    horizon: float = CLAIM_AHEAD
    claim_limit: int = 2000
    flush_interval: float = 0.25
    context_refresh: float = 5.0
    keep_results: int = 100
    trim_every: int = 10
    db_threads: int = 2
    #: Seconds ``stop()`` lets probes in flight finish; the rest are cancelled and their claims
    #: given back, so a stopping worker hands its checks over at once (SIGTERM to exit < 10 s).
    stop_grace: float = 1.0
    #: Run the loop on uvloop when it is installed (sockets, timers and transports in C: about
    #: half the loop's CPU per probe); the standard loop otherwise.
    uvloop: bool = True
    #: Where plugin checks are found (by name) and whom they run as when we are root
    #: (the ``plugin_dirs`` and ``plugin_user`` settings).
    plugin_dirs: tuple[str, ...] = DEFAULT_PLUGIN_DIRS
    plugin_user: str | None = DEFAULT_PLUGIN_USER


def event_loop_factory(prefer_uvloop: bool = True) -> Callable[[], asyncio.AbstractEventLoop]:
    """The factory of the engine's event loop: uvloop's when wanted and importable, else the
    standard one (uvloop is optional; the engine behaves the same on both)."""
    if prefer_uvloop:
        try:
            import uvloop
        except ImportError:
            log.info("uvloop not installed; the check engine runs on the standard event loop")
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


class Engine:
    """Runs due checks until stopped. ``start()`` spawns the loop thread; ``stop()`` joins it."""

    def __init__(
        self,
        db: Database,
        config: EngineConfig | None = None,
        *,
        metrics: EngineMetrics | None = None,
        clock: Callable[[], datetime] = utcnow,
        part: tuple[int, int] | None = None,
    ) -> None:
        """``part=(k, n)``: run only the checks whose id is ``k`` modulo ``n`` (one of ``n``
        engine processes, see :mod:`checks.workers`). ``clock`` is this host's clock; the
        engine runs on the database's (``self.clock``: ``clock`` corrected by the offset each
        claim batch measures, :class:`dutydesk.core.dbclock.DbClock`)."""
        self.db = db
        self.config = config or EngineConfig()
        self.metrics = metrics or EngineMetrics()
        #: A database that is down fails every pass: one traceback per streak, not per pass.
        self.failures = FailureLog(log)
        self.store = CheckStore(db, keep_results=self.config.keep_results,
                                trim_every=self.config.trim_every, part=part,
                                clock=DbClock(clock))
        self.clock: Callable[[], datetime] = self.store.clock.now
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._ctx: ProbeContext | None = None
        self._sem: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running: dict[asyncio.Task[Any], Claim] = {}  # launched, not yet judged
        self._claiming: asyncio.Future[list[Claim]] | None = None
        self._timers: dict[int, tuple[asyncio.TimerHandle, Claim]] = {}
        self._buffer: list[Outcome] = []
        self._specs: dict[int, tuple[datetime, Any]] = {}
        # The last result of each rate-based check (SNMP interface counters), keyed by check
        # id and spec version: the next run turns counters into rates over the time between.
        # In memory only: after a restart the first run reports counters, the next one rates.
        self._previous: dict[int, tuple[datetime, Result]] = {}
        self._verdict = GuardVerdict(False, "not assessed yet")
        self._windows: WindowIndex = EMPTY_INDEX
        self.runs_written = 0
        self.started = threading.Event()

    def stats(self) -> dict[str, Any]:
        """Counters since start: runs written, their statuses (``by_status``; by check type
        too, ``by_type`` = ``{type: {status: n}}``), timeouts, write conflicts and failed
        batches, plus the ``in_flight`` and ``queue_depth`` gauges now (what the benchmark and
        the process supervisor report; :mod:`checks.engine_export` turns them into metrics)."""
        registry = self.metrics.registry
        by_status: dict[str, int] = {}
        by_type: dict[str, dict[str, int]] = {}
        for metric in self.metrics.runs.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    status, count = sample.labels["status"], int(sample.value)
                    by_status[status] = by_status.get(status, 0) + count
                    by_type.setdefault(sample.labels["type"], {})[status] = count
        return {"runs": self.runs_written, "by_status": by_status, "by_type": by_type, **{
            key: int(registry.get_sample_value(f"dutydesk_check_{name}_total") or 0)
            for key, name in (("timeouts", "timeouts"), ("conflicts", "write_conflicts"),
                              ("write_errors", "write_errors"), ("dropped", "runs_dropped"))},
            "in_flight": int(registry.get_sample_value("dutydesk_check_in_flight") or 0),
            "queue_depth": int(registry.get_sample_value("dutydesk_check_queue_depth") or 0)}

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._thread_main, name="check-engine",
                                        daemon=True)
        self._thread.start()
        self.started.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _thread_main(self) -> None:
        try:
            with asyncio.Runner(loop_factory=event_loop_factory(self.config.uvloop)) as runner:
                runner.run(self.run())
        except Exception:  # pragma: no cover - logged, the worker keeps its other jobs
            log.exception("check engine crashed")
            self.started.set()

    async def run(self) -> None:
        """The engine's main coroutine (``start()`` runs it in a thread; tests may await it)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._sem = asyncio.Semaphore(self.config.concurrency)
        self._executor = ThreadPoolExecutor(self.config.db_threads, thread_name_prefix="check-db")
        try:
            async with ProbeContext(plugin_dirs=self.config.plugin_dirs,
                                    plugin_user=self.config.plugin_user) as ctx:
                self._ctx = ctx
                await self._refresh_context()
                loops = [asyncio.create_task(coro) for coro in
                         (self._claim_loop(), self._write_loop(), self._context_loop())]
                self.started.set()
                log.info("check engine started", extra={"concurrency": self.config.concurrency})
                await self._stop.wait()
                self.store.closing = True  # a claim queued for a DB thread now takes nothing
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
                await self._shutdown()
        finally:
            self._executor.shutdown(wait=True)
            log.info("check engine stopped")

    async def _shutdown(self) -> None:
        """Hand every claim back as fast as possible (a stopping worker's checks are run by
        another at once): unstarted ones at once, while probes in flight get
        ``config.stop_grace`` seconds; those still running then are cut off and given back
        before anything else; judged results are written last."""
        unstarted = [claim for _h, claim in self._timers.values()]
        for handle, _claim in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._claiming is not None:  # a claim the cancelled loop did not see through
            with contextlib.suppress(Exception):
                unstarted.extend(await self._claiming)
            self._claiming = None
        releasing = (asyncio.ensure_future(self._db(self.store.release, unstarted))
                     if unstarted else None)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.config.stop_grace)
        cut = list(self._running.values())
        for task in list(self._tasks):
            task.cancel()
        if cut:
            await self._db(self.store.release, cut)
        if releasing is not None:
            await releasing
        await self._flush()

    async def _db(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert self._loop is not None
        return await self._loop.run_in_executor(self._executor, partial(func, *args, **kwargs))

    # ---- the three loops -------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            try:
                assert self._loop is not None
                # Back-pressure: claim no more than can start now. What this engine cannot run
                # stays due in the database for another worker, instead of waiting here for a
                # probe slot until its lease is over (and then being dropped).
                room = self.config.concurrency - len(self._tasks) - len(self._timers)
                if room <= 0:
                    await asyncio.sleep(self.config.claim_interval)
                    continue
                limit = min(self.config.claim_limit, room)
                # Shielded and remembered: if the engine stops meanwhile, the claim still
                # commits in its DB thread, and _shutdown gives its checks back.
                self._claiming = self._loop.run_in_executor(self._executor, partial(
                    self.store.claim_due, None, horizon=self.config.horizon, limit=limit))
                claims = await asyncio.shield(self._claiming)
                self._claiming = None
                self.failures.recovered("claiming due checks")
                for claim in claims:
                    self._schedule(claim)
                self.metrics.queue_depth.set(len(self._timers) + self._waiting())
                if len(claims) >= limit:
                    continue  # more are due: claim again at once
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures.failed("claiming due checks", "claiming due checks failed; retrying")
            await asyncio.sleep(self.config.claim_interval)

    async def _write_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            await self._flush()

    async def _context_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.context_refresh)
            try:
                await self._refresh_context()
                self.failures.recovered("refreshing engine context")
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures.failed("refreshing engine context",
                                     "refreshing engine context failed")

    async def _refresh_context(self) -> None:
        now = self.clock()
        await self._db(self.store.ensure_states, now)
        self._windows = await self._db(self.store.maintenance_windows)
        self._verdict = await self._db(self.store.poller_verdict, now)

    # ---- one run ---------------------------------------------------------------------------

    def _waiting(self) -> int:
        return sum(1 for t in self._tasks if not getattr(t, "_dd_started", False))

    def _schedule(self, claim: Claim) -> None:
        assert self._loop is not None
        old = self._timers.pop(claim.check_id, None)
        if old is not None:
            old[0].cancel()
        delay = max(0.0, (claim.due_at - self.clock()).total_seconds())
        handle = self._loop.call_later(delay, self._launch, claim)
        self._timers[claim.check_id] = (handle, claim)

    def _may_start(self, claim: Claim) -> bool:
        """Whether ``claim``'s run may still start now (:func:`checks.schedule.may_start`)."""
        return may_start(claim.lease, self.clock(), self.config.horizon,
                         interval=claim.policy.interval)

    def _launch(self, claim: Claim) -> None:
        self._timers.pop(claim.check_id, None)
        if not self._may_start(claim):
            # Paused or starved past the lease: the check is (about to be) another worker's.
            # Give the claim back if it is still ours, never probe the target twice.
            self.metrics.dropped.inc()
            self._spawn(self._db(self.store.release, [claim]))
            return
        task = self._spawn(self._run(claim))
        self._running[task] = claim

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._running.pop(task, None)

    async def _run(self, claim: Claim) -> None:
        assert self._sem is not None
        try:
            async with self._sem:
                if not self._may_start(claim):
                    # Waited for a probe slot until the lease was nearly over (an overloaded
                    # engine): the check is another claim's now; probing would run it twice.
                    self.metrics.dropped.inc()
                    return
                task = asyncio.current_task()
                task._dd_started = True  # type: ignore[union-attr]
                set_gate(lambda: self._may_start(claim))
                started = self.clock()
                lag = max(0.0, (started - claim.due_at).total_seconds())
                self.metrics.lag.observe(lag)
                self.metrics.recent_lags.append(lag)
                self.metrics.in_flight.inc()
                try:
                    result = await self._probe(claim, started)
                except RunOutlived:  # paused between the check above and the request
                    self.metrics.dropped.inc()
                    return
                finally:
                    self.metrics.in_flight.dec()
            if claim.multi:  # one of several locations: judge the combination
                result = await self._db(self.store.at_centre, claim, result, self.clock())
            self._judge(claim, result)
            self._running.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in one run must not stop the others
            log.exception("check run failed", extra={"check": claim.slug})

    def _spec(self, claim: Claim) -> Any:
        cached = self._specs.get(claim.check_id)
        if cached is not None and cached[0] == claim.updated_at:
            return cached[1]
        try:
            spec: Any = build_spec(claim.type, claim.spec)
        except ValueError as exc:
            spec = exc
        self._specs[claim.check_id] = (claim.updated_at, spec)
        return spec

    async def _probe(self, claim: Claim, now: datetime) -> Result:
        spec = self._spec(claim)
        if isinstance(spec, Exception):
            return Result(Status.UNKNOWN, f"invalid {claim.type} check: {spec}", now)
        check_type = CHECK_TYPES.get(claim.type)
        if check_type is not None and check_type.passive:
            signals = await self._db(self.store.signals, claim.check_id)
            return heartbeat_result(spec, last_ping_at=signals.last_ping_at,
                                    last_start_at=signals.last_start_at,
                                    last_fail_at=signals.last_fail_at,
                                    last_exit_status=signals.last_exit_status,
                                    created_at=claim.created_at, now=now)
        wants_previous = check_type is not None and check_type.wants_previous
        previous = None
        if wants_previous:
            remembered = self._previous.get(claim.check_id)
            if remembered is not None and remembered[0] == claim.updated_at:
                previous = remembered[1]
        result = await run_probe(claim.type, spec, now, claim.timeout, self._ctx,
                                 previous=previous)
        if wants_previous and result.metrics:
            # a run that measured nothing (timeout, agent away) keeps the older sample
            self._previous[claim.check_id] = (claim.updated_at, result)
        if result.status is Status.UNKNOWN and result.message.startswith("probe timed out"):
            self.metrics.timeouts.inc()
        return result

    def _maintenance(self, claim: Claim) -> list[MaintenanceWindow]:
        return windows_for(self._windows, claim.check_id, claim.group_id, claim.site_id)

    def _judge(self, claim: Claim, result: Result) -> None:
        if claim.slug not in self._verdict.failed and claim.slug not in self._verdict.missing:
            result = guard_result(result, self._verdict)
        now = self.clock()
        windows = self._maintenance(claim)
        in_maintenance = bool(windows) and active_window(windows, now) is not None
        # While the poller is offline the one problem is the poller's (checks.guard): every
        # check's flips, the references' too, reach the pipeline muted.
        transition = next_state(claim.state, result, claim.policy, now,
                                parents_down=claim.parents_down, in_maintenance=in_maintenance,
                                muted_by=POLLER_OFFLINE if self._verdict.offline else None)
        policy = claim.policy
        delay = (policy.retry_seconds if transition.state.state_type is StateType.SOFT
                 else policy.interval)
        due = next_due(claim.check_id, delay, claim.due_at, now,
                       not_before=result.started_at + timedelta(seconds=delay / 2))
        self._buffer.append(Outcome(claim, result, transition, due))

    async def _flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        assert self._loop is not None
        writing = self._loop.run_in_executor(self._executor,
                                             partial(self.store.write_batch, batch))
        cancelled = False
        try:
            try:
                report = await asyncio.shield(writing)
            except asyncio.CancelledError:
                # Stopping: the write goes on in its thread and commits; count what it stored
                # (the metrics and runs_written promise every stored run) before giving way.
                cancelled = True
                report = await writing
        except Exception:
            # The leases expire and the checks run again; nothing half-written (one transaction).
            self.metrics.write_errors.inc()
            self.failures.failed("writing check results", "writing %d check results failed",
                                 len(batch))
            if cancelled:
                raise asyncio.CancelledError from None
            return
        self.failures.recovered("writing check results")
        self.metrics.conflicts.inc(report.conflicts)
        self.metrics.written(report.written)
        self.runs_written += len(report.written)
        if cancelled:
            raise asyncio.CancelledError
