"""Run a Nagios/Monitoring plugin: exit code 0-3 is the status, the first line the message.

Running a program on the server is the operator's capability, not the web's. So:

- a plugin check names a plugin *by name* (``check_tcp``), never a path; it must be a file in
  one of the operator's ``plugin_dirs`` (symlinks resolved, and the target must stay inside);
- arguments are an argv list, never a shell;
- the plugin gets a scrubbed environment (``plugin_environment``) plus the check's own ``env``,
  starts in ``/`` in its own process group (killed as a group at ``timeout``), and when we are
  root it runs as ``plugin_user`` (``nobody``) through ``setpriv``, with no capabilities and no
  way to regain privileges, so it cannot read our files or ``/proc/<our pid>/environ``.

A check stored before these rules (a path, ``/bin/sh``) is not run: it turns UNKNOWN saying why.
"""

from __future__ import annotations

import functools
import math
import os
import pwd
import re
import shlex
import shutil
import signal
from dataclasses import dataclass
from datetime import datetime

from checks.nagios import parse_plugin_output
from checks.probes.base import (
    DEFAULT_PLUGIN_DIRS,
    DEFAULT_PLUGIN_USER,
    ProbeContext,
    Stopwatch,
    make_result,
    run_command,
)
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader

MAX_OUTPUT_BYTES = 65536
#: A plugin is chosen by its file name: no slash, no leading dot (so no ``..``).
PLUGIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$")


@dataclass(frozen=True, slots=True)
class PluginSpec:
    command: tuple[str, ...]
    timeout: float = 30.0
    env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(cls, d: dict) -> PluginSpec:
        r = SpecReader(d, "plugin check")
        raw = r.raw("command")
        if isinstance(raw, str):
            try:
                command = tuple(shlex.split(raw))
            except ValueError as exc:
                raise SpecError("command", raw, f"cannot be split into arguments ({exc})") from None
        elif isinstance(raw, list | tuple) and all(isinstance(a, str | int | float) for a in raw):
            command = tuple(str(a) for a in raw)
        else:
            raise SpecError("command", raw, "must be a list of arguments, e.g. "
                            "[check_tcp, -H, 10.0.0.5, -p, 22]")
        if not command or not command[0].strip():
            raise SpecError("command", raw, "must name a program to run")
        if not PLUGIN_NAME.match(command[0]):
            raise SpecError("command", raw, "must start with the name of a plugin in the "
                            "plugin directories (plugin_dirs), such as check_tcp, not a path")
        spec = cls(
            command=command,
            timeout=r.duration("timeout", 30.0, minimum=0.1, maximum=3600),
            env=r.string_map("env", ()),
        )
        reserved = [k for k, _v in spec.env if k.upper().startswith("DUTYDESK_")]
        if reserved:
            raise SpecError("env", dict(spec.env), "must not set DUTYDESK_ variables "
                            f"({', '.join(reserved)}): they are the service's own")
        r.finish()
        return spec

    def to_dict(self) -> dict:
        return {"command": list(self.command), "timeout": self.timeout, "env": dict(self.env)}


_PASSED_VARIABLES = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC",
                     "TZ")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


def plugin_environment(home: str | None = None) -> dict[str, str]:
    """The environment a plugin starts with: a fixed PATH and locale/time-zone variables.

    Nothing else of ours passes: the worker's environment may hold secrets, and plugins are
    programs we do not control. A check's own ``env`` is added on top; ``DUTYDESK_*`` never is.
    """
    env = {name: os.environ[name] for name in _PASSED_VARIABLES if name in os.environ}
    env["PATH"] = SAFE_PATH
    if home:
        env["HOME"] = home
    return env


class PluginRefused(Exception):
    """The plugin may not be run; the message says why in words for the check's page."""


def locate_plugin(name: str, plugin_dirs: tuple[str, ...]) -> str:
    """The real path of plugin ``name`` in the first of ``plugin_dirs`` that has it.

    Raises ``PluginRefused`` when the name is not a plain plugin name, when no directory has
    it, or when it is a symlink leading out of its directory.
    """
    if not PLUGIN_NAME.match(name):
        raise PluginRefused(f"{name!r} is not a plugin name; plugin checks name a plugin in "
                            f"the plugin directories ({', '.join(plugin_dirs) or 'none'})")
    for directory in plugin_dirs:
        base = os.path.realpath(directory)
        candidate = os.path.join(base, name)
        if not os.path.lexists(candidate):
            continue
        real = os.path.realpath(candidate)
        if os.path.commonpath([real, base]) != base:
            raise PluginRefused(f"plugin {name!r} in {directory} leads outside the plugin "
                                f"directory (to {real}); it is not run")
        if not os.path.isfile(real):
            raise PluginRefused(f"plugin {name!r} in {directory} is not a file")
        return real
    raise PluginRefused(f"plugin {name!r} not found in the plugin directories "
                        f"({', '.join(plugin_dirs) or 'none are configured'})")


@functools.lru_cache(maxsize=8)  # the user database and PATH do not change under a worker
def privilege_drop(user: str | None) -> tuple[tuple[str, ...], str | None]:
    """The argv prefix that runs a plugin as ``user`` when we are root, and that user's home.

    Not root: nothing to drop (``()``). Root without a usable ``user`` or without ``setpriv``:
    ``PluginRefused`` -- a plugin never runs as root.
    """
    if os.geteuid() != 0:
        return (), None
    if not user:
        raise PluginRefused("the service runs as root and plugin_user is not set; plugins are "
                            "not run as root")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise PluginRefused(f"plugin_user {user!r} does not exist on this host; plugins are "
                            "not run as root") from None
    if entry.pw_uid == 0:
        raise PluginRefused(f"plugin_user {user!r} is root; plugins are not run as root")
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if setpriv is None:
        raise PluginRefused("cannot drop privileges to run the plugin: setpriv (util-linux) "
                            "is not installed")
    prefix = (setpriv, "--reuid", str(entry.pw_uid), "--regid", str(entry.pw_gid),
              "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--")
    return prefix, entry.pw_dir


async def probe(spec: PluginSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Run the plugin and translate its answer. Never raises for a broken plugin."""
    watch = Stopwatch()
    plugin_dirs = ctx.plugin_dirs if ctx is not None else DEFAULT_PLUGIN_DIRS
    user = ctx.plugin_user if ctx is not None else DEFAULT_PLUGIN_USER
    try:
        path = locate_plugin(spec.command[0], plugin_dirs)
        prefix, home = privilege_drop(user)
    except PluginRefused as exc:
        return make_result(Status.UNKNOWN, str(exc), now, watch)
    try:
        executable = bool(os.stat(path).st_mode & 0o111)
    except OSError:
        executable = False  # removed meanwhile: say so below like any unusable file
    if not executable:
        return make_result(Status.UNKNOWN, f"plugin is not executable: {path}", now, watch)
    env = {**plugin_environment(home), **{k: v for k, v in spec.env
                                          if not k.upper().startswith("DUTYDESK_")}}
    try:
        outcome = await run_command(
            (*prefix, path, *spec.command[1:]), spec.timeout, env=env,
            max_output=MAX_OUTPUT_BYTES, cwd="/",
        )
    except FileNotFoundError:
        return make_result(Status.UNKNOWN, f"plugin not found: {path}", now, watch)
    except PermissionError:
        return make_result(Status.UNKNOWN, f"plugin is not executable: {path}", now, watch)
    except OSError as exc:
        return make_result(Status.UNKNOWN, f"cannot start plugin {path}: {exc.strerror or exc}",
                           now, watch)
    if prefix and outcome.returncode in (126, 127) and outcome.stderr.startswith(b"setpriv:"):
        reason = outcome.stderr.decode("utf-8", "replace").strip().split("\n")[0]
        return make_result(Status.UNKNOWN, f"cannot start plugin {path} as {user}: {reason}",
                           now, watch)

    if outcome.timed_out:
        return make_result(Status.UNKNOWN, f"plugin timed out after {spec.timeout:g} s", now,
                           watch)
    code = outcome.returncode
    if code < 0:
        return make_result(Status.UNKNOWN, f"plugin was killed by signal {_signal_name(-code)}",
                           now, watch)
    if not _looks_like_text(outcome.stdout):
        return make_result(
            Status.UNKNOWN,
            f"plugin printed unreadable output ({len(outcome.stdout)} bytes that are not text, "
            f"exit code {code})",
            now, watch,
        )
    text = outcome.stdout.decode("utf-8", errors="replace")
    parsed = parse_plugin_output(text) if text.strip() else None
    message = parsed.text if parsed is not None and parsed.text else ""
    if not message:
        stderr_line = outcome.stderr.decode("utf-8", "replace").strip().split("\n")[0]
        message = "(plugin printed nothing" + (f"; stderr: {stderr_line})" if stderr_line
                                               else ")")
    status = Status.from_exit_code(code)
    if code not in (0, 1, 2, 3):
        message = f"plugin exited with code {code} (not 0-3): {message}"
    if parsed is not None and parsed.bad_perfdata:
        message += f" [ignored bad perfdata: {' '.join(parsed.bad_perfdata)[:80]}]"
    perfdata = parsed.perfdata if parsed is not None else ()
    return Result(
        status=status, message=message, started_at=now, duration=watch.elapsed(),
        # an unknown value ("U") is kept in perfdata but is no number to chart
        metrics={p.label: p.value for p in perfdata if not math.isnan(p.value)},
        perfdata=perfdata, long_output=parsed.long_text if parsed is not None else "",
    )


def _looks_like_text(data: bytes) -> bool:
    """Plugins print text; NUL bytes or mostly undecodable bytes mean garbage."""
    if not data:
        return True
    if b"\x00" in data:
        return False
    decoded = data.decode("utf-8", errors="replace")
    return decoded.count("\ufffd") <= max(1, len(decoded) // 10)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
