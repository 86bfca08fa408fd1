"""TLS certificate probe against HTTPS servers on 127.0.0.1 with certificates made by a test CA."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from checks.probes.tls import CertificateParseError, TlsSpec, parse_certificate, probe
from checks.result import Status
from checks.specs import SpecError


def run(spec: dict, now: datetime | None = None):
    return asyncio.run(probe(TlsSpec.from_dict(spec), now or datetime.now(UTC)))


def target(tls_ports, certs, name: str, **extra) -> dict:
    return {"host": "127.0.0.1", "port": tls_ports[name], "server_name": "localhost",
            "ca_file": str(certs.ca), **extra}


def test_a_valid_certificate_is_ok_with_days_left_and_issuer(tls_ports, certs) -> None:
    result = run(target(tls_ports, certs, "good"))
    assert result.status is Status.OK, result.message
    assert result.message.startswith("certificate for localhost expires in 90 days (")
    assert result.message.endswith("issued by DutyDesk Test CA")
    assert 89 < result.metrics["cert_expiry_days"] <= 90
    assert result.metrics["handshake_time"] > 0


def test_a_certificate_inside_the_warning_window_is_warning(tls_ports, certs) -> None:
    result = run(target(tls_ports, certs, "short"))  # 10 days left; warns at 21 by default
    assert result.status is Status.WARNING
    assert "expires in 10 days" in result.message
    assert "warning at 21 days" in result.message


def test_a_certificate_inside_the_critical_window_is_critical(tls_ports, certs) -> None:
    result = run(target(tls_ports, certs, "short", crit_days=14, warn_days=30))
    assert result.status is Status.CRITICAL
    assert "expires in 10 days" in result.message


def test_days_are_counted_from_the_injected_now(tls_ports, certs) -> None:
    later = datetime.now(UTC) + timedelta(days=85)
    result = run(target(tls_ports, certs, "good"), now=later)
    assert result.status is Status.CRITICAL
    assert "expires in 5 days" in result.message


def test_an_expired_certificate_is_critical_and_says_when_it_expired(tls_ports, certs) -> None:
    result = run(target(tls_ports, certs, "expired"), now=datetime(2020, 3, 11, tzinfo=UTC))
    assert result.status is Status.CRITICAL
    assert result.message.startswith(
        "certificate for localhost expired 10 days ago (2020-03-01 00:00 UTC)"
    )
    assert result.metrics["cert_expiry_days"] == pytest.approx(-10)


def test_a_self_signed_certificate_fails_the_chain_check(tls_ports, certs) -> None:
    result = run(target(tls_ports, certs, "selfsigned"))
    assert result.status is Status.CRITICAL
    assert "chain not trusted: self-signed certificate" in result.message
    assert "expires in 90 days" in result.message  # the expiry is still reported


def test_a_certificate_for_another_name_fails_the_hostname_check(tls_ports, certs) -> None:
    result = run(target(tls_ports, certs, "good", server_name="db.example.net"))
    assert result.status is Status.CRITICAL
    assert "name mismatch" in result.message
    assert "db.example.net" in result.message


def test_checks_can_be_relaxed_to_expiry_only(tls_ports, certs) -> None:
    relaxed = target(tls_ports, certs, "selfsigned", verify_chain=False)
    assert run(relaxed).status is Status.OK
    other_name = target(tls_ports, certs, "good", server_name="db.example.net",
                        verify_hostname=False)
    assert run(other_name).status is Status.OK


def test_a_refused_port_is_critical(refused_port: int) -> None:
    result = run({"host": "127.0.0.1", "port": refused_port})
    assert result.status is Status.CRITICAL
    assert result.message == f"127.0.0.1:{refused_port}: connection refused"


def test_a_port_that_does_not_speak_tls_is_critical(http_target) -> None:
    result = run({"host": "127.0.0.1", "port": http_target.port, "timeout": 3})
    assert result.status is Status.CRITICAL
    assert "TLS error" in result.message


def test_a_server_that_never_completes_the_handshake_times_out(tcp_targets) -> None:
    result = run({"host": "127.0.0.1", "port": tcp_targets.silent_port, "timeout": 0.3})
    assert result.status is Status.CRITICAL
    assert "no TLS handshake within 0.3 s" in result.message


def test_an_unresolvable_host_is_critical() -> None:
    result = run({"host": "no-such-host.invalid", "port": 443, "timeout": 5})
    assert result.status is Status.CRITICAL
    assert "cannot resolve the host name" in result.message


# --- the DER reader ---------------------------------------------------------------------------


def _openssl_dates(path) -> tuple[datetime, datetime]:
    out = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-startdate",
                          "-enddate"], capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.strip().splitlines())
    fmt = "%b %d %H:%M:%S %Y %Z"
    return (datetime.strptime(values["notBefore"], fmt).replace(tzinfo=UTC),
            datetime.strptime(values["notAfter"], fmt).replace(tzinfo=UTC))


@pytest.mark.parametrize("name", ["good", "short", "expired", "selfsigned"])
def test_the_der_reader_agrees_with_openssl(certs, name: str) -> None:
    cert_path, _key = certs.pair(name)
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    info = parse_certificate(der)
    assert (info.not_before, info.not_after) == _openssl_dates(cert_path)
    assert info.subject_cn == "localhost"
    expected_issuer = "localhost" if name == "selfsigned" else "DutyDesk Test CA"
    assert info.issuer_cn == expected_issuer


@pytest.mark.parametrize("garbage", [b"", b"\x30", b"\x30\x82\xff\xff", b"not a certificate"])
def test_the_der_reader_rejects_garbage(garbage: bytes) -> None:
    with pytest.raises(CertificateParseError):
        parse_certificate(garbage)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "host is required"),
        ({"host": "https://example.org"}, "host must be a bare host name"),
        ({"host": "x", "port": 0}, "port must be between 1 and 65535, got 0"),
        ({"host": "x", "warn_days": 5, "crit_days": 10}, "crit_days must not exceed warn_days"),
        ({"host": "x", "crit_days": -1}, "crit_days must be between 0 and 3650 days, got -1"),
    ],
)
def test_bad_specs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        TlsSpec.from_dict(data)


def test_a_missing_ca_file_is_unknown_not_a_target_failure(tls_ports, certs, tmp_path) -> None:
    result = run(target(tls_ports, certs, "good", ca_file=str(tmp_path / "nope.pem")))
    assert result.status is Status.UNKNOWN
    assert result.message.startswith(f"cannot load ca_file '{tmp_path / 'nope.pem'}'")
