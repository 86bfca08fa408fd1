"""Run a Nagios/Monitoring plugin: exit code 0-3 is the status, the first line the message.

The command is an argument list run without a shell. A command name without a slash is looked
up in the context's plugin directories (Debian's /usr/lib/nagios/plugins first), then in PATH.
A plugin that hangs is killed with its whole process group at ``timeout`` and reported UNKNOWN.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import signal
from dataclasses import dataclass
from datetime import datetime

from checks.nagios import parse_plugin_output
from checks.probes.base import (
    DEFAULT_PLUGIN_DIRS,
    ProbeContext,
    Stopwatch,
    make_result,
    run_command,
)
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader

MAX_OUTPUT_BYTES = 65536


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
        spec = cls(
            command=command,
            timeout=r.duration("timeout", 30.0, minimum=0.1, maximum=3600),
            env=r.string_map("env", ()),
        )
        r.finish()
        return spec

    def to_dict(self) -> dict:
        return {"command": list(self.command), "timeout": self.timeout, "env": dict(self.env)}


_PASSED_VARIABLES = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")


def plugin_environment() -> dict[str, str]:
    """The environment a plugin starts with: only harmless basics from ours.

    The worker's environment holds secrets (database URL, secret key); plugins are arbitrary
    programs and get only what ``env`` in their spec adds to these.
    """
    env = {name: os.environ[name] for name in _PASSED_VARIABLES if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def resolve_command(program: str, plugin_dirs: tuple[str, ...]) -> str | None:
    """Path of the program to run, or None when it cannot be found."""
    if "/" in program:
        return program
    for directory in plugin_dirs:
        candidate = os.path.join(directory, program)
        if os.path.isfile(candidate):
            return candidate
    return shutil.which(program)


async def probe(spec: PluginSpec, now: datetime, ctx: ProbeContext | None = None) -> Result:
    """Run the plugin and translate its answer. Never raises for a broken plugin."""
    watch = Stopwatch()
    plugin_dirs = ctx.plugin_dirs if ctx is not None else DEFAULT_PLUGIN_DIRS
    program = spec.command[0]
    path = resolve_command(program, plugin_dirs)
    if path is None:
        return make_result(
            Status.UNKNOWN,
            f"plugin {program!r} not found in {', '.join(plugin_dirs)} or PATH",
            now, watch,
        )
    env = {**plugin_environment(), **dict(spec.env)}
    try:
        outcome = await run_command(
            (path, *spec.command[1:]), spec.timeout, env=env, max_output=MAX_OUTPUT_BYTES
        )
    except FileNotFoundError:
        return make_result(Status.UNKNOWN, f"plugin not found: {path}", now, watch)
    except PermissionError:
        return make_result(Status.UNKNOWN, f"plugin is not executable: {path}", now, watch)
    except OSError as exc:
        return make_result(Status.UNKNOWN, f"cannot start plugin {path}: {exc.strerror or exc}",
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
