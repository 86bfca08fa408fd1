"""TCP connect check, optionally sending a line and expecting a banner (check_tcp style)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from checks.probes.base import ProbeContext, Stopwatch, describe_error, make_result
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, check_host, format_duration

MAX_BANNER_BYTES = 4096
BANNER_IDLE = 1.0  # seconds of silence after a non-matching banner before judging it


@dataclass(frozen=True, slots=True)
class TcpSpec:
    host: str
    port: int
    send: str | None = None  # written after connecting (e.g. "QUIT\r\n")
    expect: str | None = None  # must appear in what the server sends back
    warn_connect_time: float | None = None  # seconds
    crit_connect_time: float | None = None  # seconds
    timeout: float = 10.0

    @classmethod
    def from_dict(cls, d: dict) -> TcpSpec:
        r = SpecReader(d, "tcp check")
        spec = cls(
            host=check_host("host", r.string("host")),
            port=r.integer("port", minimum=1, maximum=65535),
            send=r.text("send", None),
            expect=r.text("expect", None),
            warn_connect_time=r.duration("warn_connect_time", None, minimum=0),
            crit_connect_time=r.duration("crit_connect_time", None, minimum=0),
            timeout=r.duration("timeout", 10.0, minimum=0.1, maximum=300),
        )
        r.finish()
        if spec.expect == "":
            raise SpecError("expect", "", "must not be empty (leave it out to only connect)")
        if (spec.warn_connect_time is not None and spec.crit_connect_time is not None
                and spec.warn_connect_time > spec.crit_connect_time):
            raise SpecError("warn_connect_time", spec.warn_connect_time,
                            f"must not exceed crit_connect_time ({spec.crit_connect_time:g} s)")
        return spec

    def to_dict(self) -> dict:
        return {
            "host": self.host, "port": self.port, "send": self.send, "expect": self.expect,
            "warn_connect_time": self.warn_connect_time,
            "crit_connect_time": self.crit_connect_time, "timeout": self.timeout,
        }


async def probe(spec: TcpSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Connect to host:port (and talk, if asked). Never raises for a failed target."""
    watch = Stopwatch()
    target = f"{spec.host}:{spec.port}"
    talk = spec.send is not None or spec.expect is not None
    try:
        # asyncio.timeout, not wait_for: no extra task per probe. A connect-only probe needs no
        # stream reader/writer: a bare protocol is closed as soon as it is connected.
        async with asyncio.timeout(spec.timeout):
            if talk:
                reader, writer = await asyncio.open_connection(spec.host, spec.port)
            else:
                transport, _protocol = await asyncio.get_running_loop().create_connection(
                    asyncio.Protocol, spec.host, spec.port)
    except TimeoutError:
        return make_result(Status.CRITICAL, f"{target}: no connection within {spec.timeout:g} s",
                           now, watch)
    except OSError as exc:
        return make_result(Status.CRITICAL, f"{target}: {describe_error(exc)}", now, watch)
    connect_time = watch.elapsed()
    if not talk:
        transport.close()
        return _judged(spec, target, now, watch, connect_time, None)
    try:
        remaining = max(0.0, spec.timeout - connect_time)
        banner: str | None = await _talk(reader, writer, spec, remaining)
    except TimeoutError:
        waited = f"{spec.expect!r} did not arrive" if spec.expect else "sending did not finish"
        return make_result(
            Status.CRITICAL, f"{target}: connected, but {waited} within {spec.timeout:g} s",
            now, watch, connect_time=connect_time,
        )
    except OSError as exc:
        return make_result(Status.CRITICAL, f"{target}: connected, then {describe_error(exc)}",
                           now, watch, connect_time=connect_time)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    return _judged(spec, target, now, watch, connect_time, banner)


def _judged(spec: TcpSpec, target: str, now: datetime, watch: Stopwatch, connect_time: float,
            banner: str | None) -> Result:
    """The result of a connection made in ``connect_time`` s that said ``banner`` (None when
    the probe only connected)."""
    response_time = watch.elapsed() if banner is not None else None
    if spec.expect is not None and banner is not None and spec.expect not in banner:
        return make_result(
            Status.CRITICAL,
            f"{target}: expected {spec.expect!r}, got {_shorten(banner)}",
            now, watch, connect_time=connect_time, response_time=response_time,
        )
    status = Status.OK
    summary = f"{target}: connected in {format_duration(connect_time)}"
    if spec.crit_connect_time is not None and connect_time >= spec.crit_connect_time:
        status = Status.CRITICAL
        summary += f", slower than {format_duration(spec.crit_connect_time)}"
    elif spec.warn_connect_time is not None and connect_time >= spec.warn_connect_time:
        status = Status.WARNING
        summary += f", slower than {format_duration(spec.warn_connect_time)}"
    if spec.expect is not None:
        summary += f", got {spec.expect!r}"
    return make_result(status, summary, now, watch,
                       connect_time=connect_time, response_time=response_time)


async def _talk(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: TcpSpec, timeout: float
) -> str:
    """Send ``spec.send``, then read until ``spec.expect`` appears, EOF, the size cap, or the
    server goes quiet for BANNER_IDLE seconds after saying something else (a wrong banner).
    """
    async with asyncio.timeout(timeout):
        if spec.send is not None:
            writer.write(spec.send.encode())
            await writer.drain()
        if spec.expect is None:
            return ""
        received = b""
        needle = spec.expect.encode()
        while len(received) < MAX_BANNER_BYTES and needle not in received:
            read = reader.read(MAX_BANNER_BYTES - len(received))
            if received:
                try:
                    chunk = await asyncio.wait_for(read, BANNER_IDLE)
                except TimeoutError:
                    break  # it said something else and stopped talking
            else:
                chunk = await read
            if not chunk:
                break  # EOF: the server said all it will say
            received += chunk
        return received.decode("utf-8", errors="replace")


def _shorten(text: str, limit: int = 80) -> str:
    shown = repr(text) if text else "nothing (the server closed the connection)"
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
