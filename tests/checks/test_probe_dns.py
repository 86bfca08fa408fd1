"""DNS probe against a tiny DNS server on 127.0.0.1 that answers from a zone dict (conftest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from checks.probes.dns import DnsSpec, normalize_answer, probe
from checks.result import Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def run(dns_port: int, **fields):
    spec = DnsSpec.from_dict({"server": "127.0.0.1", "port": dns_port, "timeout": 2, **fields})
    return asyncio.run(probe(spec, NOW))


def test_an_a_record_resolves_and_lists_the_answers(dns_port: int) -> None:
    result = run(dns_port, name="db.test")
    assert result.status is Status.OK
    assert result.message.startswith("A db.test = 10.0.0.5, 10.0.0.6 (")
    assert result.metrics["answers"] == 2
    assert result.metrics["response_time"] > 0


def test_expected_answers_must_all_be_present(dns_port: int) -> None:
    assert run(dns_port, name="db.test", expected=["10.0.0.6"]).ok
    result = run(dns_port, name="db.test", expected=["10.0.0.6", "10.0.0.7"])
    assert result.status is Status.CRITICAL
    assert result.message == "A db.test: expected 10.0.0.7, got 10.0.0.5, 10.0.0.6"


def test_exact_demands_the_same_set_of_answers(dns_port: int) -> None:
    assert run(dns_port, name="db.test", expected=["10.0.0.6", "10.0.0.5"], exact=True).ok
    result = run(dns_port, name="db.test", expected=["10.0.0.5"], exact=True)
    assert result.status is Status.CRITICAL
    assert result.message == "A db.test: unexpected 10.0.0.6 (expected exactly 10.0.0.5)"


@pytest.mark.parametrize(
    ("name", "record_type", "expected"),
    [
        ("db.test", "AAAA", "fd00::5"),
        ("mail.test", "MX", "10 MX1.test"),  # case and trailing dot do not matter
        ("txt.test", "TXT", "v=spf1 -all"),  # TXT compared without quotes
        ("alias.test", "CNAME", "db.test."),
    ],
)
def test_other_record_types(dns_port: int, name: str, record_type: str, expected: str) -> None:
    result = run(dns_port, name=name, record_type=record_type, expected=[expected])
    assert result.status is Status.OK, result.message


def test_a_name_that_does_not_exist_is_critical(dns_port: int) -> None:
    result = run(dns_port, name="nothing-here.invalid")
    assert result.status is Status.CRITICAL
    assert result.message == (
        f"nothing-here.invalid does not exist (NXDOMAIN) at 127.0.0.1:{dns_port}"
    )


def test_a_name_without_that_record_type_is_critical(dns_port: int) -> None:
    result = run(dns_port, name="mail.test", record_type="A")
    assert result.status is Status.CRITICAL
    assert result.message == f"no A record for mail.test at 127.0.0.1:{dns_port}"


def test_a_server_that_does_not_answer_times_out(dns_port: int) -> None:
    result = run(dns_port, name="slow.test", timeout=0.3)
    assert result.status is Status.CRITICAL
    assert result.message == f"A slow.test: no answer from 127.0.0.1:{dns_port} within 0.3 s"


def test_a_server_failure_is_critical_with_the_rcode(dns_port: int) -> None:
    result = run(dns_port, name="broken.test")
    assert result.status is Status.CRITICAL
    assert result.message == f"A broken.test: 127.0.0.1:{dns_port} failed to answer (SERVFAIL)"


def test_a_port_where_no_dns_server_listens_is_critical(refused_port: int) -> None:
    result = run(refused_port, name="db.test", timeout=0.5)
    assert result.status is Status.CRITICAL
    assert f"127.0.0.1:{refused_port}" in result.message


def test_many_concurrent_lookups(dns_port: int) -> None:
    async def many() -> list:
        spec = DnsSpec.from_dict({"name": "db.test", "server": "127.0.0.1", "port": dns_port,
                                  "expected": ["10.0.0.5"]})
        return await asyncio.gather(*(probe(spec, NOW) for _ in range(50)))

    assert {r.status for r in asyncio.run(many())} == {Status.OK}


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("DB.Test.", "db.test"), ('"v=spf1 -all"', "v=spf1 -all"), ("10.0.0.5", "10.0.0.5")],
)
def test_answers_are_compared_in_a_normal_form(raw: str, normal: str) -> None:
    assert normalize_answer(raw) == normal


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "name is required for a dns check"),
        ({"name": "db.test", "record_type": "XYZ"}, "record_type must be one of A, AAAA"),
        ({"name": "db.test", "server": "dns.example.org"}, "server must be the IP address"),
        ({"name": "a" * 64 + ".test"}, "name is not a valid DNS name"),
        ({"name": "db.test", "exact": True}, "exact needs a list of expected answers"),
        ({"name": "db.test", "expected": [1]}, "expected must be a list of texts"),
    ],
)
def test_bad_specs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        DnsSpec.from_dict(data)


def test_record_type_is_case_insensitive_and_the_spec_round_trips() -> None:
    spec = DnsSpec.from_dict({"name": "db.test", "record_type": "aaaa", "expected": "fd00::5"})
    assert spec.record_type == "AAAA"
    assert spec.expected == ("fd00::5",)
    assert DnsSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("expected", ["FD00:0:0::5", "fd00:0000::0005"])
def test_aaaa_answers_are_compared_as_addresses_not_text(dns_port: int, expected: str) -> None:
    result = run(dns_port, name="db.test", record_type="AAAA", expected=[expected], exact=True)
    assert result.status is Status.OK, result.message


@pytest.mark.parametrize(
    ("raw", "record_type", "normal"),
    [("2001:DB8:0::10", "AAAA", "2001:db8::10"), ("10.0.0.5", "A", "10.0.0.5"),
     ("DB.Test.", "CNAME", "db.test")],
)
def test_addresses_have_one_normal_form(raw: str, record_type: str, normal: str) -> None:
    assert normalize_answer(raw, record_type) == normal


@pytest.mark.parametrize(
    ("record_type", "expected", "says"),
    [("AAAA", "10.0.0.5", "is not an IPv6 address"), ("A", "fd00::5", "is not an IPv4 address"),
     ("A", "db.test", "is not an IPv4 address")],
)
def test_an_expected_address_of_the_wrong_kind_is_refused(
    record_type: str, expected: str, says: str
) -> None:
    with pytest.raises(SpecError, match=says):
        DnsSpec.from_dict({"name": "db.test", "record_type": record_type,
                           "expected": [expected]})
