"""Several engine processes on one machine, so the checks use every core (the GIL keeps one
process's loop and database threads on about one).

Process ``k`` of ``n`` runs an :class:`~checks.engine.Engine` on its own database connection
and claims only the checks whose id is ``k`` modulo ``n`` (``CheckStore(part=(k, n))``): its
caches stay warm and the processes do not queue on each other's claims. Claims are still
compare-and-set, so other machines' workers may share the same checks safely.

The parent starts the processes (``spawn``: no threads are forked), restarts one that dies,
and collects what each reports about once a second (runs, statuses, timeouts, start lags) for
:meth:`EngineProcesses.stats`. ``stop()`` asks each process to stop its engine (unstarted claims
are given back) and waits for it.

No orphans: an engine process never outlives the worker that started it. On Linux it asks the
kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere it also
watches multiprocessing's parent sentinel (a pipe that closes when the parent dies) and exits
at once. So ``kill -9`` of the worker takes its engine processes with it, and a restarted
worker never finds leftovers of itself probing. Signals sent to the whole process group
(SIGTERM by systemd or Kubernetes, Ctrl+C) are the parent's to act on: the children ignore them
and stop when the parent tells them, handing their claims back.

``DUTYDESK_CHECK_PROCESSES`` chooses how many: a whole number, or ``auto`` for one per CPU
core this process may use (:func:`usable_cores`: the CPU affinity mask, capped by a cgroup CPU
quota — a container limited to 2 CPUs on a 32-core host gets 2); unset means one engine inside
the worker process itself (:func:`engine_runner`), as does ``auto`` on one usable core.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from checks.engine import Engine, EngineConfig
from checks.engine_export import LagTally
from checks.orphans import engine_child
from dutydesk.core.db import Database

log = logging.getLogger("checks.workers")
REPORT_EVERY = 1.0  # seconds between a process's reports to the parent
ENV_PROCESSES = "DUTYDESK_CHECK_PROCESSES"


STOP_TIMEOUT = 6.0  # seconds stop() waits for the processes before killing them


def usable_cores(cgroup_root: str = "/sys/fs/cgroup") -> int:
    """The CPU cores this process may run on: its affinity mask (``taskset``, cpusets), capped
    by a cgroup v2 CPU quota (``cpu.max``, e.g. a container's ``--cpus``), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        with open(os.path.join(cgroup_root, "cpu.max"), encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    return max(1, cores)


def processes_from_env(environ: Mapping[str, str] | None = None) -> int:
    """How many engine processes ``DUTYDESK_CHECK_PROCESSES`` asks for (1 when unset).
    Raises ValueError with a message naming the variable when the value is not usable."""
    raw = (os.environ if environ is None else environ).get(ENV_PROCESSES, "").strip()
    if not raw:
        return 1
    if raw.lower() == "auto":
        return usable_cores()
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ValueError(f"{ENV_PROCESSES} must be a whole number from 1 to 64 or 'auto', "
                         f"got {raw!r}")
    return int(raw)


def _child(url: str, part: tuple[int, int], config: dict[str, Any] | None,
           stop: Any, reports: Any, parent_pid: int) -> None:  # pragma: no cover - child
    # Signals to the process group are the parent's: it tells us to stop (claims go back).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING)
    db = Database(url, pool_size=4, worker=True)
    engine = Engine(db, None if config is None else EngineConfig(**config), part=part)
    engine.start()
    try:
        while not stop.wait(REPORT_EVERY):
            _report(engine, part, reports)
    finally:
        engine.stop()
        _report(engine, part, reports)
        db.dispose()
        # Its claims are back and its last report is queued: leave now. The interpreter's own
        # teardown takes seconds on a loaded host, and the worker's stop has a deadline.
        with contextlib.suppress(Exception):
            reports.close()
            reports.join_thread()
        logging.shutdown()
        os._exit(0)


def _report(engine: Engine, part: tuple[int, int], reports: Any) -> None:  # pragma: no cover
    lags = []
    recent = engine.metrics.recent_lags
    while recent:  # the loop thread appends meanwhile; popleft is atomic
        try:
            lags.append(recent.popleft())
        except IndexError:
            break
    with contextlib.suppress(Exception):  # the parent is gone: nothing to tell
        reports.put((part[0], os.getpid(), engine.stats(), lags))


class EngineProcesses:
    """``processes`` engine processes on the database at ``url`` (see the module docstring).
    Has the ``start()``/``stop()`` of :class:`~checks.engine.Engine`, so the worker can hold
    either."""

    def __init__(self, url: str, processes: int, config: EngineConfig | None = None) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.url, self.processes, self.config = url, processes, config
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()
        self._reports: Any = self._ctx.Queue()
        self._procs: dict[int, Any] = {}
        self._latest: dict[int, dict[str, Any]] = {}
        self._base: dict[int, dict[str, Any]] = {}  # totals of earlier (dead) processes
        self._retired: set[int] = set()
        self.recent_lags: deque[float] = deque(maxlen=200_000)
        #: Every reported lag since start, as a histogram (``checks.engine_export``).
        self.lag_tally = LagTally()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        if self._watcher is not None:
            return
        self._stop.clear()
        started = threading.Event()
        # The watcher thread starts every process: the kernel's parent-death signal follows
        # the creating THREAD, and this one lives until the processes have exited.
        self._watcher = threading.Thread(target=self._watch, args=(started,),
                                         name="check-engines", daemon=True)
        self._watcher.start()
        started.wait(60)

    def _spawn(self, k: int) -> None:
        proc = self._ctx.Process(target=engine_child, name=f"check-engine-{k}", daemon=True,
                                 # the config as a dict: unpickling the dataclass would
                                 # import the engine before the child can watch us
                                 args=(self.url, (k, self.processes),
                                       None if self.config is None else asdict(self.config),
                                       self._stop, self._reports, os.getpid()))
        proc.start()
        self._procs[k] = proc

    def _watch(self, started: threading.Event) -> None:
        """Start the processes; collect reports; restart a process that died while we are not
        stopping; once stopping, stay until they have exited (see ``start``)."""
        try:
            for k in range(self.processes):
                self._spawn(k)
        finally:
            started.set()
        while not self._stop.is_set():
            self._drain(timeout=REPORT_EVERY)
            for k, proc in list(self._procs.items()):
                if not proc.is_alive() and not self._stop.is_set():
                    log.error("check engine process %d exited (code %s); restarting",
                              k, proc.exitcode)
                    with self._lock:
                        self._retired.add(proc.pid)  # late reports of it are not counted
                        latest = self._latest.pop(k, None)
                        if latest is not None:  # its successor counts from zero
                            self._base[k] = _add(self._base.get(k, {}), latest)
                    self._spawn(k)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(p.is_alive() for p in self._procs.values()) and time.monotonic() < deadline:
            self._drain(timeout=0.1)
        for proc in self._procs.values():
            if proc.is_alive():
                log.error("check engine process %s did not stop; killing it", proc.name)
                proc.kill()
            proc.join(2)

    def _drain(self, timeout: float = 0.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                k, pid, stats, lags = self._reports.get(
                    timeout=max(0.0, deadline - time.monotonic()))
            except (queue.Empty, OSError, ValueError):
                return
            with self._lock:
                if pid in self._retired:
                    continue
                self._latest[k] = stats
                self.recent_lags.extend(lags)
            self.lag_tally.add(lags)

    def stats(self) -> dict[str, Any]:
        """The sum of every process's counters (as :meth:`Engine.stats`), reports included up
        to about a second ago; ``in_flight`` and ``queue_depth`` of the processes running
        now."""
        self._drain()
        with self._lock:
            return sum_reports(list(self._base.values()), list(self._latest.values()))

    def pids(self) -> list[int]:
        """The process ids running now (the benchmark reads their CPU time)."""
        return [proc.pid for proc in self._procs.values() if proc.is_alive()]

    def stop(self) -> None:
        """Ask every process to stop its engine (claims go back), read their last reports, and
        wait for them (killing one still running after ``STOP_TIMEOUT`` seconds)."""
        self._stop.set()
        if self._watcher is not None:
            # The watcher keeps reading while they exit (a process whose report is still in
            # the pipe would not exit) and kills stragglers.
            self._watcher.join(STOP_TIMEOUT + 3)
            self._watcher = None
        self._drain()
        self._procs.clear()


def sum_reports(retired: list[dict[str, Any]], live: list[dict[str, Any]]) -> dict[str, Any]:
    """What the processes did together: counters summed over the totals of processes that
    died (``retired``) and the latest report of each running one (``live``); the gauges
    (``in_flight``, ``queue_depth``) over the running ones only."""
    total: dict[str, Any] = {}
    for stats in (*retired, *live):
        total = _add(total, stats)
    for gauge in ("in_flight", "queue_depth"):
        total[gauge] = sum(stats.get(gauge, 0) for stats in live)
    return total


def _add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {key: a.get(key, 0) + b.get(key, 0)
           for key in ("runs", "timeouts", "conflicts", "write_errors", "dropped")}
    statuses = dict(a.get("by_status", {}))
    for status, count in b.get("by_status", {}).items():
        statuses[status] = statuses.get(status, 0) + count
    out["by_status"] = statuses
    by_type = {check_type: dict(counts) for check_type, counts in a.get("by_type", {}).items()}
    for check_type, counts in b.get("by_type", {}).items():
        mine = by_type.setdefault(check_type, {})
        for status, count in counts.items():
            mine[status] = mine.get(status, 0) + count
    out["by_type"] = by_type
    return out


def engine_runner(db: Database, environ: Mapping[str, str] | None = None,
                  config: EngineConfig | None = None) -> Any:
    """What the worker starts and stops: one in-process engine, or ``EngineProcesses`` when
    ``DUTYDESK_CHECK_PROCESSES`` asks for more than one."""
    processes = processes_from_env(environ)
    if processes == 1:
        return Engine(db, config)
    return EngineProcesses(db.url, processes, config)


__all__ = ["ENV_PROCESSES", "EngineProcesses", "engine_runner", "processes_from_env",
           "sum_reports"]
