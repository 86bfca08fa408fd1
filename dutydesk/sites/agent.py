"""``dutydesk probe``: a remote probe process. It runs its site's checks with the engine's own
probes (:func:`checks.probes.run_probe`) on its own schedule, keeps every result in its local
buffer (:mod:`dutydesk.sites.buffer`) and pushes them, oldest first, to the centre; it only
ever connects out (HTTP(S) to ``--server``), never to a database, and opens no port except
an optional loopback ``/metrics``.

Loops (one asyncio loop, the HTTP calls in threads):
- pull: ``GET /api/probe/v1/checks?wait=pull_wait`` with ``If-None-Match``: a long-poll the
  centre holds until the checks change (so a change reaches the probe within about a second)
  or the wait ends, then at once again; after an early 304 (the centre holds its limit of
  long-polls) or an error, after ``pull_interval``. The last list is kept in the buffer file,
  so a restart during an outage keeps checking.
- run: each check every ``interval`` seconds (a stable phase per check); never two runs of one
  check at once, so one check's results are made, numbered and sent in order. Results are kept
  in the buffer in groups every ``flush_interval`` seconds (one transaction each), in the order
  they were made.
- push: batches of up to ``batch`` results (sent as kept: the buffered JSON is not decoded;
  the next batch is read while one is in flight, and the last acknowledged one deleted);
  while the centre is away, retries back off up to ``max_backoff`` seconds, and checking
  goes on.
- events (with ``--trap-listen`` / ``--syslog-listen``): traps and syslog heard at the site,
  buffered and forwarded in order by :mod:`dutydesk.sites.agent_inputs`.

Every answer tells the centre's highest stored sequence number; a buffer file behind it (lost,
or restored from a backup) renumbers its results above it (:meth:`Buffer.catch_up`) instead of
sending numbers the centre would take for replays.

The loop runs on uvloop when it is installed (as the check engine's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from dutydesk.sites.agent_http import (
    PUSH_BYTES,
    AgentError,
    CentreAway,
    _in_daemon_thread,
    _request,
    enrolled_credential,
    fitting,
)
from dutydesk.sites.buffer import Buffer

__all__ = ["PUSH_BYTES", "Agent", "AgentConfig", "AgentError", "AgentMetrics", "CentreAway",
           "fitting", "push_lag", "run_agent"]

log = logging.getLogger("dutydesk.probe")


@dataclass
class AgentConfig:
    server: str
    site: str
    state_dir: str = "./dutydesk-probe"
    enrol_token: str | None = None
    max_results: int = 1_000_000
    max_age: float = 86400.0
    metrics_port: int | None = None
    pull_interval: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_PULL_INTERVAL", "10")))
    #: Seconds the centre may hold a pull of the checks (long-poll); 0: plain polling.
    pull_wait: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_PULL_WAIT", "25")))
    push_interval: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_PUSH_INTERVAL", "2")))
    max_backoff: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_MAX_BACKOFF", "30")))
    #: Results per push; the centre takes up to 5,000 (dutydesk.sites.ingest).
    batch: int = field(
        default_factory=lambda: int(os.environ.get("DUTYDESK_PROBE_BATCH", "5000")))
    flush_interval: float = 0.05
    #: This DutyDesk's version, told to the centre (the CLI passes it).
    version: str = ""
    #: Tests only: every check interval is multiplied by this (e.g. 0.06 turns 5 s into 0.3 s).
    time_scale: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_TIME_SCALE", "1")))
    http_timeout: float = 10.0
    #: Facility listeners (traps, syslog) whose events are forwarded (``agent_inputs``).
    inputs: Any = None


class AgentMetrics:
    """What the probe's own ``/metrics`` shows."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.depth = Gauge("dutydesk_probe_buffer_depth", "Results buffered, not yet stored "
                           "by the centre", registry=r)
        self.oldest = Gauge("dutydesk_probe_buffer_oldest_seconds", "Age of the oldest "
                            "buffered result (0 when empty)", registry=r)
        self.lag = Gauge("dutydesk_probe_push_lag_seconds", "How far the centre trails: age "
                         "of the newest result it acknowledged while results wait (0 when "
                         "none wait)", registry=r)
        self.dropped = Gauge("dutydesk_probe_results_dropped", "Results dropped from the full "
                             "buffer since the probe was enrolled", registry=r)
        self.runs = Counter("dutydesk_probe_check_runs_total", "Check runs made",
                            ["status"], registry=r)
        self.push_errors = Counter("dutydesk_probe_push_errors_total", "Pushes that failed",
                                   registry=r)
        self.checks = Gauge("dutydesk_probe_checks", "Checks this probe runs", registry=r)


class Agent:
    """The probe process's work; ``run()`` until ``stop()``."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.buffer = Buffer(os.path.join(config.state_dir, "probe.sqlite"),
                             max_results=config.max_results, max_age=config.max_age)
        self.metrics = AgentMetrics()
        self.credential = enrolled_credential(config, self.buffer)
        saved = self.buffer.get("checks")
        self.checks: list[dict[str, Any]] = json.loads(saved) if saved else []
        self.etag = self.buffer.get("checks_etag") or ""
        self._stop: asyncio.Event | None = None
        #: Why the probe stopped on its own (its credential was refused), else None.
        self.failure: str | None = None
        self._tasks: dict[int, tuple[str, asyncio.Task[Any]]] = {}
        #: Results made and not yet in the buffer file (kept by ``_flush_loop``), in order.
        self._made: list[tuple[dict[str, Any], float]] = []
        #: The highest sequence number the centre acknowledged, and the highest deleted from
        #: the buffer so far; the next batch, read and encoded while the last was in flight.
        self._acked = self._forgotten = 0
        self._ahead: tuple[list[tuple[int, float, str]], bytes] | None = None
        #: The highest sequence number sent; a pull's (stored, assigned) when it found the
        #: buffer behind the centre (applied by the next push: never under a batch in flight).
        self._sent = 0
        self._behind: tuple[int, int] | None = None
        #: When the newest result the centre acknowledged was made (push lag), None: not yet.
        self._acked_made: float | None = None
        self._bind_gauges()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def run(self) -> None:
        from checks.probes import ProbeContext

        self._stop = asyncio.Event()
        async with ProbeContext() as ctx:
            self._ctx = ctx
            loops = [asyncio.create_task(self._pull_loop()),
                     asyncio.create_task(self._push_loop()),
                     asyncio.create_task(self._flush_loop()),
                     asyncio.create_task(self._gauge_loop())]
            if self.config.inputs is not None:
                from dutydesk.sites.agent_inputs import EventForwarder

                loops.append(asyncio.create_task(EventForwarder(self, self.config.inputs).run()))
            self._reschedule()
            await self._stop.wait()
            for _key, task in self._tasks.values():
                task.cancel()
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, *(t for _k, t in self._tasks.values()),
                                 return_exceptions=True)
        self.flush()
        self._forget_acked()
        if self._behind is not None:
            self._catch_up(*self._behind)
        self.buffer.close()

    # ---- pulling the checks ----------------------------------------------------------------

    async def _pull_loop(self) -> None:
        while True:
            started = time.monotonic()
            status, held = 0, False
            try:
                status, held = await self.pull()
            except CentreAway as exc:
                log.info("centre unreachable for checks: %s", exc)
            except AgentError as exc:
                log.error("%s", exc)
            if self.failure:
                self.stop()
                return
            await asyncio.sleep(self._pull_pause(status, held, time.monotonic() - started))

    def _pull_pause(self, status: int, held: bool, took: float) -> float:
        """Seconds before the next pull: none after a change or a long-poll the centre held
        (it paces the loop); ``pull_interval`` (less the time taken) after an error or a 304
        the centre did not hold (no long-poll asked, or the centre holds its limit)."""
        if status == 200 or (status == 304 and held):
            return 0.0
        return max(0.0, self.config.pull_interval - took)

    async def pull(self) -> tuple[int, bool]:
        """One pull of the checks (a long-poll when ``pull_wait``); returns the HTTP status and
        whether the centre held it."""
        headers = {"If-None-Match": f'"{self.etag}"'} if self.etag else {}
        wait = self.config.pull_wait if self.etag else 0.0
        path = "/api/probe/v1/checks" + (f"?wait={wait:g}" if wait > 0 else "")
        assigned = self.buffer.last_assigned()
        status, answer_headers, body = await _in_daemon_thread(
            _request, self.config, "GET", path, None, self.credential, headers, wait)
        held = any(k.lower() == "x-long-poll" and v == "held" for k, v in answer_headers.items())
        if status == 304:
            return status, held
        self._refused(status)
        if status != 200 or not isinstance(body, dict):
            raise AgentError(f"the centre refused this probe's checks ({status}): {body}")
        if body.get("site") != self.config.site:
            raise AgentError(f"this probe belongs to site {body.get('site')!r}, "
                             f"not {self.config.site!r}")
        # a result the centre stored while the pull was held was sent meanwhile (not behind)
        stored, assigned = int(body.get("last_seq") or 0), max(assigned, self._sent)
        if stored > assigned:
            self._behind = (stored, assigned)
        self.checks = list(body.get("checks") or [])
        self.etag = str(body.get("version") or "")
        self.buffer.put("checks", json.dumps(self.checks))
        self.buffer.put("checks_etag", self.etag)
        self._reschedule()
        return status, held

    def _catch_up(self, stored: int, assigned: int) -> bool:
        """True when the buffer file was behind the centre (see :meth:`Buffer.catch_up`). What
        the centre acknowledged before is deleted first; the batch read ahead and the counts
        of acknowledged numbers go (they are of the old numbers)."""
        if stored <= assigned:
            return False
        self._forget_acked()
        self._ahead, self._acked, self._forgotten = None, 0, 0
        moved = self.buffer.catch_up(stored, assigned)
        log.warning("the centre has results up to number %d, this buffer numbered only up to "
                    "%d (state directory lost or restored from a backup): %d buffered results "
                    "renumbered above it", stored, assigned, moved)
        return True

    # ---- running the checks ----------------------------------------------------------------

    def _reschedule(self) -> None:
        """One task per check; a check whose definition changed gets a new one."""
        wanted = {c["id"]: c for c in self.checks}
        self.metrics.checks.set(len(wanted))
        for cid, (key, task) in list(self._tasks.items()):
            if cid not in wanted or key != wanted[cid]["updated_at"]:
                task.cancel()
                del self._tasks[cid]
        for cid, check in wanted.items():
            if cid not in self._tasks:
                self._tasks[cid] = (check["updated_at"],
                                    asyncio.create_task(self._check_loop(check)))

    async def _check_loop(self, check: dict[str, Any]) -> None:
        from checks.probes import build_spec, run_probe
        from checks.result import STATUS_NAME, Result, Status

        interval = max(0.1, float(check["interval"]) * self.config.time_scale)
        # a stable phase per check spreads the runs of many checks over the interval
        await asyncio.sleep((zlib.crc32(str(check["id"]).encode()) % 1000) / 1000 * interval)
        try:
            spec: Any = build_spec(check["type"], check["spec"])
        except ValueError as exc:
            spec = exc
        while True:
            started = time.monotonic()
            now = datetime.now(UTC)
            if isinstance(spec, Exception):
                result = Result(Status.UNKNOWN, f"invalid {check['type']} check: {spec}", now)
            else:
                result = await run_probe(check["type"], spec, now, float(check["timeout"]),
                                         self._ctx)
            status = STATUS_NAME[result.status]
            self._made.append(({"check_id": check["id"], "status": status,
                                "message": result.message[:2000],
                                "started_at": result.started_at.isoformat(),
                                "duration": result.duration, "metrics": dict(result.metrics)},
                               time.time()))
            self.metrics.runs.labels(status).inc()
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            self.flush()

    def flush(self) -> None:
        """Keep the results made since the last flush in the buffer file (one transaction)."""
        made, self._made = self._made, []
        self.buffer.add_many(made)

    # ---- pushing the results ---------------------------------------------------------------

    async def _push_loop(self) -> None:
        failures = 0
        while True:
            try:
                sent = await self.push_once()
                failures = 0
            except CentreAway as exc:
                failures += 1
                self.metrics.push_errors.inc()
                log.info("centre unreachable, %d results buffered: %s",
                         self._depth(), exc)
                sent = 0
            self._gauges()
            if sent < self.config.batch:
                delay = (self.config.push_interval if failures == 0 else
                         min(self.config.max_backoff,
                             self.config.push_interval * 2 ** min(failures - 1, 10)))
                await asyncio.sleep(delay)

    async def push_once(self) -> int:
        """Send the oldest batch the centre has not acknowledged; returns how many results it
        acknowledged. While the batch is in flight, the previous acknowledgement is applied to
        the buffer and the next batch is read and encoded, so the centre never waits for the
        probe's own file work between two batches."""
        if self._behind is not None:
            behind, self._behind = self._behind, None
            self._catch_up(*behind)
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead[0][0][0] <= self._acked:
            ahead = self._encode(self.buffer.oldest_raw(self.config.batch, after=self._acked))
        if ahead is None:
            self._forget_acked()
            return 0
        rows, body = ahead
        assigned = self.buffer.last_assigned()
        self._sent = max(self._sent, rows[-1][0])
        call = asyncio.ensure_future(asyncio.to_thread(
            _request, self.config, "POST", "/api/probe/v1/results", body, self.credential))
        try:
            self._forget_acked()
            upcoming = self._encode(self.buffer.oldest_raw(self.config.batch, after=rows[-1][0]))
        finally:
            status, _h, answer = await call
        self._refused(status)
        if status == 409:
            raise CentreAway("another push was being stored; sending again")
        if status != 200 or not isinstance(answer, dict):
            raise CentreAway(f"centre refused the batch ({status}): {answer}")
        acked = int(answer["acked"])
        if self._catch_up(acked, assigned):
            return 0  # the centre stored none of them: sent again with their new numbers
        made = [m for seq, m, _r in rows if seq <= acked]
        if made:
            self._acked_made = made[-1]
        self._acked = max(self._acked, acked)
        self._ahead = upcoming
        return len(made)

    def _encode(self, rows: list[tuple[int, float, str]],
                ) -> tuple[list[tuple[int, float, str]], bytes] | None:
        """A push body of ``rows`` (None if there are none). Each kept result is a JSON
        object's text: its "seq" is put first without decoding it."""
        if not rows:
            return None
        rows = rows[:fitting([len(text) for _seq, _made, text in rows])]
        results = ",".join(f'{{"seq": {seq}, {text[1:]}' for seq, _made, text in rows)
        figures = json.dumps({"dropped": self.buffer.dropped, "buffered": self._depth(),
                              "version": self.config.version})
        return rows, f'{{"results": [{results}], {figures[1:]}'.encode()

    def _depth(self) -> int:
        """Results the centre has not acknowledged: buffered (less those acknowledged and not
        deleted yet) and made since the last flush."""
        acked = self.buffer.count_upto(self._acked) if self._acked > self._forgotten else 0
        return self.buffer.depth() - acked + len(self._made)

    def _forget_acked(self) -> None:
        """Delete from the buffer what the centre acknowledged (a probe killed before this
        sends those results again; the centre acknowledges them without storing them twice)."""
        if self._acked > self._forgotten:
            self.buffer.ack(self._acked)
            self._forgotten = self._acked

    def _refused(self, status: int) -> None:
        """A 401: the credential was revoked (or this is another centre). Stop, keeping the
        buffer: a person must look (and enrol the probe again)."""
        if status == 401:
            self.failure = ("the centre refused this probe's credential (revoked?); "
                            f"{self.buffer.depth()} results stay in the buffer. Create the "
                            "probe again and start it with the new --enrol-token")
            self.stop()
            raise CentreAway(self.failure)

    async def _gauge_loop(self) -> None:
        while True:
            self._gauges()
            await asyncio.sleep(0.25)

    def _gauges(self) -> None:
        """Refresh what the gauges read; the ages are reckoned when ``/metrics`` is scraped."""
        oldest = self.buffer.oldest_made_at(after=self._acked)
        if oldest is None and self._made:
            oldest = self._made[0][1]
        self._seen = (self._depth(), oldest, self._acked_made)
        self.metrics.dropped.set(self.buffer.dropped)

    def _bind_gauges(self) -> None:
        def age(made: float | None) -> float:
            return 0.0 if made is None else max(0.0, time.time() - made)

        self._seen: tuple[int, float | None, float | None] = (0, None, None)
        self.metrics.depth.set_function(lambda: self._seen[0])
        self.metrics.oldest.set_function(lambda: age(self._seen[1]))
        self.metrics.lag.set_function(lambda: push_lag(time.time(), *self._seen))


def push_lag(now: float, depth: int, oldest: float | None, acked_made: float | None) -> float:
    """How far the centre trails the probe, in seconds: 0 when no result waits; else the age of
    the newest result the centre acknowledged (it grows through a link outage and falls back
    when the backlog is replayed), or of the oldest waiting one when none was acknowledged
    since the probe started."""
    if depth == 0:
        return 0.0
    since = acked_made if acked_made is not None else oldest
    return 0.0 if since is None else max(0.0, now - since)


def run_agent(config: AgentConfig) -> None:
    """Run the probe until SIGTERM / SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    agent = Agent(config)
    if config.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(config.metrics_port, addr="127.0.0.1", registry=agent.metrics.registry)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, agent.stop)
        await agent.run()

    from checks.engine import event_loop_factory

    log.info("probe of site %s talking to %s", config.site, config.server)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())
    if agent.failure:
        raise AgentError(agent.failure)
