"""ICMP ping probe against 127.0.0.1: system ping, ICMP datagram socket, and the judgement."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import checks
from checks.probes.ping import PingSpec, PingStats, judge_ping, parse_ping_output, probe
from checks.result import Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REPO = Path(checks.__file__).resolve().parent.parent


def icmp_socket_allowed() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
    except OSError:
        return False
    return True


def run(**fields):
    spec = PingSpec.from_dict({"host": "127.0.0.1", "count": 2, "interval": 0.2, **fields})
    return asyncio.run(probe(spec, NOW))


@pytest.mark.skipif(shutil.which("ping") is None, reason="iputils-ping not installed")
def test_the_system_ping_reaches_localhost() -> None:
    result = run(method="command")
    assert result.status is Status.OK, result.message
    assert result.message.startswith("127.0.0.1: 2/2 replies, 0% loss, rtt avg ")
    assert result.metrics["loss_percent"] == 0
    assert 0 < result.metrics["rtt_avg"] < 1  # seconds
    assert result.metrics["rtt_max"] >= result.metrics["rtt_avg"]


@pytest.mark.skipif(shutil.which("ping") is None, reason="iputils-ping not installed")
def test_the_system_ping_reports_a_name_that_does_not_resolve() -> None:
    result = run(method="command", host="no-such-host.invalid")
    assert result.status is Status.CRITICAL
    assert result.message.startswith("no-such-host.invalid: cannot resolve the host name")


def test_auto_uses_whatever_this_machine_allows() -> None:
    result = run()
    if not icmp_socket_allowed() and shutil.which("ping") is None:
        assert result.status is Status.UNKNOWN
        assert "no 'ping' command is installed" in result.message
    else:
        assert result.status is Status.OK, result.message


def test_a_name_that_does_not_resolve_is_critical() -> None:
    result = run(host="no-such-host.invalid")
    if result.status is Status.UNKNOWN:  # neither ICMP sockets nor ping: nothing to resolve with
        assert "cannot ping" in result.message
    else:
        assert result.status is Status.CRITICAL
        assert "cannot resolve the host name" in result.message


@pytest.mark.skipif(icmp_socket_allowed(), reason="ICMP sockets are allowed on this machine")
def test_socket_method_says_clearly_when_icmp_sockets_are_not_allowed() -> None:
    result = run(method="socket")
    assert result.status is Status.UNKNOWN
    assert result.message.startswith("cannot ping: unprivileged ICMP sockets are not allowed")
    assert "net.ipv4.ping_group_range" in result.message


@pytest.mark.skipif(icmp_socket_allowed(), reason="ICMP sockets are allowed on this machine")
def test_with_neither_icmp_sockets_nor_a_ping_command_the_result_says_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no ping command
    result = run()
    assert result.status is Status.UNKNOWN
    assert result.message.startswith("cannot ping: unprivileged ICMP sockets are not allowed")
    assert result.message.endswith(
        "and no 'ping' command is installed (apt-get install iputils-ping)"
    )


_IN_NAMESPACE = """
import asyncio, json
from datetime import datetime, timezone
from checks.probes.ping import PingSpec, probe
async def main():
    ok = await probe(PingSpec.from_dict({"host": "127.0.0.1", "count": 3, "interval": 0.2,
                                         "method": "socket"}), datetime.now(timezone.utc))
    gone = await probe(PingSpec.from_dict({"host": "192.0.2.1", "count": 1, "timeout": 0.3,
                                           "method": "socket"}), datetime.now(timezone.utc))
    return [[r.status.name, r.message, r.metrics] for r in (ok, gone)]
print(json.dumps(asyncio.run(main())))
"""


def test_icmp_datagram_socket_in_a_private_network_namespace() -> None:
    """ping_group_range is per network namespace: enable it in a throwaway one (needs root)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare/ip not available")
    shell = (
        "ip link set lo up && sysctl -qw net.ipv4.ping_group_range='0 2147483647' && "
        f"exec {sys.executable} -c \"$PROBE\""
    )
    completed = subprocess.run(
        ["unshare", "--net", "sh", "-c", shell], capture_output=True, text=True, timeout=60,
        cwd=REPO, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO),
                       "PROBE": _IN_NAMESPACE},
    )
    if completed.returncode != 0 and "unshare" in completed.stderr:
        pytest.skip(f"cannot create a network namespace here: {completed.stderr.strip()}")
    assert completed.returncode == 0, completed.stderr
    (ok_status, ok_message, ok_metrics), (gone_status, gone_message, _) = json.loads(
        completed.stdout
    )
    assert ok_status == "OK", ok_message
    assert ok_message.startswith("127.0.0.1: 3/3 replies, 0% loss")
    assert ok_metrics["received"] == 3
    # no routes at all in the namespace: the kernel refuses to send
    assert gone_status == "CRITICAL"
    assert gone_message == "192.0.2.1: network unreachable"


# --- judgement and parsing (pure) -------------------------------------------------------------


def stats(sent: int, rtts_ms: list[float]) -> PingStats:
    rtts = tuple(r / 1000 for r in rtts_ms)
    if not rtts:
        return PingStats(sent=sent, received=0, rtts=())
    return PingStats(sent=sent, received=len(rtts), rtts=rtts, rtt_min=min(rtts),
                     rtt_avg=sum(rtts) / len(rtts), rtt_max=max(rtts))


SPEC = PingSpec.from_dict({"host": "ups-a", "count": 5, "warn_rtt": "100ms", "crit_rtt": "500ms",
                           "warn_loss": 20, "crit_loss": 60})


@pytest.mark.parametrize(
    ("sample", "status", "reason"),
    [
        (stats(5, [1, 1, 1, 1, 1]), Status.OK, ""),
        (stats(5, [1, 1, 1, 1]), Status.WARNING, "loss warning at 20%"),  # 20 % lost
        (stats(5, [1, 1]), Status.CRITICAL, "loss critical at 60%"),  # 60 % lost
        (stats(5, [150, 150, 150, 150, 150]), Status.WARNING, "rtt warning at 100ms"),
        (stats(5, [600, 600, 600, 600, 600]), Status.CRITICAL, "rtt critical at 500ms"),
        (stats(5, [600, 1]), Status.CRITICAL, "loss critical"),  # loss is reported first
        (stats(5, []), Status.CRITICAL, "no reply, 100% loss (5 sent)"),
    ],
)
def test_judge_ping_applies_loss_and_rtt_thresholds(
    sample: PingStats, status: Status, reason: str
) -> None:
    got, message = judge_ping(SPEC, sample)
    assert got is status
    assert reason in message


IPUTILS_OK = """PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 407ms
rtt min/avg/max/mdev = 0.038/0.109/0.249/0.098 ms
"""
IPUTILS_LOSS = """PING 10.9.9.9 (10.9.9.9) 56(84) bytes of data.

--- 10.9.9.9 ping statistics ---
4 packets transmitted, 0 received, +4 errors, 100% packet loss, time 3060ms
"""
BUSYBOX_OK = """PING 10.0.0.1 (10.0.0.1): 56 data bytes

--- 10.0.0.1 ping statistics ---
2 packets transmitted, 2 packets received, 0% packet loss
round-trip min/avg/max = 0.512/0.600/0.688 ms
"""


def test_parse_ping_output_of_iputils_and_busybox() -> None:
    ok = parse_ping_output(IPUTILS_OK)
    assert (ok.sent, ok.received) == (3, 3)
    assert ok.rtt_avg == pytest.approx(0.000109)
    assert ok.rtt_max == pytest.approx(0.000249)
    lost = parse_ping_output(IPUTILS_LOSS)
    assert (lost.sent, lost.received, lost.loss_percent) == (4, 0, 100.0)
    busybox = parse_ping_output(BUSYBOX_OK)
    assert (busybox.received, busybox.rtt_min) == (2, pytest.approx(0.000512))
    with pytest.raises(ValueError):
        parse_ping_output("ping: unknown host")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "host is required for a ping check"),
        ({"host": "x", "count": 0}, "count must be between 1 and 20, got 0"),
        ({"host": "x", "interval": "10ms"}, "interval must be at least 200ms"),
        ({"host": "x", "warn_loss": 80, "crit_loss": 50}, "warn_loss must not exceed crit_loss"),
        ({"host": "x", "warn_rtt": "1s", "crit_rtt": "100ms"}, "warn_rtt must not exceed"),
        ({"host": "x", "method": "raw"}, "method must be one of auto, socket, command"),
        ({"host": "x", "crit_loss": 150}, "crit_loss must be between 0 and 100 %"),
    ],
)
def test_bad_specs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        PingSpec.from_dict(data)
