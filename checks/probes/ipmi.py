"""IPMI probe (pyghmi, IPMI 2.0 / RMCP+): a server's sensors and chassis power, as a check.

Spec::

    host: 10.30.0.22
    port: 623
    username: monitor          # a BMC account with USER privilege is enough
    password: ${BMC_PASSWORD}  # never shown on pages, never in a Result message
    privilege: user            # user | operator | administrator
    only: [Inlet Temp, PSU1 Status]   # optional: judge just these sensors (by name)
    ignore: [Intrusion]        # optional: never judge these
    expect_power_on: true      # chassis power off is CRITICAL (false: just shown)
    timeout: 10s               # the whole read (login, power, sensors)

Each sensor is judged as the BMC judges it: the threshold and state bits of its reading (pyghmi
decodes them with the SDR) — a non-critical threshold or a "predictive failure" is WARNING, a
critical/non-recoverable threshold or a "failure detected" state is CRITICAL. Sensors the BMC
says are unavailable (empty slots, powered-off parts) are left out.

pyghmi is a blocking library with process-wide session tables, so each run talks to the BMC
from a short helper process (``checks.probes.ipmi_child``, this very Python, credentials on its
standard input): the event loop never blocks, and the spec's ``timeout`` or the engine's hard
timeout kill the helper for certain. pyghmi gives up on a silent BMC after about 5 s.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from checks.probes.base import Stopwatch, make_result, run_command
from checks.probes.devices import Reading, metrics_of, perfdata_of, summarize
from checks.result import Result, Status
from checks.specs import SpecError, SpecReader, check_host

SECRET_FIELDS = ("password", "kg")
PRIVILEGES = {"user": 2, "operator": 3, "administrator": 4}
#: pyghmi's Health bits (pyghmi.constants.Health): Warning 1, Critical 2, Failed 4.
_WARNING, _CRITICAL, _FAILED = 1, 2, 4


@dataclass(frozen=True, slots=True)
class IpmiSpec:
    host: str
    username: str
    password: str
    port: int = 623
    kg: str | None = None
    privilege: str = "user"
    only: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    expect_power_on: bool = True
    timeout: float = 10.0

    def __repr__(self) -> str:  # credentials must not reach a log line through a repr
        return f"IpmiSpec(host={self.host!r}, port={self.port}, username={self.username!r})"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IpmiSpec:
        """Build from a config mapping; raise SpecError (credentials are never echoed)."""
        reader = SpecReader(data, "ipmi check")
        host = check_host("host", reader.string("host"))
        port = reader.integer("port", 623, minimum=1, maximum=65535)
        username = reader.string("username")
        password = reader.raw("password", None)
        if not isinstance(password, str) or not password:
            raise SpecError("password", "<hidden>", "must be a non-empty text")
        if len(password.encode()) > 20:
            raise SpecError("password", "<hidden>", "must be at most 20 bytes (IPMI 2.0)")
        kg = reader.raw("kg", None)
        if kg is not None and (not isinstance(kg, str) or not kg or len(kg.encode()) > 20):
            raise SpecError("kg", "<hidden>", "must be a text of 1 to 20 bytes (the BMC key)")
        spec = cls(
            host=host, port=port, username=username, password=password, kg=kg,
            privilege=reader.string("privilege", "user", choices=tuple(PRIVILEGES)),
            only=reader.string_list("only", ()), ignore=reader.string_list("ignore", ()),
            expect_power_on=reader.boolean("expect_power_on", True),
            timeout=reader.duration("timeout", 10.0, minimum=1.0, maximum=120.0),
        )
        reader.finish()
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The config mapping again, credentials included: the exporter decides how to hide."""
        out: dict[str, Any] = {"host": self.host, "port": self.port, "username": self.username,
                               "password": self.password, "privilege": self.privilege,
                               "expect_power_on": self.expect_power_on,
                               "timeout": self.timeout}
        out.update({k: v for k, v in (("kg", self.kg), ("only", list(self.only)),
                                      ("ignore", list(self.ignore))) if v})
        return out


@dataclass(frozen=True, slots=True)
class SensorValue:
    """What the BMC said about one sensor (the parts of pyghmi's SensorReading we judge)."""

    name: str
    value: float | None
    units: str
    health: int
    states: tuple[str, ...]
    unavailable: bool = False


# ---------------------------------------------------------------------------------------------
# Pure


def judge_sensor(sensor: SensorValue) -> Reading:
    """The BMC's own verdict on a sensor as a Reading (failed/critical → CRITICAL)."""
    if sensor.health & (_FAILED | _CRITICAL):
        status = Status.CRITICAL
    elif sensor.health & _WARNING:
        status = Status.WARNING
    else:
        status = Status.OK
    states = ", ".join(sensor.states)
    if sensor.value is None:
        text = states or "no reading"
        return Reading(sensor.name, status, text,
                       why="reported by the BMC" if status is not Status.OK else "")
    unit = sensor.units.strip()
    text = f"{sensor.value:g}{' ' + unit if unit else ''}"
    return Reading(sensor.name, status, text, sensor.value, unit,
                   why=states if status is not Status.OK else "")


def judge(spec: IpmiSpec, power: str | None, sensors: list[SensorValue]) -> list[Reading]:
    """Readings for the chassis power and every sensor the spec wants judged."""
    readings = []
    if power is not None:
        bad = spec.expect_power_on and power != "on"
        readings.append(Reading("chassis power", Status.CRITICAL if bad else Status.OK, power,
                                why="expected on" if bad else ""))
    wanted = set(spec.only)
    for sensor in sensors:
        if sensor.unavailable or sensor.name in spec.ignore:
            continue
        if wanted and sensor.name not in wanted:
            continue
        readings.append(judge_sensor(sensor))
    missing = sorted(wanted - {s.name for s in sensors})
    for name in missing:
        readings.append(Reading(name, Status.UNKNOWN, "no such sensor",
                                why="not in the BMC's sensor repository"))
    return readings


# ---------------------------------------------------------------------------------------------
# I/O: a helper process per run (checks.probes.ipmi_child)


def sensors_from(answer: Mapping[str, Any]) -> list[SensorValue]:
    """The helper's sensor list as values (anything malformed is dropped)."""
    out = []
    for item in answer.get("sensors") or []:
        if not isinstance(item, Mapping):
            continue
        value = item.get("value")
        out.append(SensorValue(
            name=str(item.get("name", "?")),
            value=float(value) if isinstance(value, int | float) else None,
            units=str(item.get("units", "")), health=int(item.get("health") or 0),
            states=tuple(str(s) for s in item.get("states") or ()),
            unavailable=bool(item.get("unavailable"))))
    return out


def _sdr_cache() -> str | None:
    """A directory only this user can write, where pyghmi keeps each BMC's sensor repository
    (keyed by the BMC's product, firmware and the repository's last change); None if unsafe."""
    path = Path(tempfile.gettempdir()) / f"dutydesk-ipmi-sdr-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None  # a symlink or someone else's directory: read the repository every time
    return str(path)


async def probe(spec: IpmiSpec, now: datetime, ctx: Any = None) -> Result:
    """Read the BMC through the helper process and judge it. Never raises for a failed BMC."""
    watch = Stopwatch()
    where = f"IPMI {spec.host}:{spec.port}"
    request = {"host": spec.host, "port": spec.port, "username": spec.username,
               "password": spec.password, "kg": spec.kg,
               "privlevel": PRIVILEGES[spec.privilege], "sdr_cache": _sdr_cache()}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        outcome = await run_command([sys.executable, "-m", "checks.probes.ipmi_child"],
                                    spec.timeout, env=env, stdin=json.dumps(request).encode(),
                                    max_output=4 * 1024 * 1024)
    except OSError as exc:
        return make_result(Status.UNKNOWN, f"{where}: cannot start the IPMI helper: "
                           f"{exc.strerror or exc}", now, watch)
    if outcome.timed_out:
        return make_result(Status.CRITICAL, f"{where}: no answer from the BMC within "
                           f"{spec.timeout:g} s", now, watch)
    try:
        answer = json.loads(outcome.stdout)
        if not isinstance(answer, dict):
            raise ValueError("not an object")
    except ValueError:
        tail = outcome.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return make_result(Status.UNKNOWN, f"{where}: the IPMI helper failed ({tail[0]})",
                           now, watch)
    if "failure" in answer:
        status = Status.CRITICAL if answer["failure"] == "critical" else Status.UNKNOWN
        reason = str(answer.get("reason", "")).replace(
            "refused the credentials", f"refused the credentials of user {spec.username!r}")
        return make_result(status, f"{where}: {reason}", now, watch)
    readings = judge(spec, answer.get("power"), sensors_from(answer))
    status, message = summarize(readings, f"{where}: ")
    return make_result(status, message, now, watch, perfdata=perfdata_of(readings),
                       **metrics_of(readings), response_time=watch.elapsed())
