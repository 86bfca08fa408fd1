"""Fixtures for checks/ tests.

Probe targets: real servers on 127.0.0.1 (port 0), each running in a background thread with its
own event loop, so a test can drive the probe with plain ``asyncio.run(...)``. They live for the
whole session (they are stateless) and are stopped at its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from aiohttp import web

# ---------------------------------------------------------------------------------------------
# A loop in a thread, for servers


class ServerLoop:
    """An event loop running in a daemon thread; ``run(coro)`` executes a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cleanups: list[Callable[[], Awaitable[Any]]] = []

    def run(self, coro: Awaitable[Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):  # a failed cleanup must not hide results
                self.run(cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="session")
def server_loop() -> Iterator[ServerLoop]:
    servers = ServerLoop()
    yield servers
    servers.close()


def start_web_app(
    servers: ServerLoop, app: web.Application, ssl_context: ssl.SSLContext | None = None
) -> int:
    """Serve an aiohttp app on 127.0.0.1:0 in the server loop; return the port."""

    async def start() -> int:
        runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        servers.cleanups.append(runner.cleanup)
        return runner.addresses[0][1]

    return servers.run(start())


def free_port() -> int:
    """A port nobody listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def refused_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def silent_port(server_loop: ServerLoop) -> int:
    """A TCP server that accepts connections and never answers (a hung gateway)."""

    async def start() -> int:
        async def ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(-1)
            writer.close()

        server = await asyncio.start_server(ignore, "127.0.0.1", 0)

        async def stop() -> None:
            server.close()

        server_loop.cleanups.append(stop)
        return server.sockets[0].getsockname()[1]

    return server_loop.run(start())


# ---------------------------------------------------------------------------------------------
# HTTP target


@dataclass(frozen=True)
class HttpTarget:
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


JSON_DOC = {"state": "up", "items": [{"name": "a", "count": 3}], "tags": ["prod", "db"]}


def _http_app(release: asyncio.Event) -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="all systems OK")

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.Response(status=code, text=f"this is status {code}")

    async def doc(request: web.Request) -> web.Response:
        return web.json_response(JSON_DOC)

    async def down(request: web.Request) -> web.Response:
        return web.json_response({"state": "down"})

    async def hang(request: web.Request) -> web.Response:
        await release.wait()  # until the session ends: a server that never answers
        return web.Response(text="too late")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", "0.05")))
        return web.Response(text="slow OK")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({
            "method": request.method,
            "body": await request.text(),
            "headers": dict(request.headers),
        })

    async def error_page(request: web.Request) -> web.Response:
        return web.Response(text="Internal error: database unavailable")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (3 * 1024 * 1024) + b"NEEDLE-AT-THE-END")

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/json", doc)
    app.router.add_get("/json-down", down)
    app.router.add_get("/hang", hang)
    app.router.add_get("/hang/{tail:.*}", hang)  # e.g. a Prometheus that never answers
    app.router.add_get("/slow", slow)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/error-page", error_page)
    app.router.add_get("/big", big)
    return app


@pytest.fixture(scope="session")
def http_target(server_loop: ServerLoop) -> HttpTarget:
    async def make_event() -> asyncio.Event:
        return asyncio.Event()

    release = server_loop.run(make_event())

    async def let_go() -> None:
        release.set()

    port = start_web_app(server_loop, _http_app(release))
    server_loop.cleanups.append(let_go)  # runs before the app cleanup (reverse order)
    return HttpTarget(port)


# ---------------------------------------------------------------------------------------------
# Certificates (openssl CLI) and TLS targets


@dataclass(frozen=True)
class Certs:
    directory: Path
    ca: Path  # CA certificate (PEM) that signed "good", "short" and "expired"

    def pair(self, name: str) -> tuple[Path, Path]:
        return self.directory / f"{name}.crt", self.directory / f"{name}.key"


_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # fast to generate


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A test CA and server certificates for localhost/127.0.0.1:

    good (90 days), short (10 days), expired (2020), selfsigned (not from the CA).
    """
    d = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", *_EC_KEY, "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "365", "-subj", "/CN=DutyDesk Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    (d / "san.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\n"
    )
    for name, days in (("good", 90), ("short", 10)):
        _openssl("req", *_EC_KEY, "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", str(days),
                 "-extfile", "san.ext", cwd=d)
    # expired: "openssl ca" is the CLI way to set explicit dates in the past
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=test\n[test]\ndatabase=index.txt\nserial=serial\nnew_certs_dir=.\n"
        "default_md=sha256\npolicy=anything\ncopy_extensions=none\n"
        "[anything]\ncommonName=supplied\n"
    )
    _openssl("req", *_EC_KEY, "-nodes", "-keyout", "expired.key",
             "-out", "expired.csr", "-subj", "/CN=localhost", cwd=d)
    _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile", "ca.key",
             "-in", "expired.csr", "-out", "expired.crt", "-notext",
             "-startdate", "20200101000000Z", "-enddate", "20200301000000Z",
             "-extfile", "san.ext", cwd=d)
    _openssl("req", "-x509", *_EC_KEY, "-nodes", "-keyout", "selfsigned.key",
             "-out", "selfsigned.crt", "-days", "90", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", cwd=d)
    return Certs(directory=d, ca=d / "ca.crt")


@pytest.fixture(scope="session")
def tls_ports(server_loop: ServerLoop, certs: Certs, http_target: HttpTarget) -> dict[str, int]:
    """HTTPS servers (the HTTP target's routes) on 127.0.0.1, one per certificate name."""
    ports = {}
    for name in ("good", "short", "expired", "selfsigned"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert, key = certs.pair(name)
        context.load_cert_chain(cert, key)

        async def make_event() -> asyncio.Event:
            return asyncio.Event()

        release = server_loop.run(make_event())
        ports[name] = start_web_app(server_loop, _http_app(release), context)

        async def let_go(event: asyncio.Event = release) -> None:
            event.set()

        server_loop.cleanups.append(let_go)
    return ports


# ---------------------------------------------------------------------------------------------
# TCP targets


@dataclass(frozen=True)
class TcpTargets:
    banner_port: int  # says "SSH-2.0-DutyDeskTest", answers "PONG" to "PING"
    silent_port: int  # accepts and says nothing


@pytest.fixture(scope="session")
def tcp_targets(server_loop: ServerLoop) -> TcpTargets:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-DutyDeskTest\r\n")
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            if line.strip() == b"PING":
                writer.write(b"PONG\r\n")
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        writer.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.read()  # until the client goes away
        writer.close()

    async def start() -> TcpTargets:
        first = await asyncio.start_server(banner, "127.0.0.1", 0)
        second = await asyncio.start_server(silent, "127.0.0.1", 0)
        for server in (first, second):
            async def stop(s: asyncio.Server = server) -> None:
                s.close()

            server_loop.cleanups.append(stop)
        return TcpTargets(first.sockets[0].getsockname()[1], second.sockets[0].getsockname()[1])

    return server_loop.run(start())


# ---------------------------------------------------------------------------------------------
# A tiny authoritative DNS server answering from a zone dict (UDP)

ZONE: dict[tuple[str, str], list[str]] = {
    ("db.test.", "A"): ["10.0.0.5", "10.0.0.6"],
    ("db.test.", "AAAA"): ["fd00::5"],
    ("mail.test.", "MX"): ["10 mx1.test."],
    ("txt.test.", "TXT"): ['"v=spf1 -all"'],
    ("alias.test.", "CNAME"): ["db.test."],
}
SILENT_NAMES = {"slow.test."}  # the server never answers these: timeouts
SERVFAIL_NAMES = {"broken.test."}


class _DnsProtocol(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        if name in SILENT_NAMES:
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name in SERVFAIL_NAMES:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif (name, rdtype) in ZONE:
            rrset = dns.rrset.from_text_list(question.name, 300, "IN", rdtype, ZONE[name, rdtype])
            response.answer.append(rrset)
        elif not any(zone_name == name for zone_name, _ in ZONE):
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def dns_port(server_loop: ServerLoop) -> int:
    async def start() -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            _DnsProtocol, local_addr=("127.0.0.1", 0)
        )

        async def stop() -> None:
            transport.close()

        server_loop.cleanups.append(stop)
        return transport.get_extra_info("sockname")[1]

    return server_loop.run(start())


# ---------------------------------------------------------------------------------------------
# A server that answers /api/v1/query like Prometheus


def _vector(*series: tuple[dict[str, str], str]) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": labels, "value": [1700000000.0, value]} for labels, value in series
    ]}}


PROMETHEUS_ANSWERS: dict[str, dict] = {
    'up{job="db"}': _vector(({"__name__": "up", "job": "db", "instance": "db1:9100"}, "1")),
    'temperature_celsius{rack="A1"}': _vector(
        ({"__name__": "temperature_celsius", "rack": "A1"}, "31.5")
    ),
    'up{job="gone"}': _vector(),
    "up": _vector(
        ({"__name__": "up", "job": "db"}, "1"),
        ({"__name__": "up", "job": "web"}, "1"),
        ({"__name__": "up", "job": "dns"}, "0"),
        ({"__name__": "up", "job": "mail"}, "1"),
    ),
    "up[5m]": {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "up"}, "values": [[1700000000.0, "1"]]}
    ]}},
    "0/0": {"status": "success", "data": {"resultType": "scalar",
                                          "result": [1700000000.0, "NaN"]}},
}


@pytest.fixture(scope="session")
def prometheus_port(server_loop: ServerLoop) -> int:
    async def query(request: web.Request) -> web.Response:
        promql = request.query.get("query", "")
        if promql == "time()":  # answers with the evaluation time it was asked for
            at = float(request.query["time"])
            return web.json_response({"status": "success",
                                      "data": {"resultType": "scalar", "result": [at, str(at)]}})
        if promql == "not json":
            return web.Response(text="<html>proxy error</html>", status=502)
        if promql in PROMETHEUS_ANSWERS:
            return web.json_response(PROMETHEUS_ANSWERS[promql])
        return web.Response(
            status=400, content_type="application/json",
            text=json.dumps({"status": "error", "errorType": "bad_data",
                             "error": f'1:1: parse error: unexpected "{promql[:10]}"'}),
        )

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    return start_web_app(server_loop, app)
