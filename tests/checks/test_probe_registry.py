"""The check-type registry and run_probe: hard timeouts and no exception ever escapes."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from checks.probes import CHECK_TYPES, ProbeContext, build_spec, run_probe
from checks.probes.http import HttpSpec
from checks.result import Result, Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_every_active_type_has_a_spec_class_and_a_probe() -> None:
    assert set(CHECK_TYPES) >= {"http", "tcp", "ping", "dns", "tls", "plugin", "prometheus",
                                "heartbeat"}
    for name, check_type in CHECK_TYPES.items():
        assert check_type.name == name
        assert hasattr(check_type.spec_class, "from_dict")
    assert CHECK_TYPES["heartbeat"].passive
    assert not CHECK_TYPES["http"].passive


def test_build_spec_validates_by_type_name() -> None:
    assert build_spec("tcp", {"host": "10.0.0.1", "port": 22}).port == 22
    with pytest.raises(SpecError, match="type must be one of dns, heartbeat, http"):
        build_spec("smtp", {})
    with pytest.raises(SpecError, match="port is required"):
        build_spec("tcp", {"host": "10.0.0.1"})


def test_run_probe_enforces_its_hard_timeout(http_target) -> None:
    # the spec allows 30 s, the engine only 0.3 s: the engine wins
    spec = build_spec("http", {"url": http_target.url("/hang"), "timeout": 30})
    result = asyncio.run(run_probe("http", spec, NOW, timeout=0.3))
    assert result.status is Status.UNKNOWN
    assert result.message == "probe timed out after 0.3 s"
    assert result.started_at == NOW
    assert result.duration >= 0.3


def test_run_probe_turns_a_probe_bug_into_unknown(http_target) -> None:
    # a spec built by hand around validation, holding text where parsed conditions belong
    broken = HttpSpec(url=http_target.url("/ok"), conditions=("status == 200",))  # type: ignore[arg-type]
    result = asyncio.run(run_probe("http", broken, NOW, timeout=5))
    assert result.status is Status.UNKNOWN
    assert result.message.startswith("probe failed unexpectedly: AttributeError: ")


def test_run_probe_rejects_unknown_and_passive_types_and_wrong_specs() -> None:
    tcp_spec = build_spec("tcp", {"host": "127.0.0.1", "port": 22})
    unknown = asyncio.run(run_probe("smtp", tcp_spec, NOW, timeout=1))
    assert (unknown.status, unknown.message) == (Status.UNKNOWN, "unknown check type 'smtp'")
    passive = asyncio.run(run_probe("heartbeat", build_spec("heartbeat", {"period": "5m"}), NOW,
                                    timeout=1))
    assert passive.status is Status.UNKNOWN
    assert "passive" in passive.message
    wrong = asyncio.run(run_probe("http", tcp_spec, NOW, timeout=1))
    assert wrong.message == "http check got a TcpSpec, expected a HttpSpec"


def test_one_hanging_check_does_not_hold_up_the_others(http_target, tcp_targets) -> None:
    async def engine_round() -> list[Result]:
        async with ProbeContext() as ctx:
            jobs = [
                run_probe("http", build_spec("http", {"url": http_target.url("/hang")}), NOW,
                          timeout=0.5, ctx=ctx),
                run_probe("http", build_spec("http", {"url": http_target.url("/ok")}), NOW,
                          timeout=5, ctx=ctx),
                run_probe("tcp", build_spec("tcp", {"host": "127.0.0.1",
                                                    "port": tcp_targets.banner_port}), NOW,
                          timeout=5, ctx=ctx),
                run_probe("http", build_spec("http", {"url": "http://no-such-host.invalid/"}),
                          NOW, timeout=5, ctx=ctx),
            ]
            return await asyncio.gather(*jobs)

    hang, ok, tcp, nxdomain = asyncio.run(engine_round())
    assert hang.status is Status.UNKNOWN
    assert ok.status is Status.OK
    assert tcp.status is Status.OK
    assert nxdomain.status is Status.CRITICAL


def test_the_engine_timeout_also_kills_a_plugin_and_its_children() -> None:
    # a plugin directory anyone may read (plugins run as nobody when the tests run as root)
    top = Path(tempfile.mkdtemp(prefix="dutydesk-plugins-"))
    top.chmod(0o755)
    plugins = top / "plugins"
    plugins.mkdir(mode=0o755)
    scratch = top / "scratch"
    scratch.mkdir()
    scratch.chmod(0o1777)
    pid_file = scratch / "child.pid"
    plugin = plugins / "check_stuck"
    plugin.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nsleep 300\n")
    plugin.chmod(0o755)
    spec = build_spec("plugin", {"command": ["check_stuck"], "timeout": 60})

    async def go() -> Any:
        async with ProbeContext(plugin_dirs=(str(plugins),)) as ctx:
            return await run_probe("plugin", spec, NOW, timeout=0.5, ctx=ctx)

    result = asyncio.run(go())
    assert result.message == "probe timed out after 0.5 s"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the plugin's child survived the engine's timeout"
    shutil.rmtree(top, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
