"""Webhooks go over kept-alive connections, and the guard still holds: every request vets the
name again, a kept connection serves only the address vetted for that very request, and the
pools are bounded (idle time, age, number of endpoints, answer size)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dutydesk.core import netguard
from dutydesk.core.pinned_http import Connections

LOOPBACK = ["127.0.0.0/8"]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class RawReceiver:
    """An HTTP/1.1 server on 127.0.0.1 that counts the TCP connections it accepts and answers
    by ``script(connection number, request number on it)``: bytes to send, or ``None`` to close
    the connection without answering (``close_after_answer``: close right after each answer).
    Keeps every request's Idempotency-Key."""

    def __init__(self, script: Callable[[int, int], bytes | None] = lambda _c, _r: OK, *,
                 close_after_answer: bool = False) -> None:
        self.script = script
        self.close_after_answer = close_after_answer
        self.closed = threading.Event()  # set when the server closed a connection after answering
        self.connections = 0
        self.keys: list[str] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _peer = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        reader = conn.makefile("rb")
        try:
            for request in range(1, 1000):
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if line)
                length = int(headers.get(b"Content-Length", b"0"))
                reader.read(length)
                with self.lock:
                    self.keys.append(headers.get(b"Idempotency-Key", b"").decode().strip())
                answer = self.script(number, request)
                if answer is None:
                    return
                conn.sendall(answer)
                if self.close_after_answer:
                    conn.close()
                    self.closed.set()
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    def url(self, host: str = "hooks.dc.example") -> str:
        return f"http://{host}:{self.port}/hook"

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture
def receiver() -> Iterator[RawReceiver]:
    server = RawReceiver()
    yield server
    server.stop()


def resolving_to(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda _host, _port: list(addresses)


TO_LOOPBACK = resolving_to("127.0.0.1")


def post(url: str, connections: Connections, key: str = "k", *,
         resolver: Callable[[str, int], list[str]] = TO_LOOPBACK,
         allowed: list[str] = LOOPBACK) -> Any:
    return netguard.post(url, data=b"{}", headers={"Idempotency-Key": key}, timeout=5,
                         allowed=allowed, resolver=resolver, connections=connections)


def test_a_burst_of_pages_to_one_receiver_uses_one_connection(receiver: RawReceiver) -> None:
    connections = Connections()
    answers = [post(receiver.url(), connections, f"page-{n}") for n in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert receiver.keys == [f"page-{n}" for n in range(5)]
    assert receiver.connections == 1


def test_a_name_that_now_resolves_to_a_refused_address_is_refused_despite_a_kept_connection(
    receiver: RawReceiver,
) -> None:
    connections = Connections()
    allowed = ["127.0.0.1/32"]
    assert post(receiver.url(), connections, allowed=allowed).status_code == 200
    with pytest.raises(netguard.OutboundRefused, match=r"resolves to 169\.254\.169\.254"):
        post(receiver.url(), connections, "again", allowed=allowed,
             resolver=resolving_to("169.254.169.254"))
    assert receiver.keys == ["k"]  # nothing went over the connection kept to 127.0.0.1
    assert connections.idle_count() == 1


def test_a_kept_connection_serves_only_the_address_vetted_for_this_request(
    receiver: RawReceiver,
) -> None:
    """The name now resolves to another (allowed) address where nothing listens: the request
    goes there and fails, it does not ride the connection kept to the first address."""
    connections = Connections()
    post(receiver.url(), connections)
    with pytest.raises(ConnectionRefusedError):
        post(receiver.url(), connections, "moved", resolver=resolving_to("127.0.0.2"))
    assert receiver.keys == ["k"]


def test_another_name_on_the_same_address_gets_connections_of_its_own(
    receiver: RawReceiver,
) -> None:
    connections = Connections()
    post(receiver.url("a.dc.example"), connections, "a")
    post(receiver.url("b.dc.example"), connections, "b")  # TLS would check this very name
    assert receiver.connections == 2


def test_a_connection_idle_for_longer_than_the_limit_is_not_used_again(
    receiver: RawReceiver,
) -> None:
    now = [100.0]
    connections = Connections(idle=4.0, clock=lambda: now[0])
    post(receiver.url(), connections, "first")
    now[0] += 3.0
    post(receiver.url(), connections, "within the limit")
    now[0] += 5.0
    post(receiver.url(), connections, "after the limit")
    assert receiver.connections == 2


def test_an_endpoint_not_used_again_does_not_keep_its_connections(
    receiver: RawReceiver,
) -> None:
    now = [0.0]
    connections = Connections(idle=4.0, clock=lambda: now[0])
    post(receiver.url("a.dc.example"), connections, "a")
    now[0] += 5.0
    post(receiver.url("b.dc.example"), connections, "b")  # closes a's, idle for too long
    assert connections.idle_count() == 1


def test_connections_are_renewed_when_their_pool_is_older_than_its_ttl(
    receiver: RawReceiver,
) -> None:
    now = [0.0]
    connections = Connections(ttl=60.0, idle=30.0, clock=lambda: now[0])
    for step in range(4):
        post(receiver.url(), connections, f"page-{step}")
        now[0] += 25.0  # used every 25 s: never idle too long, but the pool ages
    assert receiver.connections == 2


def test_the_least_recently_used_endpoint_is_dropped_beyond_the_bound(
    receiver: RawReceiver,
) -> None:
    connections = Connections(max_pools=1)
    post(receiver.url("a.dc.example"), connections, "a")
    post(receiver.url("b.dc.example"), connections, "b")
    post(receiver.url("a.dc.example"), connections, "a again")
    assert receiver.connections == 3
    assert connections.idle_count() == 1


def test_a_connection_the_server_closed_while_idle_is_noticed_before_use() -> None:
    """As a server whose keep-alive timeout ran out: the next page takes a new connection at
    once, and is neither lost nor sent twice."""
    server = RawReceiver(close_after_answer=True)
    connections = Connections()
    try:
        post(server.url(), connections, "first")
        assert server.closed.wait(5)
        post(server.url(), connections, "second")
    finally:
        server.stop()
    assert server.keys == ["first", "second"]
    assert server.connections == 2


def test_a_reused_connection_closed_as_the_page_is_sent_is_sent_once_more_on_a_new_one() -> None:
    """The keep-alive race: the server drops the kept connection when the next request arrives.
    The page goes again on a new connection with the same Idempotency-Key."""
    server = RawReceiver(lambda conn, request: None if (conn, request) == (1, 2) else OK)
    connections = Connections()
    try:
        post(server.url(), connections, "first")
        answer = post(server.url(), connections, "second")
    finally:
        server.stop()
    assert answer.status_code == 200
    assert server.keys == ["first", "second", "second"]
    assert server.connections == 2


def test_a_new_connection_closed_without_an_answer_is_a_failure_not_sent_again() -> None:
    server = RawReceiver(lambda _conn, _request: None)
    try:
        with pytest.raises(ConnectionError):
            post(server.url(), Connections(), "only once")
    finally:
        server.stop()
    assert server.keys == ["only once"]


def test_an_answer_is_read_up_to_the_bound_and_its_connection_dropped() -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
    server = RawReceiver(lambda _conn, _request: big)
    connections = Connections(max_body=1000)
    try:
        first = post(server.url(), connections, "one")
        post(server.url(), connections, "two")
    finally:
        server.stop()
    assert first.status_code == 200 and first.content == b"x" * 1000
    assert server.connections == 2  # a half-read answer leaves its connection unusable
