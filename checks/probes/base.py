"""What probes share: the per-event-loop ``ProbeContext`` and plain-words error descriptions.

The scheduler owns one ``ProbeContext`` per event loop (``async with ProbeContext() as ctx``)
and passes it to every probe; it holds the shared aiohttp session (Prometheus queries), the
HTTP probe's DNS cache and cached TLS contexts, because creating those per probe costs more
than the probe itself at 1,000 probes/s.
A probe called without a context (a "run now" button, a test) borrows a temporary one.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import ssl
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from checks.probes.http_client import Resolver
from checks.result import PerfDatum, Result, Status

#: The operator's plugin directories unless the ``plugin_dirs`` setting lists others.
DEFAULT_PLUGIN_DIRS = ("/usr/lib/nagios/plugins",)
#: Plugins never run as root: when the service is root they run as this user.
DEFAULT_PLUGIN_USER = "nobody"
USER_AGENT = "DutyDesk-probe/0.1"


class _ProbeResponse(aiohttp.ClientResponse):
    """Remembers the server certificate: aiohttp may release the connection (and with it the
    transport) before the caller sees the response, e.g. when the whole body came in one packet.
    """

    peer_cert_der: bytes | None = None

    async def start(self, connection: Any) -> aiohttp.ClientResponse:
        transport = getattr(connection, "transport", None)
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is not None:
            self.peer_cert_der = ssl_object.getpeercert(binary_form=True)
        return await super().start(connection)


class ProbeConfigError(Exception):
    """The check's own configuration cannot be used (e.g. an unreadable CA file): UNKNOWN."""


class ProbeContext:
    """Shared, per-event-loop resources for probes. Not thread-safe; one per loop.

    The HTTP probe always opens a new connection per request, as blackbox_exporter does, so a
    server that stopped accepting connections is noticed and thousands of targets do not hold
    thousands of idle sockets. ``keepalive=False`` (default) does the same for the aiohttp
    session the Prometheus query probe uses. Plugin checks name a program in ``plugin_dirs``
    (nothing else is ever run) and, when this process is root, run as ``plugin_user``.
    """

    def __init__(
        self,
        *,
        keepalive: bool = False,
        plugin_dirs: tuple[str, ...] = DEFAULT_PLUGIN_DIRS,
        plugin_user: str | None = DEFAULT_PLUGIN_USER,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.keepalive = keepalive
        self.plugin_dirs = plugin_dirs
        self.plugin_user = plugin_user
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._ssl_contexts: dict[tuple[bool, str | None], ssl.SSLContext] = {}
        self._snmp: Any = None
        #: Host name answers for the HTTP probe, reused for 30 s (literal IPs skip it).
        self.resolver = Resolver()

    async def http_session(self) -> aiohttp.ClientSession:
        """The shared session, created on first use inside the running loop."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,  # the scheduler bounds concurrency, not the connector
                force_close=not self.keepalive,
                ttl_dns_cache=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # probes of different targets share no state
                headers={"User-Agent": self.user_agent},
                timeout=aiohttp.ClientTimeout(total=None),
                response_class=_ProbeResponse,
                trust_env=False,
            )
        return self._session

    def ssl_context(self, verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
        """A cached client TLS context; loading the CA bundle takes milliseconds."""
        key = (verify, ca_file)
        context = self._ssl_contexts.get(key)
        if context is None:
            if verify:
                context = load_ca(ca_file)
            else:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._ssl_contexts[key] = context
        return context

    @property
    def snmp(self) -> Any:
        """The loop's shared SNMP client (pysnmp engines are costly to build per probe)."""
        if self._snmp is None:
            from checks.snmp.transport import SnmpClient

            self._snmp = SnmpClient()
        return self._snmp

    async def close(self) -> None:
        if self._snmp is not None:
            self._snmp.close()
            self._snmp = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ProbeContext:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def load_ca(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context trusting ``ca_file`` (or the system bundle when None)."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ProbeConfigError(f"cannot load ca_file {ca_file!r}: {reason}") from None


@asynccontextmanager
async def borrowed(ctx: ProbeContext | None) -> AsyncIterator[ProbeContext]:
    """Yield ``ctx``, or a temporary context closed afterwards when none was given."""
    if ctx is not None:
        yield ctx
        return
    async with ProbeContext() as temporary:
        yield temporary


class Stopwatch:
    """Monotonic elapsed time for durations; wall-clock ``now`` is injected separately."""

    __slots__ = ("_start",)

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        return max(0.0, time.perf_counter() - self._start)


def make_result(
    status: Status,
    message: str,
    now: datetime,
    watch: Stopwatch,
    *,
    perfdata: tuple[PerfDatum, ...] = (),
    **metrics: float | None,
) -> Result:
    """Build a Result with the elapsed duration, dropping metrics that were not measured."""
    return Result(
        status=status,
        message=message,
        started_at=now,
        duration=watch.elapsed(),
        metrics={k: float(v) for k, v in metrics.items() if v is not None},
        perfdata=perfdata,
    )


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """How a child process ended. ``returncode`` is negative when killed by a signal."""

    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    truncated: bool


class _Collector(asyncio.SubprocessProtocol):
    """Collects a child's output (up to a cap) and tells when it exited and when its pipes
    closed; asyncio's Process.wait() in 3.11 waits for both, which hangs when a background
    child inherited the pipes."""

    def __init__(self, limit: int) -> None:
        loop = asyncio.get_running_loop()
        self.limit = limit
        self.output = {1: bytearray(), 2: bytearray()}
        self.truncated = False
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        sink = self.output.setdefault(fd, bytearray())
        room = self.limit - len(sink)
        if room > 0:
            sink += data[:room] if isinstance(data, bytes) else data[:room].encode()
        if len(data) > room:
            self.truncated = True  # drained and dropped, so the child never blocks

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def run_command(
    argv: Sequence[str],
    timeout: float,
    *,
    env: Mapping[str, str] | None = None,
    max_output: int = 65536,
    cwd: str | None = None,
    stdin: bytes | None = None,
) -> CommandOutcome:
    """Run ``argv`` (no shell) in its own process group, killing the whole group at timeout.

    Raises OSError (FileNotFoundError, PermissionError) only when the command cannot start.
    Output beyond ``max_output`` bytes per stream is dropped. If the command exits but a child
    it left behind keeps the output pipes open, that group is killed after a short grace
    instead of waiting for the timeout. ``stdin`` (e.g. credentials, which must not show in the
    process list) is written to the command's standard input, which is then closed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    transport, collector = await loop.subprocess_exec(
        lambda: _Collector(max_output),
        *argv,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # own process group, so a timeout kills its children too
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )
    pgid = transport.get_pid()
    if stdin is not None:
        pipe = transport.get_pipe_transport(0)
        if pipe is not None:
            pipe.write(stdin)  # type: ignore[attr-defined]
            pipe.close()
    timed_out = False
    try:
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(collector.exited)
        except TimeoutError:
            timed_out = True
            _kill_group(pgid)
            await asyncio.wait_for(asyncio.shield(collector.exited), 5)
        grace = min(1.0, max(0.0, deadline - loop.time()))
        try:
            await asyncio.wait_for(asyncio.shield(collector.closed), grace)
        except TimeoutError:
            _kill_group(pgid)  # leftover children still hold the pipes
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(collector.closed), 1.0)
    finally:
        if transport.get_returncode() is None:  # cancelled (e.g. the engine's hard timeout)
            _kill_group(pgid)
        transport.close()
    code = transport.get_returncode()
    return CommandOutcome(
        returncode=code if code is not None else -signal.SIGKILL,
        stdout=bytes(collector.output[1]),
        stderr=bytes(collector.output[2]),
        timed_out=timed_out,
        truncated=collector.truncated,
    )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)





_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the peer",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
    errno.EPIPE: "connection closed by the peer",
}


def describe_error(exc: BaseException) -> str:
    """Say in plain words why talking to a target failed (no tracebacks on the wall)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return describe_error(exc.certificate_error)
    if isinstance(exc, aiohttp.ClientConnectorDNSError | aiohttp.ClientConnectorError):
        return describe_error(exc.os_error)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not valid: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror or exc})"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"too many redirects (gave up after {len(exc.history)})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without an answer"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL {str(exc.url)!r}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the response body was cut off ({exc})"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"bad HTTP response ({exc.message or exc})"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno is not None:
        return _ERRNO_WORDS.get(exc.errno) or os.strerror(exc.errno).lower()
    text = str(exc) or type(exc).__name__
    return text
