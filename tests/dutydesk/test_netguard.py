"""Outgoing webhooks cannot be aimed inside the network (SSRF): refused at creation with the
reason, refused again at send time as a permanent failure, and connected to the very address
that was checked (no DNS rebinding). The operator opens internal networks with outbound_allow."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core import netguard
from dutydesk.core.config import ConfigError, Settings, load_settings
from dutydesk.core.db import Database
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.notify.sender import deliver_due
from dutydesk.models import DeliveryAttempt, OutboxMessage

from ..conftest import bearer
from .notify.receivers import HttpReceiver


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),             # the worker itself: PostgreSQL on :5432
        ("169.254.169.254", "link-local"),     # cloud metadata
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.10", "private"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "private"),          # AWS metadata over IPv6
        ("::ffff:127.0.0.1", "loopback"),      # IPv4-mapped: judged as the IPv4 address
    ],
)
def test_internal_addresses_are_refused_with_what_they_are(address: str, kind: str) -> None:
    reason = netguard.refusal(ipaddress.ip_address(address))
    assert reason is not None and kind in reason and "outbound_allow" in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert netguard.refusal(ipaddress.ip_address(address)) is None


def test_the_operator_opens_an_internal_network_and_only_that() -> None:
    allowed = netguard.networks(["10.20.0.0/16"])
    assert netguard.refusal(ipaddress.ip_address("10.20.1.5"), allowed) is None
    assert netguard.refusal(ipaddress.ip_address("10.21.1.5"), allowed) is not None


def test_a_name_with_one_internal_address_among_public_ones_is_refused() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    problem = netguard.url_problem("https://hooks.example/x", [], resolver)
    assert problem is not None and problem.startswith("hooks.example resolves to 10.0.0.7")


def test_a_name_that_does_not_resolve_yet_is_accepted_at_creation() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    assert netguard.url_problem("https://hooks.example/x", [], resolver) is None


def test_the_request_goes_to_the_checked_address_with_the_name_as_host() -> None:
    """The name is resolved once; the connection goes to that vetted address (a second lookup
    could answer 127.0.0.1 — DNS rebinding), and the receiver still sees the name."""
    receiver = HttpReceiver()
    url = receiver.start()
    port = int(url.rsplit(":", 1)[1])
    lookups: list[str] = []

    def resolver(host: str, port_: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    try:
        response = netguard.post(f"http://hooks.dc.example:{port}/hook?x=1", data=b"{}",
                                 headers={"Content-Type": "application/json"}, timeout=5,
                                 allowed=["127.0.0.0/8"], resolver=resolver)
    finally:
        receiver.stop()
    assert response.status_code == 200
    assert lookups == ["hooks.dc.example"]
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.dc.example:{port}"
    assert receiver.requests[0]["path"] == "/hook?x=1"


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HttpReceiver()
    url = server.start()
    yield url
    server.stop()


def strict(settings: Settings) -> Settings:
    return dataclasses.replace(settings, outbound_allow=())


def test_a_queued_webhook_to_loopback_fails_permanently_at_send_time(
    db: Database, settings: Settings
) -> None:
    server = HttpReceiver()
    url = server.start()
    try:
        with db.session() as s:
            enqueue(s, idempotency_key="k1", channel="webhook", target=url + "/hook",
                    subject="P1", body_text="x", source_type="incident", source_id=1)
        deliver_due(db, strict(settings))
    finally:
        server.stop()
    assert server.requests == []
    with db.session() as s:
        message = s.scalar(select(OutboxMessage))
        attempt = s.scalar(select(DeliveryAttempt))
    assert message.status == "failed"
    assert "refused: 127.0.0.1 is a loopback address" in attempt.detail


def test_a_viewer_cannot_add_a_webhook_to_the_metadata_service(signed_in: Any,
                                                               db: Database) -> None:
    from ..conftest import form_token

    client = signed_in("viewer")
    answer = client.post("/account/notifications/methods", data={
        "kind": "webhook", "target": "http://169.254.169.254/latest/meta-data/",
        "csrf_token": form_token(client, "/account/notifications")})
    assert answer.status_code == 400
    assert "169.254.169.254 is a link-local address" in answer.get_data(as_text=True)
    with db.session() as s:
        from dutydesk.incidents.models import ContactMethod

        assert s.scalar(select(ContactMethod)) is None


def test_a_status_webhook_to_a_private_address_is_refused_by_the_api(
    client: Any, api_token: Any
) -> None:
    answer = client.post("/api/v1/status/subscribers", headers=bearer(api_token("admin")),
                         json={"url": "http://10.0.0.5:5432/"})
    assert answer.status_code == 400
    assert "10.0.0.5 is a private address" in answer.get_data(as_text=True)


def test_outbound_allow_must_be_networks() -> None:
    with pytest.raises(ConfigError, match="'intranet' is not an IP network"):
        load_settings({"outbound_allow": ["10.0.0.0/8", "intranet"]}, environ={})
    settings = load_settings({"outbound_allow": "10.0.0.0/8, 192.168.1.5"}, environ={})
    assert settings.outbound_allow == ("10.0.0.0/8", "192.168.1.5/32")


@pytest.fixture
def https_receiver(tmp_path: Any) -> Iterator[tuple[int, str]]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names hooks.dc.example only."""
    import http.server
    import ssl
    import subprocess
    import threading

    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "hook.key",
                    "-out", "hook.crt", "-days", "2", "-subj", "/CN=hooks.dc.example",
                    "-addext", "subjectAltName=DNS:hooks.dc.example"],
                   cwd=tmp_path, check=True, capture_output=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "hook.crt", tmp_path / "hook.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(tmp_path / "hook.crt")
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_checked_address_and_still_verifies_the_name(
    https_receiver: tuple[int, str]
) -> None:
    import ssl

    port, ca = https_receiver

    def loopback(host: str, port_: int) -> list[str]:
        return ["127.0.0.1"]

    def send(name: str) -> Any:
        return netguard.post(f"https://{name}:{port}/hook", data=b"{}", headers={}, timeout=5,
                             allowed=["127.0.0.0/8"], resolver=loopback, verify=ca)

    assert send("hooks.dc.example").status_code == 204  # SNI and certificate use the name
    with pytest.raises(ssl.SSLCertVerificationError):
        send("other.dc.example")  # same address, a name the certificate does not cover
