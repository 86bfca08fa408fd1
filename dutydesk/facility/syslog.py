"""The syslog receiver: RFC 5424 and RFC 3164 messages over UDP and TCP (octet counting per
RFC 6587 §3.4.1, or newline framing), up to ``MAX_MESSAGE`` (64 KiB) each.

``parse_syslog`` is pure: bytes → ``SyslogMessage`` (never raises; a line without a valid
``<PRI>`` is taken as RFC 3164 says, user.notice). ``SyslogListener`` runs an asyncio loop in a
thread with the UDP endpoint and/or the TCP server and hands each message to the facility
``Receiver`` (flood gate, rules, the one alert pipeline). Messages no rule matches are counted
by host and facility.level, never stored.

TLS (RFC 5425): a third listener with the same framing over TLS 1.2+, with the certificate and
key files named in the settings (``DUTYDESK_SYSLOG_LISTEN_TLS``, ``_TLS_CERT``, ``_TLS_KEY``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from typing import Any

from dutydesk.facility.decide import SyslogMessage
from dutydesk.facility.listener import LoopListener
from dutydesk.facility.receiver import Receiver
from dutydesk.facility.rules import SYSLOG_FACILITIES, SYSLOG_LEVELS
from dutydesk.facility.snmp import parse_listen

log = logging.getLogger("dutydesk.facility")

MAX_MESSAGE = 64 * 1024
MAX_CONNECTIONS = 1000
_PRI = re.compile(rb"<(\d{1,3})>")
_RFC5424 = re.compile(
    r"1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) (?P<rest>.*)",
    re.DOTALL,
)
_RFC3164 = re.compile(
    r"(?:(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) )?(?:(?P<host>[^\s:\[]+) )?"
    r"(?P<tag>[^\s:\[]{1,48})?(?:\[\d+\])?:? ?(?P<msg>.*)",
    re.DOTALL,
)
_SD_ELEMENT = re.compile(r'\[(?P<id>[^\s\]=]+)(?P<params>(?: [^\s=\]]+="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM = re.compile(r'([^\s=\]]+)="((?:[^"\\]|\\.)*)"')


def _nil(value: str) -> str:
    return "" if value == "-" else value


def _structured(rest: str) -> tuple[dict[str, str], str]:
    """RFC 5424 STRUCTURED-DATA (``-`` or ``[id k="v"]...``) and the MSG after it."""
    if rest.startswith("- ") or rest == "-":
        return {}, rest[2:]
    data: dict[str, str] = {}
    pos = 0
    while pos < len(rest) and rest[pos] == "[":
        found = _SD_ELEMENT.match(rest, pos)
        if found is None:
            break
        for key, value in _SD_PARAM.findall(found.group("params")):
            data[f"{found.group('id')}.{key}"] = value.replace('\\"', '"')[:1024]
        pos = found.end()
    return data, rest[pos:].removeprefix(" ")


def parse_syslog(data: bytes, source: str) -> SyslogMessage:
    """One syslog message (RFC 5424 or RFC 3164) from ``source`` (the sender's address)."""
    facility, level, body = "user", "notice", data
    pri = _PRI.match(data)
    if pri is not None and int(pri.group(1)) < 192:
        code = int(pri.group(1))
        facility, level = SYSLOG_FACILITIES[code // 8], SYSLOG_LEVELS[code % 8]
        body = data[pri.end():]
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff").rstrip("\r\n\x00")
    modern = _RFC5424.match(text) if pri is not None else None
    if modern is not None:
        structured, msg = _structured(modern.group("rest"))
        return SyslogMessage(source=source, host=_nil(modern.group("host")) or source,
                             facility=facility, level=level, app=_nil(modern.group("app")),
                             text=msg.removeprefix("\ufeff"), structured=structured)
    old = _RFC3164.match(text)
    assert old is not None  # every part is optional: it always matches
    host = old.group("host") if old.group("ts") else None
    tag, msg = old.group("tag") or "", old.group("msg")
    if not old.group("ts"):  # no timestamp: RFC 3164 says the whole rest is the message
        tag, msg = "", text
    return SyslogMessage(source=source, host=host or source, facility=facility, level=level,
                         app=tag, text=msg)


def describe_syslog(message: SyslogMessage) -> tuple[str, str]:
    """(name for the heard counters, a sample) of a message that became no alert. The sample is
    the host and program only: what matched no rule is counted, its text is never stored."""
    return f"{message.facility}.{message.level}", f"{message.host} {message.app}".strip()[:1024]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, listener: SyslogListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.listener.heard(data, str(addr[0]))


class SyslogListener(LoopListener):
    """UDP and/or TCP syslog on the configured addresses, in one asyncio loop thread."""

    thread_name, label = "syslog", "syslog listener"

    def __init__(self, receiver: Receiver, *, udp: str = "", tcp: str = "", tls: str = "",
                 tls_cert: str = "", tls_key: str = "") -> None:
        super().__init__(receiver)
        self.udp = parse_listen(udp) if udp else None
        self.tcp = parse_listen(tcp) if tcp else None
        self.tls = parse_listen(tls) if tls else None
        self.tls_files = (tls_cert, tls_key)
        self._connections = 0
        self.bound: dict[str, tuple[str, int]] = {}
        self._open: list[Any] = []

    def heard(self, data: bytes, source: str) -> None:
        if not self.receiver.admit(source):
            return
        if len(data) > MAX_MESSAGE:
            self.receiver.reject(source, "message too long",
                                 f"{len(data)} bytes, the limit is {MAX_MESSAGE}")
            return
        if not data.strip():
            self.receiver.reject(source, "empty message", "an empty line or datagram")
            return
        self.receiver.put(parse_syslog(data, source))

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        source = str(writer.get_extra_info("peername")[0])
        if self._connections >= MAX_CONNECTIONS:
            self.receiver.reject(source, "too many connections", f"over {MAX_CONNECTIONS}")
            writer.close()
            return
        self._connections += 1
        try:
            await self._frames(reader, source)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            if isinstance(exc, ssl.SSLError):  # a broken TLS record mid-stream: counted, shown
                self.receiver.reject(source, "TLS error", str(exc)[:200])
        finally:
            self._connections -= 1
            writer.close()

    async def _frames(self, reader: asyncio.StreamReader, source: str) -> None:
        """RFC 6587: ``LEN SP MSG`` when a frame starts with a digit, else up to LF."""
        buffer = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                if buffer.strip():
                    self.heard(buffer, source)
                return
            buffer += chunk
            while buffer:
                counted = re.match(rb"(\d{1,10}) ", buffer)
                if counted is not None:
                    size = int(counted.group(1))
                    if size > MAX_MESSAGE:  # skip the frame without holding it in memory
                        self.heard(b"x" * (MAX_MESSAGE + 1), source)
                        await _discard(reader, size - (len(buffer) - counted.end()))
                        buffer = b""
                        break
                    end = counted.end() + size
                    if len(buffer) < end:
                        break
                    self.heard(buffer[counted.end():end], source)
                    buffer = buffer[end:]
                    continue
                newline = buffer.find(b"\n")
                if newline < 0:
                    if len(buffer) > MAX_MESSAGE:  # an endless line: count it, drop to LF
                        self.heard(buffer, source)
                        buffer = await _skip_line(reader)
                    break
                line, buffer = buffer[:newline], buffer[newline + 1:]
                if line.strip():
                    self.heard(line, source)

    async def _start_servers(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.udp is not None:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), local_addr=self.udp)
                self._open.append(transport)
                self.bound["udp"] = transport.get_extra_info("sockname")[:2]
            if self.tcp is not None:
                server = await asyncio.start_server(self._serve_tcp, *self.tcp,
                                                    limit=MAX_MESSAGE * 2)
                self._open.append(server)
                self.bound["tcp"] = server.sockets[0].getsockname()[:2]
            if self.tls is not None:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(*self.tls_files)
                server = await asyncio.start_server(self._serve_tcp, *self.tls, ssl=context,
                                                    limit=MAX_MESSAGE * 2)
                self._open.append(server)
                self.bound["tls"] = server.sockets[0].getsockname()[:2]
        except (OSError, ssl.SSLError) as exc:  # port taken, unreadable key: said, not fatal
            self.error = str(exc)
            self.receiver.reject("-", "listener", f"cannot listen: {exc}")
            log.error("syslog listener could not start", extra={"error": str(exc)})
        finally:
            self._ready.set()

    def _begin(self, loop: asyncio.AbstractEventLoop) -> None:
        self._starting = loop.create_task(self._start_servers())

    def _end(self, loop: asyncio.AbstractEventLoop) -> None:
        self._starting.cancel()
        for closable in self._open:  # release the ports now, not at garbage collection
            closable.close()

    def _listening(self) -> dict[str, tuple[str, int]]:
        return self.bound


async def _discard(reader: asyncio.StreamReader, remaining: int) -> None:
    while remaining > 0:
        chunk = await reader.read(min(remaining, 65536))
        if not chunk:
            return
        remaining -= len(chunk)


async def _skip_line(reader: asyncio.StreamReader) -> bytes:
    """Read and drop up to the next LF; return what follows it."""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return b""
        newline = chunk.find(b"\n")
        if newline >= 0:
            return chunk[newline + 1:]
