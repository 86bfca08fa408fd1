"""A lean HTTP/1.1 client for the HTTP probe: one request per new connection, nothing more.

Why not aiohttp's client here: a probe needs one exchange per connection (``Connection:
close``, as blackbox_exporter does), and aiohttp's client spent three to five times the CPU
of the exchange itself (measured on loopback: ~250-320 µs against ~65-90 µs for the bare
exchange) on machinery a probe never uses (connection pooling, cookie and proxy handling,
streaming readers, per-request timeout objects). At 1,000 probes/s that was most of the
engine's CPU. This client is an ``asyncio.Protocol`` that writes the request and feeds what
comes back to ``httptools`` (llhttp, the parser behind Node.js) in C.

What it does: http and https (SNI, verification through the caller's ``SSLContext``, the peer
certificate kept for expiry checks), IPv4/IPv6 literals and host names (resolved through a short
cache, addresses tried in turn), ``Content-Length``, chunked and close-delimited bodies, HEAD,
1xx interim responses, gzip/deflate bodies, a body size cap, user:password in the URL as basic
auth. Redirects are the caller's loop (:func:`checks.probes.http.probe`). Failures raise
``OSError``/``ssl.SSLError``/``socket.gaierror`` as the socket gave them, or :class:`HttpError`
with a message in plain words; ``ValueError`` for a request that cannot be sent as given.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import httptools
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from checks.probes.gate import RunOutlived, current_gate, may_contact

DEFAULT_PORTS = {"http": 80, "https": 443}
DNS_TTL = 30.0  # seconds a resolved host name is reused (as the probe's aiohttp connector did)


class HttpError(Exception):
    """The exchange failed in a way the socket does not name; ``str()`` says why in plain
    words (e.g. "the server closed the connection without an answer")."""


class InvalidURL(HttpError):
    """The URL cannot be requested (not http/https, no host, unparsable)."""


@dataclass(frozen=True, slots=True)
class Response:
    """One complete response. ``body`` is at most the requested limit, decoded from gzip or
    deflate when the server sent it so; ``peer_cert_der`` is the server certificate (https).
    ``truncated`` says the server sent more than the limit (the body is its first part)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    peer_cert_der: bytes | None
    truncated: bool = False

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of Content-Type, if any."""
        for param in self.headers.get("Content-Type", "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"') or None
        return None


def parse_url(url: str | URL) -> URL:
    """The URL as a ``yarl.URL``; raises :class:`InvalidURL` unless it is http(s) with a host."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
        host = parsed.raw_host
    except (ValueError, TypeError):
        raise InvalidURL(f"invalid URL {str(url)!r}") from None
    if parsed.scheme not in DEFAULT_PORTS or not host:
        raise InvalidURL(f"invalid URL {str(url)!r}")
    return parsed


def build_request(url: URL, method: str, headers: tuple[tuple[str, str], ...],
                  body: bytes | None, user_agent: str) -> bytes:
    """The request head and body as bytes. Raises ValueError for a header that would split
    the request (a line break in a name or value)."""
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    if url.port is not None and url.port != DEFAULT_PORTS[url.scheme]:
        host = f"{host}:{url.port}"
    fields = {"host": ("Host", host), "user-agent": ("User-Agent", user_agent),
              "accept": ("Accept", "*/*")}
    if url.user is not None:
        token = base64.b64encode(f"{url.user}:{url.password or ''}".encode()).decode()
        fields["authorization"] = ("Authorization", f"Basic {token}")
    for name, value in headers:
        if any(c in name for c in "\r\n:") or "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} contains a line break or colon")
        fields[name.lower()] = (name, value)
    fields["connection"] = ("Connection", "close")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        fields["content-length"] = ("Content-Length", str(len(body or b"")))
    lines = [f"{method} {url.raw_path_qs or '/'} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in fields.values())
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="strict")
    return head + body if body else head


class _Exchange(asyncio.Protocol):
    """Writes one request and parses the response (httptools calls the ``on_*`` methods)."""

    def __init__(self, request: bytes, limit: int, head_only: bool, tls: bool,
                 done: asyncio.Future[Response]) -> None:
        self.request, self.limit, self.head_only, self.done = request, limit, head_only, done
        self.tls = tls
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.cert: bytes | None = None
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.chunks: list[bytes] = []
        self.size = 0
        self.status = 0
        self.headers_done = False
        self.full = False  # the body reached the limit: stop reading
        self.cut = False  # bytes beyond the limit arrived (or were announced) and were dropped
        self.complete = False
        self.gate = current_gate()  # made inside the run's task: its claim

    # -- transport side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.tls:  # get_extra_info costs more than the request itself on plain TCP
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                self.cert = ssl_object.getpeercert(binary_form=True)
        if not may_contact(self.gate):  # paused while connecting: the run is another's now
            self._fail(RunOutlived("the claim ran out while connecting; request not sent"))
            return
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"bad HTTP response ({_parser_words(exc)})"))
            return
        if self.full or (self.head_only and self.headers_done):
            self._finish()

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost judges what arrived

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        if not self.headers_done:
            self._fail(exc if isinstance(exc, OSError) else
                       HttpError("the server closed the connection without an answer"))
        elif "Content-Length" in self.headers or "chunked" in self.headers.get(
                "Transfer-Encoding", "").lower():
            self._fail(HttpError("the response body was cut off (connection closed early)"))
        else:
            self._finish()  # a body delimited by the end of the connection

    # -- parser callbacks
    def on_message_begin(self) -> None:
        self.headers = CIMultiDict()
        self.chunks, self.size, self.headers_done = [], 0, False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim response (100 Continue): the real one follows
        self.status, self.headers_done = status, True

    def on_body(self, body: bytes) -> None:
        if self.headers_done and not self.full:
            room = self.limit - self.size
            self.cut = self.cut or len(body) > room
            self.chunks.append(body[:room] if len(body) > room else body)
            self.size += min(len(body), room)
            self.full = self.size >= self.limit

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.complete = True
            self._finish()

    # -- outcome
    def _finish(self) -> None:
        if self.done.done():
            return
        body = b"".join(self.chunks)
        # Stopped at the limit before the message ended, or told it would be longer: cut.
        cut = self.cut or (self.full and not self.complete) or _longer_than(self.headers,
                                                                            self.limit)
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "deflate") and body:
            try:
                body, inflated_cut = _inflate(body, encoding, self.limit)
            except zlib.error as exc:
                if not cut:
                    self._fail(HttpError(
                        f"bad HTTP response (cannot decode {encoding} body: {exc})"))
                    return
                body, inflated_cut = b"", True  # a cut stream cannot be inflated
            cut = cut or inflated_cut
        self.done.set_result(Response(self.status, CIMultiDictProxy(self.headers), body,
                                      self.cert, cut and not self.head_only))
        self.close()

    def _fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _inflate(body: bytes, encoding: str, limit: int) -> tuple[bytes, bool]:
    """The inflated body (at most ``limit`` bytes) and whether more was left beyond it."""
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit)
    except zlib.error:
        if encoding != "deflate":
            raise
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
        out = inflater.decompress(body, limit)
    return out, bool(inflater.unconsumed_tail)


def _longer_than(headers: CIMultiDict[str], limit: int) -> bool:
    length = headers.get("Content-Length", "")
    return length.strip().isdigit() and int(length) > limit


def _parser_words(exc: Exception) -> str:
    return str(exc).removeprefix("Expected HTTP/").strip() or type(exc).__name__


class Resolver:
    """Host name -> addresses, each answer reused for ``ttl`` seconds (per event loop)."""

    def __init__(self, ttl: float = DNS_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._cache: dict[tuple[str, int], tuple[float, list[tuple[int, str]]]] = {}
        self._literals: dict[str, list[tuple[int, str]] | None] = {}

    async def resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        """(family, address) pairs for ``host``; literals are returned as they are. Raises
        ``socket.gaierror`` when the name does not resolve."""
        literal = self._literals.get(host, False)
        if literal is False:
            literal = self._literals[host] = _literal(host)
        if literal is not None:
            return literal
        key = (host, port)
        cached = self._cache.get(key)
        now = self.clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                              type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys((family, sockaddr[0])
                                       for family, _t, _p, _c, sockaddr in infos))
        self._cache[key] = (now + self.ttl, addresses)
        return addresses


def _literal(host: str) -> list[tuple[int, str]] | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, host)]


async def exchange(url: URL, request: bytes, *, resolver: Resolver,
                   ssl_context: ssl.SSLContext | None, limit: int,
                   head_only: bool) -> Response:
    """Connect to ``url``'s host (each resolved address in turn), send ``request`` and read
    the response. The caller bounds the time (``asyncio.timeout``)."""
    loop = asyncio.get_running_loop()
    host = url.raw_host or ""
    port = url.port or DEFAULT_PORTS[url.scheme]
    tls = ssl_context if url.scheme == "https" else None
    last_error: OSError | None = None
    for family, address in await resolver.resolve(host, port):
        done: asyncio.Future[Response] = loop.create_future()
        try:
            _transport, protocol = await loop.create_connection(
                lambda d=done: _Exchange(request, limit, head_only, tls is not None, d),  # type: ignore[misc]
                address, port, family=family, ssl=tls,
                server_hostname=host if tls is not None else None)
        except ssl.SSLError:
            raise  # the server answered; another address would not change the certificate
        except OSError as exc:
            last_error = exc
            continue
        try:
            return await done
        finally:
            protocol.close()  # also when the caller's timeout cancels the wait
    assert last_error is not None  # resolve() returns at least one address or raises
    raise last_error


__all__ = ["HttpError", "InvalidURL", "Resolver", "Response", "build_request", "exchange",
           "parse_url"]

