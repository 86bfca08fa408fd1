"""Keep-alive HTTP connections to vetted addresses: how ``netguard.post`` talks to receivers.

``netguard`` resolves the name and vets every address before *each* request; this module keeps
the connections to such an address open between requests, so a burst of pages to one receiver
costs one TCP (and TLS) handshake, not one per page. Connections are pooled by *endpoint*:
(scheme, name, port, the vetted address, TLS verification). A connection is therefore only used
for a request whose address was vetted for that very request: a name that now resolves to a
refused address is refused before any pool is looked at, and one that now resolves elsewhere
gets connections of its own (DNS rebinding gains nothing).

Bounds (``Connections``): at most ``max_pools`` endpoints (the least recently used is dropped),
``per_pool`` idle connections each; an endpoint's connections live at most ``ttl`` seconds, and
an idle connection is used again only within ``idle`` seconds (servers close idle connections
after 5 s (Apache) to 75 s (nginx)); older ones are closed by the next request, whatever its
endpoint. A connection the server closed meanwhile is noticed before use. When a request on a
*reused* connection fails before any answer because the server closed the connection at that
moment (the keep-alive race), it is sent once more on a new connection, as Go's net/http does
for requests that carry an ``Idempotency-Key``; every webhook we send carries one, so a
receiver drops the rare repeat.

Nothing is followed or remembered: no redirects, no proxies, no cookies. At most ``max_body``
bytes of an answer are read (a receiver cannot make the worker buffer gigabytes).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BODY = 1 << 20  # bytes of an answer read; the rest is dropped with its connection


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a request goes: ``address`` is the vetted IP; ``host`` names it for TLS (SNI and the
    certificate check). ``verify``: True (certifi's CA bundle, as ``requests`` uses), a CA
    bundle file or directory, or False (no verification)."""

    scheme: str
    host: str
    port: int
    address: str
    verify: bool | str = True


@dataclass(frozen=True, slots=True)
class Response:
    """An answer, read completely (up to ``MAX_BODY``); ``headers`` are case-insensitive."""

    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not."""
        return json.loads(self.content)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TCP to the vetted address, TLS to the name: SNI and certificate check use ``server_name``."""

    def __init__(self, address: str, port: int, server_name: str, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self._server_name)


_contexts: dict[bool | str, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """One client TLS context per ``verify`` setting (loading a CA bundle takes milliseconds)."""
    with _contexts_lock:
        context = _contexts.get(verify)
        if context is None:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(verify, str):
                context = (ssl.create_default_context(capath=verify) if os.path.isdir(verify)
                           else ssl.create_default_context(cafile=verify))
            else:
                import certifi

                context = ssl.create_default_context(cafile=certifi.where())
            _contexts[verify] = context
        return context


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Closed, or readable while idle (the server closed it, or sent something unasked)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


@dataclass(slots=True)
class _Pool:
    born: float
    idle: list[tuple[http.client.HTTPConnection, float]] = field(default_factory=list)


class Connections:
    """Pools of keep-alive connections per endpoint, bounded (see the module docstring).

    Thread-safe: a connection is used by one request at a time, taken from and given back to
    its pool under a lock. ``opened`` counts the connections made (for metrics and tests)."""

    def __init__(self, *, max_pools: int = 64, per_pool: int = 32, ttl: float = 60.0,
                 idle: float = 4.0, max_body: int = MAX_BODY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_pools < 1 or per_pool < 0 or ttl <= 0 or idle < 0 or max_body < 0:
            raise ValueError("connection pool bounds must be positive")
        self.max_pools, self.per_pool, self.ttl, self.idle = max_pools, per_pool, ttl, idle
        self.max_body = max_body
        self.clock = clock
        self.opened = 0
        self._pools: OrderedDict[Endpoint, _Pool] = OrderedDict()
        self._lock = threading.Lock()
        self._swept = clock()

    def request(self, endpoint: Endpoint, method: str, target: str, body: bytes | None,
                headers: Mapping[str, str], timeout: float) -> Response:
        """Send one request to ``endpoint`` (``target``: path and query) and read the answer.

        ``timeout`` bounds the connect and every wait for data. Raises ``OSError``
        (``TimeoutError``, ``ConnectionError``, ``ssl.SSLError`` ...) or
        ``http.client.HTTPException`` as ``http.client`` does."""
        conn, reused, pool = self._take(endpoint, timeout)
        try:
            answer = _ask(conn, method, target, body, headers)
        except ConnectionError:
            conn.close()
            if not reused:
                raise
            # the keep-alive race: the server closed this idle connection as we sent; once more
            # on a new connection (the request carries its Idempotency-Key)
            conn, pool = self._open(endpoint, timeout), None
            answer = self._ask_or_close(conn, method, target, body, headers)
        except BaseException:
            conn.close()
            raise
        try:
            content = answer.read(self.max_body + 1)
        except BaseException:
            conn.close()
            raise
        reusable = answer.isclosed() and not answer.will_close and len(content) <= self.max_body
        response = Response(answer.status, answer.reason, answer.headers,
                            content[: self.max_body])
        if reusable and pool is not None:
            self._give(endpoint, pool, conn)
        elif reusable:
            self._adopt(endpoint, conn)
        else:
            conn.close()
        return response

    def _ask_or_close(self, conn: http.client.HTTPConnection, method: str, target: str,
                      body: bytes | None, headers: Mapping[str, str]) -> http.client.HTTPResponse:
        try:
            return _ask(conn, method, target, body, headers)
        except BaseException:
            conn.close()
            raise

    def _open(self, endpoint: Endpoint, timeout: float) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if endpoint.scheme == "https":
            conn = _PinnedHTTPS(endpoint.address, endpoint.port, endpoint.host, timeout,
                                tls_context(endpoint.verify))
        else:
            conn = http.client.HTTPConnection(endpoint.address, endpoint.port, timeout=timeout)
        conn.connect()
        with self._lock:
            self.opened += 1
        return conn

    def _take(self, endpoint: Endpoint,
              timeout: float) -> tuple[http.client.HTTPConnection, bool, _Pool]:
        """A live idle connection of the endpoint's pool (``reused``), or a new one."""
        stale: list[http.client.HTTPConnection] = []
        found = None
        with self._lock:
            now = self.clock()
            if now - self._swept > self.idle:
                stale.extend(self._sweep(now))
            pool = self._pools.get(endpoint)
            if pool is None or now - pool.born > self.ttl:
                if pool is not None:
                    stale.extend(conn for conn, _since in pool.idle)
                pool = self._pools[endpoint] = _Pool(now)
                while len(self._pools) > self.max_pools:
                    _endpoint, evicted = self._pools.popitem(last=False)
                    stale.extend(conn for conn, _since in evicted.idle)
            self._pools.move_to_end(endpoint)
            while pool.idle:
                conn, since = pool.idle.pop()  # the most recently used: the others may age out
                if now - since <= self.idle and not _dropped(conn):
                    found = conn
                    break
                stale.append(conn)
        for conn in stale:
            conn.close()
        if found is None:
            return self._open(endpoint, timeout), False, pool
        found.timeout = timeout
        if found.sock is not None:
            found.sock.settimeout(timeout)
        return found, True, pool

    def _sweep(self, now: float) -> list[http.client.HTTPConnection]:
        """Under the lock: take out every connection idle for too long and every pool past its
        age, so an endpoint never used again does not keep its sockets; returns them to close."""
        self._swept = now
        stale: list[http.client.HTTPConnection] = []
        for endpoint, pool in list(self._pools.items()):
            if now - pool.born > self.ttl:
                stale.extend(conn for conn, _since in pool.idle)
                del self._pools[endpoint]
                continue
            keep = [(conn, since) for conn, since in pool.idle if now - since <= self.idle]
            stale.extend(conn for conn, since in pool.idle if now - since > self.idle)
            pool.idle[:] = keep
        return stale

    def _give(self, endpoint: Endpoint, pool: _Pool, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            now = self.clock()
            keep = (self._pools.get(endpoint) is pool and now - pool.born <= self.ttl
                    and len(pool.idle) < self.per_pool)
            if keep:
                pool.idle.append((conn, now))
        if not keep:
            conn.close()

    def _adopt(self, endpoint: Endpoint, conn: http.client.HTTPConnection) -> None:
        """A connection made outside ``_take`` (the race's second try) joins the current pool."""
        with self._lock:
            pool = self._pools.get(endpoint)
        if pool is None:
            conn.close()
        else:
            self._give(endpoint, pool, conn)

    def close(self) -> None:
        """Close every idle connection and forget the pools (in-flight ones close when done)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            for conn, _since in pool.idle:
                conn.close()

    def forget(self) -> None:
        """After ``fork()``: the child must not share the parent's sockets; drop them unused."""
        self._pools = OrderedDict()
        self._lock = threading.Lock()

    def idle_count(self) -> int:
        """Idle connections kept, over all endpoints."""
        with self._lock:
            return sum(len(pool.idle) for pool in self._pools.values())


def _ask(conn: http.client.HTTPConnection, method: str, target: str, body: bytes | None,
         headers: Mapping[str, str]) -> http.client.HTTPResponse:
    """Send the request and read the status line and headers (not the body)."""
    conn.request(method, target, body=body, headers=dict(headers))
    return conn.getresponse()
