"""``dutydesk probe``: a remote probe process. It runs its site's checks with the engine's own
probes (:func:`checks.probes.run_probe`) on its own schedule, keeps every result in its local
buffer (:mod:`dutydesk.sites.buffer`) and pushes them, oldest first, to the centre; it only
ever connects out (HTTP(S) to ``--server``), never to a database, and opens no port except
an optional loopback ``/metrics``.

Loops (one asyncio loop, the HTTP calls in threads):
- pull: ``GET /api/probe/v1/checks`` with ``If-None-Match`` every ``pull_interval``; the last
  list is kept in the buffer file, so a restart during an outage keeps checking.
- run: each check every ``interval`` seconds (a stable phase per check); never two runs of one
  check at once, so one check's results are made, numbered and sent in order. Results are kept
  in the buffer in groups every ``flush_interval`` seconds (one transaction each), in the order
  they were made.
- push: batches of up to ``batch`` results (sent as kept: the buffered JSON is not decoded;
  the next batch is read while one is in flight); acknowledged ones are deleted; while the
  centre is away, retries back off up to ``max_backoff`` seconds, and checking goes on.

The loop runs on uvloop when it is installed (as the check engine's).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from dutydesk.sites.buffer import Buffer

log = logging.getLogger("dutydesk.probe")


#: A push body stays under this many bytes (the centre refuses bodies over 8 MiB).
PUSH_BYTES = 4 * 1024 * 1024


class AgentError(RuntimeError):
    """The probe cannot start (no credential and no token, wrong site, refused enrolment)."""


class CentreAway(RuntimeError):
    """The centre did not answer (or answered 5xx/409): try again later."""


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
    push_interval: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_PUSH_INTERVAL", "2")))
    max_backoff: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_MAX_BACKOFF", "30")))
    batch: int = 5000  # the centre takes up to 5,000 per push (dutydesk.sites.ingest)
    flush_interval: float = 0.05
    #: This DutyDesk's version, told to the centre (the CLI passes it).
    version: str = ""
    #: Tests only: every check interval is multiplied by this (e.g. 0.06 turns 5 s into 0.3 s).
    time_scale: float = field(
        default_factory=lambda: float(os.environ.get("DUTYDESK_PROBE_TIME_SCALE", "1")))
    http_timeout: float = 10.0


class AgentMetrics:
    """What the probe's own ``/metrics`` shows."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.depth = Gauge("dutydesk_probe_buffer_depth", "Results buffered, not yet stored "
                           "by the centre", registry=r)
        self.oldest = Gauge("dutydesk_probe_buffer_oldest_seconds", "Age of the oldest "
                            "buffered result (0 when empty)", registry=r)
        self.lag = Gauge("dutydesk_probe_push_lag_seconds", "Age of the newest result the "
                         "centre acknowledged, when it acknowledged it", registry=r)
        self.dropped = Gauge("dutydesk_probe_results_dropped", "Results dropped from the full "
                             "buffer since the probe was enrolled", registry=r)
        self.runs = Counter("dutydesk_probe_check_runs_total", "Check runs made",
                            ["status"], registry=r)
        self.push_errors = Counter("dutydesk_probe_push_errors_total", "Pushes that failed",
                                   registry=r)
        self.checks = Gauge("dutydesk_probe_checks", "Checks this probe runs", registry=r)


def _request(config: AgentConfig, method: str, path: str, body: Any = None,
             credential: str | None = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, dict[str, str], Any]:
    """One HTTP call to the centre; (status, headers, JSON or None). ``body``: a JSON value, or
    bytes already encoded. Raises CentreAway when the centre cannot be reached or answers 5xx."""
    data = (body if isinstance(body, bytes) else
            json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(config.server + path, data=data, method=method)
    req.add_header("User-Agent", f"dutydesk-probe/{config.version or 'dev'}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if credential:
        req.add_header("Authorization", f"Bearer {credential}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=config.http_timeout) as answer:
            raw = answer.read()
            return answer.status, dict(answer.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise CentreAway(f"centre answered {exc.code}") from None
        raw = exc.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return exc.code, dict(exc.headers), parsed
    except (OSError, ValueError) as exc:  # refused, reset, timed out, DNS, TLS
        raise CentreAway(str(exc)) from None


def enrolled_credential(config: AgentConfig, buffer: Buffer) -> str:
    """The credential in the buffer file, or the one the enrolment token is exchanged for."""
    credential = buffer.get("credential")
    token_digest = (hashlib.sha256(config.enrol_token.encode()).hexdigest()
                    if config.enrol_token else None)
    if credential and (token_digest is None or token_digest == buffer.get("enrolled_with")):
        return credential  # a new token (the probe was created again) enrols anew
    if not config.enrol_token:
        raise AgentError("this probe is not enrolled: start it once with --enrol-token "
                         "(from `dutydesk probe create`)")
    try:
        status, _h, body = _request(config, "POST", "/api/probe/v1/enrol",
                                    {"token": config.enrol_token, "version": config.version})
    except CentreAway as exc:
        raise AgentError(f"cannot reach {config.server} to enrol: {exc}") from None
    if status != 200 or not isinstance(body, dict):
        raise AgentError(f"enrolment refused ({status}): "
                         f"{(body or {}).get('error') or (body or {}).get('message') or body}")
    if body.get("site") != config.site:
        raise AgentError(f"the token belongs to site {body.get('site')!r}, not {config.site!r}")
    buffer.put("credential", body["credential"])
    buffer.put("enrolled_with", token_digest or "")
    buffer.put("probe_id", str(body["probe_id"]))
    return body["credential"]


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
                     asyncio.create_task(self._flush_loop())]
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
        self.buffer.close()

    # ---- pulling the checks ----------------------------------------------------------------

    async def _pull_loop(self) -> None:
        while True:
            try:
                await self.pull()
            except CentreAway as exc:
                log.info("centre unreachable for checks: %s", exc)
            except AgentError as exc:
                log.error("%s", exc)
            if self.failure:
                self.stop()
                return
            await asyncio.sleep(self.config.pull_interval)

    async def pull(self) -> None:
        headers = {"If-None-Match": f'"{self.etag}"'} if self.etag else {}
        status, _hdrs, body = await asyncio.to_thread(
            _request, self.config, "GET", "/api/probe/v1/checks", None, self.credential,
            headers)
        if status == 304:
            return
        self._refused(status)
        if status != 200 or not isinstance(body, dict):
            raise AgentError(f"the centre refused this probe's checks ({status}): {body}")
        if body.get("site") != self.config.site:
            raise AgentError(f"this probe belongs to site {body.get('site')!r}, "
                             f"not {self.config.site!r}")
        self.buffer.ensure_seq_above(int(body.get("last_seq") or 0))
        self.checks = list(body.get("checks") or [])
        self.etag = str(body.get("version") or "")
        self.buffer.put("checks", json.dumps(self.checks))
        self.buffer.put("checks_etag", self.etag)
        self._reschedule()

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
                         self.buffer.depth(), exc)
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
        ahead, self._ahead = self._ahead, None
        if ahead is None or ahead[0][0][0] <= self._acked:
            ahead = self._encode(self.buffer.oldest_raw(self.config.batch, after=self._acked))
        if ahead is None:
            self._forget_acked()
            return 0
        rows, body = ahead
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
        made = [m for seq, m, _r in rows if seq <= acked]
        if made:
            self.metrics.lag.set(max(0.0, time.time() - made[-1]))
        self._acked = max(self._acked, acked)
        self._ahead = upcoming
        return len(made)

    def _encode(self, rows: list[tuple[int, float, str]],
                ) -> tuple[list[tuple[int, float, str]], bytes] | None:
        """A push body of ``rows`` (None if there are none). Each kept result is a JSON
        object's text: its "seq" is put first without decoding it."""
        if not rows:
            return None
        size, keep = 0, 0
        for _seq, _made, text in rows:  # the centre takes 8 MiB at most: long messages
            size += len(text) + 24      # (kept as ASCII JSON) make smaller batches
            if keep and size > PUSH_BYTES:
                break
            keep += 1
        rows = rows[:keep]
        results = ",".join(f'{{"seq": {seq}, {text[1:]}' for seq, _made, text in rows)
        figures = json.dumps({"dropped": self.buffer.dropped, "buffered": self.buffer.depth(),
                              "version": self.config.version})
        return rows, f'{{"results": [{results}], {figures[1:]}'.encode()

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

    def _gauges(self) -> None:
        self.metrics.depth.set(self.buffer.depth())
        oldest = self.buffer.oldest_made_at()
        self.metrics.oldest.set(0 if oldest is None else max(0.0, time.time() - oldest))
        self.metrics.dropped.set(self.buffer.dropped)


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
