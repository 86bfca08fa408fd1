"""Nagios plugin probe with real scripts (and Debian's monitoring-plugins when installed).

The scripts live in a plugin directory as an operator keeps one (root-owned, readable by all);
when the tests run as root the plugins run as ``nobody``, as in production."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.probes import ProbeContext
from checks.probes.plugin import PluginSpec, probe
from checks.result import Status
from checks.specs import SpecError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NAGIOS_PLUGINS = Path("/usr/lib/nagios/plugins")


@pytest.fixture
def plugin_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dutydesk-plugins-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory any user may write to (pid files of plugins running as nobody)."""
    path = Path(tempfile.mkdtemp(prefix="dutydesk-scratch-"))
    path.chmod(0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def script(plugin_dir: Path, name: str, body: str) -> str:
    """Install a plugin script; returns the name a check uses for it."""
    path = plugin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return name


def ctx_for(plugin_dir: Path) -> ProbeContext:
    return ProbeContext(plugin_dirs=(str(plugin_dir),))


def run(command, plugin_dir: Path | None = None, timeout: float = 10,
        ctx: ProbeContext | None = None, env: dict | None = None):
    spec = PluginSpec.from_dict({"command": command, "timeout": timeout, "env": env or {}})
    if ctx is None and plugin_dir is not None:
        ctx = ctx_for(plugin_dir)
    return asyncio.run(probe(spec, NOW, ctx))


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, Status.OK), (1, Status.WARNING), (2, Status.CRITICAL), (3, Status.UNKNOWN)],
)
def test_exit_codes_map_to_statuses(plugin_dir: Path, code: int, status: Status) -> None:
    path = script(plugin_dir, "check_x", f'echo "UPS {status.name} - on mains"\nexit {code}\n')
    result = run([path], plugin_dir)
    assert result.status is status
    assert result.message == f"UPS {status.name} - on mains"


def test_an_exit_code_outside_0_to_3_is_unknown_and_says_so(plugin_dir: Path) -> None:
    path = script(plugin_dir, "check_x", 'echo "something odd"\nexit 7\n')
    result = run([path], plugin_dir)
    assert result.status is Status.UNKNOWN
    assert result.message == "plugin exited with code 7 (not 0-3): something odd"


def test_first_line_is_the_message_and_perfdata_becomes_metrics(plugin_dir: Path) -> None:
    path = script(plugin_dir, "check_ups", (
        "echo \"UPS WARNING - on battery, 42 min left | 'battery minutes'=42min;30:;10: "
        "load=61%;80;90;0;100\"\n"
        "echo 'Input voltage 0 V'\n"
        "echo 'Output voltage 229 V | out_volts=229V'\n"
        "exit 1\n"
    ))
    result = run([path], plugin_dir)
    assert result.status is Status.WARNING
    assert result.message == "UPS WARNING - on battery, 42 min left"
    assert result.metrics == {"battery minutes": 42.0, "load": 61.0, "out_volts": 229.0}
    assert [p.label for p in result.perfdata] == ["battery minutes", "load", "out_volts"]
    assert result.perfdata[0].warn == "30:"
    assert result.perfdata[1].max == 100.0


def test_arguments_are_passed_without_a_shell(plugin_dir: Path) -> None:
    path = script(plugin_dir, "check_args", 'echo "args: $1 / $2"\nexit 0\n')
    result = run([path, "two words", "$(rm -rf /)"], plugin_dir)
    assert result.message == "args: two words / $(rm -rf /)"


def test_a_command_line_string_is_split_like_a_shell_would_but_not_run_by_one(
    plugin_dir: Path,
) -> None:
    path = script(plugin_dir, "check_args", 'echo "args: $1 / $2"\nexit 0\n')
    assert run(f"{path} 'two words' ';ls'", plugin_dir).message == "args: two words / ;ls"


def test_a_plugin_gets_its_spec_env_but_not_the_workers_secrets(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUTYDESK_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("PGPASSWORD", "do-not-leak-either")
    monkeypatch.setenv("LANG", "C.UTF-8")
    out = _env_of_plugin(plugin_dir, env={"SNMP_COMMUNITY": "public"})
    assert "SNMP_COMMUNITY=public" in out.splitlines()
    assert "LANG=C.UTF-8" in out.splitlines()
    assert "do-not-leak" not in out
    # only the basics and the check's own env (sh adds PWD, SHLVL and _ itself)
    assert {line.split("=", 1)[0] for line in out.splitlines()} <= {
        "PATH", "LANG", "HOME", "SNMP_COMMUNITY", "PWD", "SHLVL", "_"}


def _env_of_plugin(plugin_dir: Path, env: dict) -> str:
    """What ``env`` prints inside a plugin, one variable a line (joined into the message)."""
    script(plugin_dir, "check_dump_env", 'env | sort | tr "\\n" " "\n')
    return run(["check_dump_env"], plugin_dir, env=env).message.replace(" ", "\n")


def test_a_check_may_not_set_dutydesk_variables_for_its_plugin() -> None:
    with pytest.raises(SpecError, match="env must not set DUTYDESK_"):
        PluginSpec.from_dict({"command": ["check_x"], "env": {"DUTYDESK_SECRET_KEY": "x"}})


def test_a_missing_plugin_is_unknown_and_names_the_plugin_dirs(plugin_dir: Path) -> None:
    result = run(["check_nothing"], plugin_dir)
    assert result.status is Status.UNKNOWN
    assert result.message == (f"plugin 'check_nothing' not found in the plugin directories "
                              f"({plugin_dir})")


def test_a_plugin_name_is_searched_in_the_plugin_dirs_in_order(
    plugin_dir: Path, scratch: Path
) -> None:
    script(plugin_dir, "check_local", 'echo "FIRST"\n')
    (scratch / "check_local").write_text("#!/bin/sh\necho SECOND\n")
    (scratch / "check_local").chmod(0o755)
    ctx = ProbeContext(plugin_dirs=(str(plugin_dir), str(scratch)))
    assert run(["check_local"], ctx=ctx).message == "FIRST"


@pytest.mark.parametrize(
    "command",
    [["/bin/sh", "-c", "id"], ["../../bin/sh"], ["./check_x"], [".hidden"],
     ["check x"], ["/usr/lib/nagios/plugins/check_dummy", "0"]],
)
def test_a_plugin_check_names_a_plugin_never_a_path_or_a_shell(command: list) -> None:
    with pytest.raises(SpecError, match="must start with the name of a plugin"):
        PluginSpec.from_dict({"command": command})


def test_a_program_outside_the_plugin_dirs_is_never_run(plugin_dir: Path) -> None:
    # "sh" is on PATH, but PATH is not a plugin directory
    result = run(["sh", "-c", "echo pwned"], plugin_dir)
    assert result.status is Status.UNKNOWN
    assert "not found in the plugin directories" in result.message


def test_a_symlink_leading_out_of_the_plugin_dir_is_refused(plugin_dir: Path) -> None:
    (plugin_dir / "check_shell").symlink_to("/bin/sh")
    result = run(["check_shell", "-c", "echo pwned"], plugin_dir)
    assert result.status is Status.UNKNOWN
    assert result.message.startswith(f"plugin 'check_shell' in {plugin_dir} leads outside")


def test_a_symlink_inside_the_plugin_dir_is_followed(plugin_dir: Path) -> None:
    script(plugin_dir, "check_real", 'echo "REAL OK"\n')
    (plugin_dir / "check_alias").symlink_to(plugin_dir / "check_real")
    assert run(["check_alias"], plugin_dir).message == "REAL OK"


def test_a_plugin_that_is_not_executable_is_unknown(plugin_dir: Path) -> None:
    path = plugin_dir / "check_noexec"
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(0o644)  # even root cannot exec a file without any x bit
    result = run(["check_noexec"], plugin_dir)
    assert result.status is Status.UNKNOWN
    assert result.message == f"plugin is not executable: {path}"


def test_a_plugin_printing_binary_garbage_is_unknown(plugin_dir: Path) -> None:
    path = script(plugin_dir, "check_garbage", "head -c 300 /dev/urandom\nprintf '\\000'\nexit 0\n")
    result = run([path], plugin_dir)
    assert result.status is Status.UNKNOWN
    assert result.message.startswith("plugin printed unreadable output (")


def test_a_plugin_printing_nothing_keeps_its_status_and_says_so(plugin_dir: Path) -> None:
    path = script(plugin_dir, "check_quiet", "echo 'disk on fire' >&2\nexit 2\n")
    result = run([path], plugin_dir)
    assert result.status is Status.CRITICAL
    assert result.message == "(plugin printed nothing; stderr: disk on fire)"


def test_bad_perfdata_is_ignored_and_mentioned(plugin_dir: Path) -> None:
    path = script(plugin_dir, "check_perf", "echo 'OK | good=1 bad=abc'\nexit 0\n")
    result = run([path], plugin_dir)
    assert result.status is Status.OK
    assert result.metrics == {"good": 1.0}
    assert result.message == "OK [ignored bad perfdata: bad=abc]"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped by its parent


def test_a_hung_plugin_is_killed_with_its_children_and_reported_unknown(
    plugin_dir: Path, scratch: Path
) -> None:
    pid_file = scratch / "child.pid"
    path = script(plugin_dir, "check_hang", (
        f"sleep 300 &\necho $! > {pid_file}\n"
        "echo 'starting'\n"
        "sleep 300\n"
    ))
    result = run([path], plugin_dir, timeout=0.5)
    assert result.status is Status.UNKNOWN
    assert result.message == "plugin timed out after 0.5 s"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the plugin's background child survived the timeout"


def test_a_plugin_that_leaves_a_child_holding_its_output_still_reports(
    plugin_dir: Path, scratch: Path
) -> None:
    # the plugin exits at once, but a background child keeps stdout open; we must not wait
    # for the child (or the timeout), and the child must not outlive the check
    pid_file = scratch / "child.pid"
    path = script(plugin_dir, "check_daemon", (
        f"sleep 300 &\necho $! > {pid_file}\necho 'SERVICE OK - started helper'\nexit 0\n"
    ))
    result = run([path], plugin_dir, timeout=30)
    assert result.status is Status.OK
    assert result.message == "SERVICE OK - started helper"
    assert result.duration < 30
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_a_plugin_killed_by_a_signal_is_unknown(plugin_dir: Path) -> None:
    path = script(plugin_dir, "check_suicide", "echo 'about to die'\nkill -TERM $$\n")
    result = run([path], plugin_dir)
    assert result.status is Status.UNKNOWN
    assert result.message == "plugin was killed by signal SIGTERM"


def test_plugins_run_concurrently_without_blocking_each_other(plugin_dir: Path) -> None:
    quick = script(plugin_dir, "check_quick", "echo QUICK\n")
    slow = script(plugin_dir, "check_slow", "sleep 300\n")
    ctx = ctx_for(plugin_dir)

    async def both() -> list:
        return await asyncio.gather(
            probe(PluginSpec.from_dict({"command": [slow], "timeout": 1}), NOW, ctx),
            *(probe(PluginSpec.from_dict({"command": [quick]}), NOW, ctx) for _ in range(10)),
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


def test_the_long_output_and_whole_perfdata_are_kept(plugin_dir: Path) -> None:
    name = script(plugin_dir, "check_raid", (
        "echo \"RAID WARNING - 1 disk rebuilding | rebuild=37%;;;0;100\"\n"
        "echo 'md0: sda1 sdb1 [UU]'\n"
        "echo 'md1: sdc1 sdd1 [U_] rebuilding 37%'\n"
        "exit 1\n"
    ))
    result = run([name], plugin_dir)
    assert result.long_output == "md0: sda1 sdb1 [UU]\nmd1: sdc1 sdd1 [U_] rebuilding 37%"
    [rebuild] = result.perfdata
    assert rebuild.to_dict() == {"label": "rebuild", "value": 37.0, "uom": "%", "warn": None,
                                 "crit": None, "min": 0.0, "max": 100.0}
