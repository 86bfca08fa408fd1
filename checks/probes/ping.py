"""ICMP echo check: round-trip time and packet loss with warning/critical thresholds.

Two ways to ping, tried in this order with ``method: auto``:

1. an unprivileged ICMP datagram socket (Linux, allowed when the process's group is inside
   ``net.ipv4.ping_group_range``): no child process, cheap at scale;
2. the system ``ping`` command (iputils), which has the capability it needs.

When neither is possible the result is UNKNOWN and says so, instead of a false CRITICAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from datetime import datetime

from checks.probes.base import (
    ProbeContext,
    Stopwatch,
    describe_error,
    make_result,
    run_command,
)
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, check_host, format_duration

METHODS = ("auto", "socket", "command")


@dataclass(frozen=True, slots=True)
class PingSpec:
    host: str
    count: int = 3
    interval: float = 0.5  # seconds between echo requests (iputils allows >= 0.2 s for users)
    timeout: float = 2.0  # seconds to wait for replies after the last request
    warn_rtt: float | None = None  # seconds, on the average round trip
    crit_rtt: float | None = None
    warn_loss: float = 20.0  # percent
    crit_loss: float = 60.0
    method: str = "auto"

    @classmethod
    def from_dict(cls, d: dict) -> PingSpec:
        r = SpecReader(d, "ping check")
        spec = cls(
            host=check_host("host", r.string("host")),
            count=r.integer("count", 3, minimum=1, maximum=20),
            interval=r.duration("interval", 0.5, minimum=0.2, maximum=10),
            timeout=r.duration("timeout", 2.0, minimum=0.1, maximum=60),
            warn_rtt=r.duration("warn_rtt", None, minimum=0.0001),
            crit_rtt=r.duration("crit_rtt", None, minimum=0.0001),
            warn_loss=r.number("warn_loss", 20.0, minimum=0, maximum=100, unit="%"),
            crit_loss=r.number("crit_loss", 60.0, minimum=0, maximum=100, unit="%"),
            method=r.string("method", "auto", choices=METHODS),
        )
        r.finish()
        if spec.warn_loss > spec.crit_loss:
            raise SpecError("warn_loss", spec.warn_loss,
                            f"must not exceed crit_loss ({spec.crit_loss:g} %)")
        if (spec.warn_rtt is not None and spec.crit_rtt is not None
                and spec.warn_rtt > spec.crit_rtt):
            raise SpecError("warn_rtt", spec.warn_rtt,
                            f"must not exceed crit_rtt ({format_duration(spec.crit_rtt)})")
        return spec

    def to_dict(self) -> dict:
        return {
            "host": self.host, "count": self.count, "interval": self.interval,
            "timeout": self.timeout, "warn_rtt": self.warn_rtt, "crit_rtt": self.crit_rtt,
            "warn_loss": self.warn_loss, "crit_loss": self.crit_loss, "method": self.method,
        }


@dataclass(frozen=True, slots=True)
class PingStats:
    sent: int
    received: int
    rtts: tuple[float, ...]  # seconds, one per reply (may be empty for the command's summary)
    rtt_min: float | None = None
    rtt_avg: float | None = None
    rtt_max: float | None = None

    @property
    def loss_percent(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0


class PingUnavailable(Exception):
    """Neither an ICMP socket nor the ping command can be used; the message says why."""


class PingFailed(Exception):
    """The target could not be pinged (e.g. the name does not resolve); a CRITICAL reason."""


def judge_ping(spec: PingSpec, stats: PingStats) -> tuple[Status, str]:
    """Pure judgement of ping statistics against the spec's thresholds."""
    loss = stats.loss_percent
    if stats.received == 0:
        return Status.CRITICAL, f"{spec.host}: no reply, {loss:.0f}% loss ({stats.sent} sent)"
    summary = (f"{spec.host}: {stats.received}/{stats.sent} replies, {loss:.0f}% loss, "
               f"rtt avg {format_duration(stats.rtt_avg or 0)} "
               f"max {format_duration(stats.rtt_max or 0)}")
    avg = stats.rtt_avg or 0.0
    if loss >= spec.crit_loss and spec.crit_loss > 0:
        return Status.CRITICAL, f"{summary} (loss critical at {spec.crit_loss:g}%)"
    if spec.crit_rtt is not None and avg >= spec.crit_rtt:
        return Status.CRITICAL, f"{summary} (rtt critical at {format_duration(spec.crit_rtt)})"
    if loss >= spec.warn_loss and spec.warn_loss > 0:
        return Status.WARNING, f"{summary} (loss warning at {spec.warn_loss:g}%)"
    if spec.warn_rtt is not None and avg >= spec.warn_rtt:
        return Status.WARNING, f"{summary} (rtt warning at {format_duration(spec.warn_rtt)})"
    return Status.OK, summary


async def probe(spec: PingSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Ping ``spec.host``. Never raises for a failed target."""
    watch = Stopwatch()
    try:
        stats = await measure(spec)
    except PingUnavailable as exc:
        return make_result(Status.UNKNOWN, str(exc), now, watch)
    except PingFailed as exc:
        return make_result(Status.CRITICAL, f"{spec.host}: {exc}", now, watch)
    status, message = judge_ping(spec, stats)
    return make_result(
        status, message, now, watch,
        rtt_min=stats.rtt_min, rtt_avg=stats.rtt_avg, rtt_max=stats.rtt_max,
        loss_percent=stats.loss_percent, sent=stats.sent, received=stats.received,
    )


async def measure(spec: PingSpec) -> PingStats:
    """Ping with the method the spec asks for; raise PingUnavailable or PingFailed."""
    if spec.method in ("auto", "socket"):
        try:
            return await ping_with_socket(spec)
        except PermissionError as exc:
            if spec.method == "socket":
                raise PingUnavailable(f"cannot ping: {_socket_refusal(exc)}") from None
            socket_reason = _socket_refusal(exc)
    else:
        socket_reason = "ICMP sockets not tried (method: command)"
    executable = shutil.which("ping")
    if executable is None:
        raise PingUnavailable(
            f"cannot ping: {socket_reason}, and no 'ping' command is installed "
            "(apt-get install iputils-ping)"
        )
    return await ping_with_command(spec, executable)


def _socket_refusal(exc: OSError) -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as f:
            allowed = " ".join(f.read().split())
    except OSError:
        return f"unprivileged ICMP sockets are not allowed ({exc.strerror or exc})"
    return (f"unprivileged ICMP sockets are not allowed for group {os.getgid()} "
            f"(net.ipv4.ping_group_range = {allowed})")


# ---------------------------------------------------------------------------------------------
# Unprivileged ICMP datagram socket


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_request(family: int, seq: int, payload: bytes) -> bytes:
    kind = 8 if family == socket.AF_INET else 128  # ICMP / ICMPv6 echo request
    # identifier 0: the kernel sets it to the socket's id (and filters replies by it)
    header = bytes([kind, 0, 0, 0, 0, 0]) + seq.to_bytes(2, "big")
    checksum = _checksum(header + payload) if family == socket.AF_INET else 0
    return header[:2] + checksum.to_bytes(2, "big") + header[4:] + payload


async def _resolve(host: str) -> tuple[int, str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise PingFailed(describe_error(exc)) from None
    family, _type, _proto, _name, address = infos[0]
    return family, address[0]


async def ping_with_socket(spec: PingSpec) -> PingStats:
    """Ping through an ICMP datagram socket; PermissionError when the kernel does not allow it."""
    family, address = await _resolve(spec.host)
    protocol = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    reply_kind = 0 if family == socket.AF_INET else 129
    sock = socket.socket(family, socket.SOCK_DGRAM, protocol)  # PermissionError if not allowed
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    sent_at: dict[int, float] = {}
    rtts: dict[int, float] = {}
    payload = b"dutydesk" + os.urandom(8)

    async def receive() -> None:
        while len(rtts) < spec.count:
            try:
                data = await loop.sock_recv(sock, 2048)
            except OSError:
                continue  # an ICMP error (e.g. unreachable) for one packet; keep listening
            if len(data) >= 8 and data[0] == reply_kind:
                seq = int.from_bytes(data[6:8], "big")
                if seq in sent_at and seq not in rtts and data[8:] == payload:
                    rtts[seq] = time.perf_counter() - sent_at[seq]

    receiver = asyncio.ensure_future(receive())
    try:
        for seq in range(1, spec.count + 1):
            sent_at[seq] = time.perf_counter()
            try:
                await loop.sock_sendto(sock, _echo_request(family, seq, payload), (address, 0))
            except OSError as exc:
                raise PingFailed(describe_error(exc)) from None
            if seq < spec.count:
                await asyncio.sleep(spec.interval)
        await asyncio.wait((receiver,), timeout=spec.timeout)
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        sock.close()
    values = tuple(rtts[s] for s in sorted(rtts))
    return _stats(spec.count, values)


def _stats(sent: int, rtts: tuple[float, ...]) -> PingStats:
    if not rtts:
        return PingStats(sent=sent, received=0, rtts=())
    return PingStats(
        sent=sent, received=len(rtts), rtts=rtts,
        rtt_min=min(rtts), rtt_avg=sum(rtts) / len(rtts), rtt_max=max(rtts),
    )


# ---------------------------------------------------------------------------------------------
# The system ping command (iputils)

_TRANSMITTED = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)(?:/[\d.]+)? ms")


def parse_ping_output(text: str) -> PingStats:
    """Read the summary lines of iputils/busybox ping; raise ValueError when they are absent."""
    counts = _TRANSMITTED.search(text)
    if counts is None:
        raise ValueError("no 'packets transmitted' summary in ping output")
    sent, received = int(counts.group(1)), int(counts.group(2))
    rtt = _RTT.search(text)
    if rtt is None or received == 0:
        return PingStats(sent=sent, received=received, rtts=())
    low, avg, high = (float(v) / 1000.0 for v in rtt.groups())
    return PingStats(sent=sent, received=received, rtts=(), rtt_min=low, rtt_avg=avg,
                     rtt_max=high)


async def ping_with_command(spec: PingSpec, executable: str) -> PingStats:
    deadline = math.ceil((spec.count - 1) * spec.interval + spec.timeout)
    argv = (
        executable, "-n", "-q",
        "-c", str(spec.count),
        "-i", f"{spec.interval:g}",
        "-W", f"{spec.timeout:g}",
        "-w", str(deadline),
        spec.host,
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    try:
        outcome = await run_command(argv, deadline + 5.0, env=env, max_output=16384)
    except OSError as exc:
        raise PingUnavailable(f"cannot run {executable}: {exc.strerror or exc}") from None
    text = outcome.stdout.decode("utf-8", "replace")
    errors = outcome.stderr.decode("utf-8", "replace").strip()
    if outcome.timed_out:
        raise PingFailed(f"ping did not finish within {deadline + 5:g} s")
    try:
        return parse_ping_output(text)
    except ValueError:
        pass
    reason = errors.split("\n")[0] if errors else text.strip().split("\n")[0]
    if "Name or service not known" in reason or "Temporary failure in name" in reason:
        raise PingFailed(f"cannot resolve the host name ({reason})")
    if "not permitted" in reason or "Permission denied" in reason:
        raise PingUnavailable(f"cannot ping: the ping command is not allowed here ({reason})")
    raise PingFailed(f"ping failed (exit code {outcome.returncode}): {reason or 'no output'}")
