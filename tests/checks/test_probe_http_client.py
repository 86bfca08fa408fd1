"""The HTTP probe's own client on the wire: a raw server on 127.0.0.1 answers with exact bytes
(chunked, close-delimited, gzip, interim 100, cut off, silent) and records what it was sent."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from checks.probes.http import HttpSpec, probe
from checks.probes.http_client import Resolver, build_request, parse_url
from checks.result import Status
from tests.checks.conftest import ServerLoop

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class RawServer:
    """Answers every connection with ``answers[path]`` (bytes), then closes; keeps requests."""

    def __init__(self, loop: ServerLoop) -> None:
        self.answers: dict[str, bytes] = {}
        self.requests: list[bytes] = []
        self.port = loop.run(self._start(loop))

    async def _start(self, loop: ServerLoop) -> int:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        loop.cleanups.append(self._stopper(server))
        return server.sockets[0].getsockname()[1]

    @staticmethod
    def _stopper(server: asyncio.Server):  # a coroutine factory for the loop's cleanups
        async def stop() -> None:
            server.close()
        return stop

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            body = await reader.readexactly(length) if length else b""
            self.requests.append(head + body)
            path = head.split(b" ")[1].decode().split("?")[0]
            writer.write(self.answers.get(path, b"HTTP/1.1 404 Not Found\r\n"
                                                b"Content-Length: 0\r\n\r\n"))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def raw(server_loop: ServerLoop) -> Iterator[RawServer]:
    yield RawServer(server_loop)


def run(spec: dict) -> object:
    return asyncio.run(probe(HttpSpec.from_dict(spec), NOW))


def test_a_chunked_body_is_put_together_before_the_keyword_is_looked_for(raw) -> None:
    raw.answers["/chunked"] = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"5\r\nall s\r\n9\r\nystems OK\r\n0\r\n\r\n")
    result = run({"url": raw.url("/chunked"), "keyword": "all systems OK"})
    assert result.status is Status.OK, result.message


def test_a_body_without_length_ends_with_the_connection(raw) -> None:
    raw.answers["/close"] = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nstill up"
    assert run({"url": raw.url("/close"), "keyword": "still up"}).ok


def test_a_gzip_body_is_decoded_for_conditions(raw) -> None:
    packed = gzip.compress(b'{"state": "up"}')
    raw.answers["/gz"] = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
                          + str(len(packed)).encode() + b"\r\n\r\n" + packed)
    assert run({"url": raw.url("/gz"), "json_path": "$.state", "json_value": "up"}).ok


def test_an_interim_100_continue_is_skipped(raw) -> None:
    raw.answers["/continue"] = (b"HTTP/1.1 100 Continue\r\n\r\n"
                                b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    result = run({"url": raw.url("/continue"), "expected_status": [201]})
    assert result.ok
    assert result.metrics["status_code"] == 201


def test_a_head_request_does_not_wait_for_the_announced_body(raw) -> None:
    raw.answers["/head"] = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
    result = run({"url": raw.url("/head"), "method": "HEAD", "timeout": 2})
    assert result.ok, result.message


def test_a_body_shorter_than_announced_is_cut_off(raw) -> None:
    raw.answers["/short"] = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    result = run({"url": raw.url("/short")})
    assert result.status is Status.CRITICAL
    assert result.message == "the response body was cut off (connection closed early)"


def test_a_server_closing_without_an_answer_is_critical(raw) -> None:
    raw.answers["/silent"] = b""
    result = run({"url": raw.url("/silent")})
    assert result.status is Status.CRITICAL
    assert result.message == "the server closed the connection without an answer"


def test_garbage_instead_of_http_is_a_bad_response(raw) -> None:
    raw.answers["/garbage"] = b"SSH-2.0-OpenSSH_9.2\r\n"
    result = run({"url": raw.url("/garbage")})
    assert result.status is Status.CRITICAL
    assert result.message.startswith("bad HTTP response (")


def test_a_redirect_to_another_scheme_is_critical(raw) -> None:
    raw.answers["/ftp"] = b"HTTP/1.1 302 Found\r\nLocation: ftp://example.org/\r\n\r\n"
    result = run({"url": raw.url("/ftp")})
    assert result.status is Status.CRITICAL
    assert result.message == "redirected to a non-HTTP URL 'ftp://example.org/'"


def test_a_post_answered_with_303_is_followed_by_a_get_without_body(raw) -> None:
    raw.answers["/form"] = b"HTTP/1.1 303 See Other\r\nLocation: /done\r\nContent-Length: 0\r\n\r\n"
    raw.answers["/done"] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"
    raw.requests.clear()
    assert run({"url": raw.url("/form"), "method": "POST", "body": "a=1"}).ok
    assert raw.requests[0].startswith(b"POST /form HTTP/1.1\r\n")
    assert raw.requests[0].endswith(b"\r\n\r\na=1")
    assert raw.requests[1].startswith(b"GET /done HTTP/1.1\r\n")
    assert b"content-length" not in raw.requests[1].lower()


def test_the_request_names_host_agent_and_asks_to_close(raw) -> None:
    raw.answers["/who"] = b"HTTP/1.1 204 No Content\r\n\r\n"
    raw.requests.clear()
    assert run({"url": f"http://ops:s3cret@127.0.0.1:{raw.port}/who?x=1",
                "headers": {"X-Duty": "night"}}).ok
    head = raw.requests[0].decode().split("\r\n")
    assert head[0] == "GET /who?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{raw.port}" in head
    assert "Connection: close" in head
    assert "X-Duty: night" in head
    assert "Authorization: Basic b3BzOnMzY3JldA==" in head
    assert any(line.startswith("User-Agent: DutyDesk-probe/") for line in head)


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    url = parse_url("http://127.0.0.1/")
    with pytest.raises(ValueError, match="line break"):
        build_request(url, "GET", (("X-Evil", "a\r\nInjected: yes"),), None, "ua")


def test_the_default_port_is_left_out_of_the_host_header_and_ipv6_gets_brackets() -> None:
    assert b"\r\nHost: example.org\r\n" in build_request(
        parse_url("https://example.org:443/"), "GET", (), None, "ua")
    assert b"\r\nHost: [::1]:8080\r\n" in build_request(
        parse_url("http://[::1]:8080/"), "GET", (), None, "ua")


def test_the_resolver_reuses_an_answer_until_it_is_older_than_its_ttl() -> None:
    now = [100.0]
    resolver = Resolver(ttl=30, clock=lambda: now[0])

    async def lookups() -> list:
        first = await resolver.resolve("localhost", 80)
        resolver._cache[("localhost", 80)] = (now[0] + 30, [(2, "192.0.2.7")])  # marked
        now[0] += 29
        cached = await resolver.resolve("localhost", 80)
        now[0] += 2
        fresh = await resolver.resolve("localhost", 80)
        return [first, cached, fresh]

    first, cached, fresh = asyncio.run(lookups())
    assert cached == [(2, "192.0.2.7")]
    assert fresh == first and "192.0.2.7" not in str(fresh)
