"""Nagios plugin probe with real scripts (and Debian's monitoring-plugins when installed)."""

from __future__ import annotations

import asyncio
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.probes import ProbeContext
from checks.probes.plugin import PluginSpec, probe
from checks.result import Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NAGIOS_PLUGINS = Path("/usr/lib/nagios/plugins")


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def run(command, timeout: float = 10, ctx: ProbeContext | None = None):
    spec = PluginSpec.from_dict({"command": command, "timeout": timeout})
    return asyncio.run(probe(spec, NOW, ctx))


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, Status.OK), (1, Status.WARNING), (2, Status.CRITICAL), (3, Status.UNKNOWN)],
)
def test_exit_codes_map_to_statuses(tmp_path: Path, code: int, status: Status) -> None:
    path = script(tmp_path, "check_x", f'echo "UPS {status.name} - on mains"\nexit {code}\n')
    result = run([path])
    assert result.status is status
    assert result.message == f"UPS {status.name} - on mains"


def test_an_exit_code_outside_0_to_3_is_unknown_and_says_so(tmp_path: Path) -> None:
    path = script(tmp_path, "check_x", 'echo "something odd"\nexit 7\n')
    result = run([path])
    assert result.status is Status.UNKNOWN
    assert result.message == "plugin exited with code 7 (not 0-3): something odd"


def test_first_line_is_the_message_and_perfdata_becomes_metrics(tmp_path: Path) -> None:
    path = script(tmp_path, "check_ups", (
        "echo \"UPS WARNING - on battery, 42 min left | 'battery minutes'=42min;30:;10: "
        "load=61%;80;90;0;100\"\n"
        "echo 'Input voltage 0 V'\n"
        "echo 'Output voltage 229 V | out_volts=229V'\n"
        "exit 1\n"
    ))
    result = run([path])
    assert result.status is Status.WARNING
    assert result.message == "UPS WARNING - on battery, 42 min left"
    assert result.metrics == {"battery minutes": 42.0, "load": 61.0, "out_volts": 229.0}
    assert [p.label for p in result.perfdata] == ["battery minutes", "load", "out_volts"]
    assert result.perfdata[0].warn == "30:"
    assert result.perfdata[1].max == 100.0


def test_arguments_are_passed_without_a_shell(tmp_path: Path) -> None:
    path = script(tmp_path, "check_args", 'echo "args: $1 / $2"\nexit 0\n')
    result = run([path, "two words", "$(rm -rf /)"])
    assert result.message == "args: two words / $(rm -rf /)"


def test_a_command_line_string_is_split_like_a_shell_would_but_not_run_by_one(
    tmp_path: Path,
) -> None:
    path = script(tmp_path, "check_args", 'echo "args: $1 / $2"\nexit 0\n')
    assert run(f"{path} 'two words' ';ls'").message == "args: two words / ;ls"


def test_a_plugin_gets_its_spec_env_but_not_the_workers_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUTYDESK_SECRET_KEY", "do-not-leak")
    path = script(tmp_path, "check_env",
                  'echo "community=$SNMP_COMMUNITY secret=${DUTYDESK_SECRET_KEY:-unset}"\n')
    spec = PluginSpec.from_dict({"command": [path], "env": {"SNMP_COMMUNITY": "public"}})
    result = asyncio.run(probe(spec, NOW))
    assert result.message == "community=public secret=unset"


def test_a_missing_plugin_is_unknown(tmp_path: Path) -> None:
    result = run([str(tmp_path / "check_nothing")])
    assert result.status is Status.UNKNOWN
    assert result.message == f"plugin not found: {tmp_path / 'check_nothing'}"


def test_a_plugin_name_is_searched_in_the_plugin_dirs(tmp_path: Path) -> None:
    script(tmp_path, "check_local", 'echo "LOCAL OK"\n')
    ctx = ProbeContext(plugin_dirs=(str(tmp_path),))
    assert run(["check_local"], ctx=ctx).message == "LOCAL OK"
    missing = run(["check_absent"], ctx=ctx)
    assert missing.status is Status.UNKNOWN
    assert missing.message == f"plugin 'check_absent' not found in {tmp_path} or PATH"


def test_a_plugin_that_is_not_executable_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "check_noexec"
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(0o644)  # even root cannot exec a file without any x bit
    result = run([str(path)])
    assert result.status is Status.UNKNOWN
    assert result.message == f"plugin is not executable: {path}"


def test_a_plugin_printing_binary_garbage_is_unknown(tmp_path: Path) -> None:
    path = script(tmp_path, "check_garbage", "head -c 300 /dev/urandom\nprintf '\\000'\nexit 0\n")
    result = run([path])
    assert result.status is Status.UNKNOWN
    assert result.message.startswith("plugin printed unreadable output (")


def test_a_plugin_printing_nothing_keeps_its_status_and_says_so(tmp_path: Path) -> None:
    path = script(tmp_path, "check_quiet", "echo 'disk on fire' >&2\nexit 2\n")
    result = run([path])
    assert result.status is Status.CRITICAL
    assert result.message == "(plugin printed nothing; stderr: disk on fire)"


def test_bad_perfdata_is_ignored_and_mentioned(tmp_path: Path) -> None:
    path = script(tmp_path, "check_perf", "echo 'OK | good=1 bad=abc'\nexit 0\n")
    result = run([path])
    assert result.status is Status.OK
    assert result.metrics == {"good": 1.0}
    assert result.message == "OK [ignored bad perfdata: bad=abc]"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its parent


def test_a_hung_plugin_is_killed_with_its_children_and_reported_unknown(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    path = script(tmp_path, "check_hang", (
        f"sleep 300 &\necho $! > {pid_file}\n"
        "echo 'starting'\n"
        "sleep 300\n"
    ))
    result = run([path], timeout=0.5)
    assert result.status is Status.UNKNOWN
    assert result.message == "plugin timed out after 0.5 s"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the plugin's background child survived the timeout"


def test_a_plugin_that_leaves_a_child_holding_its_output_still_reports(tmp_path: Path) -> None:
    # the plugin exits at once, but a background child keeps stdout open; we must not wait
    # for the child (or the timeout), and the child must not outlive the check
    pid_file = tmp_path / "child.pid"
    path = script(tmp_path, "check_daemon", (
        f"sleep 300 &\necho $! > {pid_file}\necho 'SERVICE OK - started helper'\nexit 0\n"
    ))
    result = run([path], timeout=30)
    assert result.status is Status.OK
    assert result.message == "SERVICE OK - started helper"
    assert result.duration < 30
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_a_plugin_killed_by_a_signal_is_unknown(tmp_path: Path) -> None:
    path = script(tmp_path, "check_suicide", "echo 'about to die'\nkill -TERM $$\n")
    result = run([path])
    assert result.status is Status.UNKNOWN
    assert result.message == "plugin was killed by signal SIGTERM"


def test_plugins_run_concurrently_without_blocking_each_other(tmp_path: Path) -> None:
    quick = script(tmp_path, "check_quick", "echo QUICK\n")
    slow = script(tmp_path, "check_slow", "sleep 300\n")

    async def both() -> list:
        return await asyncio.gather(
            probe(PluginSpec.from_dict({"command": [slow], "timeout": 1}), NOW),
            *(probe(PluginSpec.from_dict({"command": [quick]}), NOW) for _ in range(10)),
        )

    results = asyncio.run(both())
    assert results[0].message == "plugin timed out after 1 s"
    assert {r.message for r in results[1:]} == {"QUICK"}


# --- Debian's monitoring-plugins (apt-get install monitoring-plugins-basic) -------------------

needs_plugins = pytest.mark.skipif(
    not (NAGIOS_PLUGINS / "check_dummy").exists(), reason="monitoring-plugins-basic not installed"
)


@needs_plugins
def test_check_dummy_from_monitoring_plugins() -> None:
    result = run(["check_dummy", "1", "UPS on battery"])  # found in /usr/lib/nagios/plugins
    assert result.status is Status.WARNING
    assert result.message == "WARNING: UPS on battery"


@needs_plugins
def test_check_tcp_from_monitoring_plugins(tcp_targets, refused_port: int) -> None:
    ok = run(["check_tcp", "-H", "127.0.0.1", "-p", str(tcp_targets.banner_port)])
    assert ok.status is Status.OK, ok.message
    assert "time" in ok.metrics
    refused = run(["check_tcp", "-H", "127.0.0.1", "-p", str(refused_port)])
    assert refused.status is Status.CRITICAL
    assert "refused" in refused.message.lower()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "command is required for a plugin check"),
        ({"command": []}, "command must name a program"),
        ({"command": {"x": 1}}, "command must be a list of arguments"),
        ({"command": "check_x 'unclosed"}, "command cannot be split into arguments"),
        ({"command": ["check_x"], "timeout": 0}, "timeout must be at least 100ms"),
        ({"command": ["check_x"], "env": {"A": ["b"]}}, "env must be a mapping"),
    ],
)
def test_bad_specs_are_rejected(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        PluginSpec.from_dict(data)


def test_the_long_output_and_whole_perfdata_are_kept(tmp_path: Path) -> None:
    path = script(tmp_path, "check_raid", (
        "echo \"RAID WARNING - 1 disk rebuilding | rebuild=37%;;;0;100\"\n"
        "echo 'md0: sda1 sdb1 [UU]'\n"
        "echo 'md1: sdc1 sdd1 [U_] rebuilding 37%'\n"
        "exit 1\n"
    ))
    result = run([path])
    assert result.long_output == "md0: sda1 sdb1 [UU]\nmd1: sdc1 sdd1 [U_] rebuilding 37%"
    [rebuild] = result.perfdata
    assert rebuild.to_dict() == {"label": "rebuild", "value": 37.0, "uom": "%", "warn": None,
                                 "crit": None, "min": 0.0, "max": 100.0}
