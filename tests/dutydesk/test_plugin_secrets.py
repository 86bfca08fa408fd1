"""A plugin cannot read the service's secrets: not in its environment, not in the worker's
``/proc/<pid>/environ``, not in the secret key file. A real worker-like process is started with
the secret in its environment, loads its settings the way the CLI does, then runs a plugin that
tries every one of these."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dutydesk.core.config import forget_secret_environment, load_settings

SECRET = "s3cret-" + "k" * 40
ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent("""
    import asyncio, os
    from datetime import UTC, datetime
    import click
    from checks.probes import ProbeContext
    from checks.probes.plugin import PluginSpec, probe
    from dutydesk.cli import _settings

    with click.Context(click.Command("worker")):
        settings = _settings()  # what every dutydesk command does first
    print("KEY LOADED:", settings.secret_key == os.environ.get("EXPECTED_KEY_CHECK", "") or
          len(settings.secret_key) > 40)
    print("KEY IN OUR ENVIRON:", "DUTYDESK_SECRET_KEY" in os.environ)
    ctx = ProbeContext(plugin_dirs=settings.plugin_dirs, plugin_user=settings.plugin_user)
    spec = PluginSpec.from_dict({"command": ["check_steal", os.environ["KEY_FILE"]]})
    print("PLUGIN SAID:", asyncio.run(probe(spec, datetime.now(UTC), ctx)).message)
""")

STEAL = """#!/bin/sh
env_seen=$(env | tr '\\n' ' ')
proc_seen=$( (tr '\\0' ' ' < /proc/$PPID/environ) 2>&1)
file_seen=$( (cat "$1") 2>&1)
echo "ENV[$env_seen] PROC[$proc_seen] FILE[$file_seen]"
"""


@pytest.fixture
def plugin_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dutydesk-plugins-"))
    path.chmod(0o755)
    steal = path / "check_steal"
    steal.write_text(STEAL)
    steal.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run_worker(plugin_dir: Path, env: dict[str, str]) -> str:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DUTYDESK_ENV": "production",
            "DUTYDESK_PLUGIN_DIRS": str(plugin_dir),
            "DUTYDESK_DATABASE_URL": "sqlite:////nonexistent/dutydesk.sqlite"}
    done = subprocess.run([sys.executable, "-c", WORKER], env={**base, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_worker_forgets_the_key_and_a_plugin_finds_it_nowhere(
    plugin_dir: Path, tmp_path: Path
) -> None:
    out = _run_worker(plugin_dir, {"DUTYDESK_SECRET_KEY": SECRET, "KEY_FILE": "/dev/null"})
    assert "KEY LOADED: True" in out
    assert "KEY IN OUR ENVIRON: False" in out
    said = out.split("PLUGIN SAID:", 1)[1]
    env_seen = said.split("ENV[", 1)[1].split("]", 1)[0]
    assert "DUTYDESK" not in env_seen and SECRET not in env_seen
    if os.geteuid() == 0:
        # the plugin runs as nobody: the worker's /proc entries are not its to read
        assert "Permission denied" in said.split("PROC[", 1)[1]
        assert SECRET not in said
    # (as the same user, /proc/$PPID/environ still shows the environment the worker was
    # started with: hence DUTYDESK_SECRET_KEY_FILE, below)


def test_with_a_key_file_the_key_is_in_no_environment_and_the_file_is_not_the_plugins(
    plugin_dir: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(SECRET + "\n")
    key_file.chmod(0o600)
    out = _run_worker(plugin_dir, {"DUTYDESK_SECRET_KEY_FILE": str(key_file),
                                   "KEY_FILE": str(key_file)})
    assert "KEY LOADED: True" in out
    said = out.split("PLUGIN SAID:", 1)[1]
    assert SECRET not in said.split("FILE[", 1)[0]  # not in its env, not in /proc/$PPID/environ
    if os.geteuid() == 0:  # as nobody it cannot read the 0600 file either
        assert SECRET not in said
        assert "Permission denied" in said.split("FILE[", 1)[1]


def test_the_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(SECRET + "\n")
    settings = load_settings(environ={"DUTYDESK_SECRET_KEY_FILE": str(key_file),
                                      "DUTYDESK_INSTANCE_PATH": str(tmp_path)})
    assert settings.secret_key == SECRET


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DUTYDESK_SECRET_KEY_FILE": "/nonexistent/key"}, "cannot read '/nonexistent/key'"),
        ({"DUTYDESK_SECRET_KEY_FILE": "/dev/null"}, "'/dev/null' is empty"),
        ({"DUTYDESK_SECRET_KEY_FILE": "/dev/null", "DUTYDESK_SECRET_KEY": "x" * 40},
         "either the key or the file, not both"),
    ],
)
def test_a_bad_secret_key_file_is_a_clear_config_error(environ: dict, message: str) -> None:
    from dutydesk.core.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_forgetting_the_environment_removes_every_secret_and_only_those() -> None:
    environ = {"DUTYDESK_SECRET_KEY": "k", "DUTYDESK_SMTP_PASSWORD": "p",
               "DUTYDESK_DATABASE_URL": "postgresql://dd:pw@db/dd",
               "DUTYDESK_TELEGRAM_BOT_TOKEN": "t", "DUTYDESK_TIMEZONE": "UTC", "LANG": "C"}
    removed = forget_secret_environment(environ)
    assert environ == {"DUTYDESK_TIMEZONE": "UTC", "LANG": "C"}
    assert len(removed) == 4
