"""PDUs and controllers log to DutyDesk with util-linux ``logger`` over UDP and TCP (RFC 5424
and RFC 3164); the lines the rules name open and resolve incidents, the rest are only counted."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from dutydesk.core.db import Database
from dutydesk.facility.decide import decide_syslog
from dutydesk.facility.receiver import Receiver
from dutydesk.facility.store import recent_heard
from dutydesk.facility.syslog import MAX_MESSAGE, SyslogListener, describe_syslog, parse_syslog
from dutydesk.incidents.alerts.model import AlertSource
from tests.dutydesk.facility.conftest import apply, free_port, incidents, need, run, wait_until

RULES = r"""
syslog:
  sources: [127.0.0.1]
rules:
  - name: pdu-breaker
    input: syslog
    hosts: ["127.0.0.1", "pdu-*"]
    facilities: [local0]
    min_level: err
    pattern: 'breaker (?P<breaker>\d+) tripped'
    clear_pattern: 'breaker (?P<breaker>\d+) closed'
    key: [breaker]
    severity: critical
    summary: "Breaker {breaker} tripped on {host}"
"""


@pytest.fixture
def syslog(settings: Any, db: Database) -> Iterator[tuple[SyslogListener, CollectorRegistry]]:
    need("logger")
    apply(db, RULES)
    registry = CollectorRegistry()
    receiver = Receiver(AlertSource.SYSLOG, db, settings, decide_syslog, describe_syslog,
                        registry=registry, interval=0.1)
    listener = SyslogListener(receiver, udp=f"127.0.0.1:{free_port()}",
                              tcp=f"127.0.0.1:{free_port(socket.SOCK_STREAM)}")
    listener.start()
    assert listener.error is None
    yield listener, registry
    listener.stop()


def logger(listener: SyslogListener, proto: str, *args: str) -> None:
    host, port = listener.bound[proto]
    result = run(["logger", "--server", host, "--port", str(port), f"--{proto}", *args])
    assert result.returncode == 0, result.stderr


def counted(registry: CollectorRegistry, outcome: str) -> float:
    return registry.get_sample_value("dutydesk_facility_messages_total",
                                     {"input": "syslog", "outcome": outcome}) or 0.0


def test_a_breaker_trip_over_udp_rfc5424_opens_an_incident_and_closing_resolves_it(
    syslog: Any, db: Database
) -> None:
    listener, _ = syslog
    logger(listener, "udp", "--rfc5424", "-p", "local0.err", "-t", "pdu", "breaker 3 tripped")
    opened = wait_until(lambda: incidents(db))
    assert [(i.title, i.severity, i.source) for i in opened] == [
        ("Breaker 3 tripped on " + opened[0].title.rsplit(" ", 1)[1], "critical", "syslog")]
    logger(listener, "udp", "--rfc5424", "-p", "local0.err", "-t", "pdu", "breaker 3 closed")
    assert wait_until(lambda: incidents(db)[0].status == "resolved")


@pytest.mark.parametrize("framing", [[], ["--octet-count"]], ids=["newline", "octet-count"])
def test_tcp_rfc3164_messages_in_either_framing_reach_the_pipeline(
    syslog: Any, db: Database, framing: list[str]
) -> None:
    listener, _ = syslog
    logger(listener, "tcp", "--rfc3164", *framing, "-p", "local0.crit", "-t", "pdu",
           "breaker 7 tripped")
    assert wait_until(lambda: [i.title.split(" on ")[0] for i in incidents(db)]) == [
        "Breaker 7 tripped"]


def test_messages_no_rule_takes_are_counted_by_facility_and_level_not_stored(
    syslog: Any, db: Database
) -> None:
    listener, registry = syslog
    logger(listener, "udp", "--rfc5424", "-p", "local0.info", "breaker 3 tripped")  # too mild
    logger(listener, "udp", "--rfc5424", "-p", "daemon.err", "disk almost full")
    assert wait_until(lambda: counted(registry, "unmatched") >= 2)

    def heard() -> dict[str, int]:
        with db.session() as s:
            return {h.name: h.count for h in recent_heard(s) if h.reason == "unmatched"}

    assert wait_until(lambda: heard() == {"local0.info": 1, "daemon.err": 1})
    assert incidents(db) == []


def test_a_64_kib_line_is_handled_and_a_longer_one_is_counted_without_stopping_the_input(
    syslog: Any, db: Database
) -> None:
    listener, registry = syslog
    text = b"<131>Dec  7 14:00:00 pdu-a1 pdu: " + b"x" * 1000 + b" breaker 9 tripped "
    line = text + b"y" * (MAX_MESSAGE - len(text))
    assert len(line) == MAX_MESSAGE
    with socket.create_connection(listener.bound["tcp"]) as conn:
        conn.sendall(b"z" * (MAX_MESSAGE * 2) + b"\n")  # too long: counted, skipped
        conn.sendall(line + b"\n")
    assert wait_until(lambda: [i.title for i in incidents(db)]) == [
        "Breaker 9 tripped on pdu-a1"]
    assert counted(registry, "rejected") == 1


def test_rfc5424_structured_data_and_rfc3164_tags_are_understood() -> None:
    modern = parse_syslog(b'<165>1 2026-12-07T14:00:00Z crac-2 unit - ALARM '
                          b'[alarm@32473 code="E12" zone="B"] high return air', "10.0.0.5")
    assert (modern.host, modern.facility, modern.level, modern.app, modern.text) == (
        "crac-2", "local4", "notice", "unit", "high return air")
    assert modern.structured == {"alarm@32473.code": "E12", "alarm@32473.zone": "B"}
    old = parse_syslog(b"<34>Oct 11 22:14:15 ups-1 upsd[42]: on battery", "10.0.0.6")
    assert (old.host, old.facility, old.level, old.app, old.text) == (
        "ups-1", "auth", "crit", "upsd", "on battery")
    bare = parse_syslog(b"no priority at all", "10.0.0.7")
    assert (bare.host, bare.facility, bare.level, bare.text) == (
        "10.0.0.7", "user", "notice", "no priority at all")


def self_signed(tmp_path: Any) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dutydesk-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "syslog.crt", tmp_path / "syslog.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_syslog_over_tls_rfc5425_opens_the_incident(
    settings: Any, db: Database, tmp_path: Any
) -> None:
    import ssl

    apply(db, RULES)
    cert, key = self_signed(tmp_path)
    receiver = Receiver(AlertSource.SYSLOG, db, settings, decide_syslog, describe_syslog,
                        interval=0.1)
    listener = SyslogListener(receiver, tls=f"127.0.0.1:{free_port(socket.SOCK_STREAM)}",
                              tls_cert=cert, tls_key=key)
    listener.start()
    try:
        assert listener.error is None
        context = ssl.create_default_context(cafile=cert)
        message = b"<131>1 2026-12-07T14:00:00Z pdu-b4 pdu - - - breaker 2 tripped"
        with socket.create_connection(listener.bound["tls"]) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(b"%d " % len(message) + message)  # RFC 5425 octet counting
        assert wait_until(lambda: [i.title for i in incidents(db)]) == [
            "Breaker 2 tripped on pdu-b4"]
    finally:
        listener.stop()


def test_the_text_of_an_unmatched_line_is_never_stored(syslog: Any, db: Database) -> None:
    listener, _ = syslog
    logger(listener, "udp", "--rfc5424", "-p", "auth.err", "-t", "sshd",
           "password for alice is hunter2")

    def samples() -> list[str]:
        with db.session() as s:
            return [h.sample for h in recent_heard(s) if h.reason == "unmatched"]

    stored = wait_until(samples)
    assert len(stored) == 1 and stored[0].endswith("sshd") and "hunter2" not in stored[0]
