"""TCP connect probe against servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from checks.probes.tcp import TcpSpec, probe
from checks.result import Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def run(spec: dict):
    return asyncio.run(probe(TcpSpec.from_dict(spec), NOW))


def test_an_open_port_is_ok_with_connect_time(tcp_targets) -> None:
    result = run({"host": "127.0.0.1", "port": tcp_targets.banner_port})
    assert result.status is Status.OK
    assert result.message.startswith(f"127.0.0.1:{tcp_targets.banner_port}: connected in ")
    assert result.metrics["connect_time"] > 0
    assert result.started_at == NOW


def test_a_refused_port_is_critical(refused_port: int) -> None:
    result = run({"host": "127.0.0.1", "port": refused_port})
    assert result.status is Status.CRITICAL
    assert result.message == f"127.0.0.1:{refused_port}: connection refused"
    assert "connect_time" not in result.metrics


def test_an_expected_banner_is_ok(tcp_targets) -> None:
    result = run({"host": "127.0.0.1", "port": tcp_targets.banner_port, "expect": "SSH-2.0"})
    assert result.status is Status.OK
    assert result.message.endswith("got 'SSH-2.0'")


def test_a_wrong_banner_is_critical_and_shows_what_came(tcp_targets) -> None:
    # the server sends its banner and then waits for a line: the probe judges after it goes quiet
    result = run({"host": "127.0.0.1", "port": tcp_targets.banner_port, "expect": "220 FTP",
                  "timeout": 10})
    assert result.status is Status.CRITICAL
    assert "expected '220 FTP', got 'SSH-2.0-DutyDeskTest\\r\\n'" in result.message


def test_send_then_expect_an_answer(tcp_targets) -> None:
    result = run({"host": "127.0.0.1", "port": tcp_targets.banner_port,
                  "send": "PING\r\n", "expect": "PONG"})
    assert result.status is Status.OK, result.message
    assert "response_time" in result.metrics


def test_a_silent_server_times_out_waiting_for_the_banner(tcp_targets) -> None:
    result = run({"host": "127.0.0.1", "port": tcp_targets.silent_port, "expect": "220",
                  "timeout": 0.3})
    assert result.status is Status.CRITICAL
    assert result.message == (
        f"127.0.0.1:{tcp_targets.silent_port}: connected, but '220' did not arrive within 0.3 s"
    )
    assert "connect_time" in result.metrics


def test_connect_time_thresholds(tcp_targets) -> None:
    # every connect takes at least 0 s, and no loopback connect takes an hour
    slow = run({"host": "127.0.0.1", "port": tcp_targets.banner_port, "warn_connect_time": 0})
    assert slow.status is Status.WARNING
    assert "slower than" in slow.message
    fine = run({"host": "127.0.0.1", "port": tcp_targets.banner_port,
                "warn_connect_time": "1h", "crit_connect_time": "2h"})
    assert fine.status is Status.OK


def test_an_unresolvable_host_is_critical() -> None:
    result = run({"host": "no-such-host.invalid", "port": 22, "timeout": 5})
    assert result.status is Status.CRITICAL
    assert "cannot resolve the host name" in result.message


def test_many_concurrent_connects_all_succeed(tcp_targets) -> None:
    async def many() -> list:
        spec = TcpSpec.from_dict({"host": "127.0.0.1", "port": tcp_targets.banner_port})
        return await asyncio.gather(*(probe(spec, NOW) for _ in range(100)))

    assert {r.status for r in asyncio.run(many())} == {Status.OK}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"host": "10.0.0.1"}, "port is required for a tcp check"),
        ({"host": "10.0.0.1", "port": 70000}, "port must be between 1 and 65535, got 70000"),
        ({"host": "10.0.0.1", "port": "22"}, "port must be a whole number, got '22'"),
        ({"host": "10.0.0.1 ", "port": 22}, "host must be a bare host name"),
        ({"host": "10.0.0.1", "port": 22, "expect": ""}, "expect must not be empty"),
        ({"host": "10.0.0.1", "port": 22, "warn_connect_time": 2, "crit_connect_time": 1},
         "warn_connect_time must not exceed crit_connect_time"),
    ],
)
def test_bad_specs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        TcpSpec.from_dict(data)


def test_spec_round_trips_through_a_dict() -> None:
    spec = TcpSpec.from_dict({"host": "db1", "port": 5432, "send": "x", "expect": "y",
                              "timeout": "3s"})
    assert TcpSpec.from_dict(spec.to_dict()) == spec
