"""The IPMI probe's helper process: one pyghmi session, read, print JSON, exit.

``python -m checks.probes.ipmi_child`` reads ``{"host", "port", "username", "password", "kg",
"privlevel", "sdr_cache"}`` as JSON from standard input (credentials never appear in the process
list) and prints ``{"power": "on", "sensors": [...]}`` or ``{"failure": "...", "reason": "..."}``.

Why a process: pyghmi keeps sessions in process-wide tables and a second synchronous session to
the same BMC in one process can wait forever; a process per run starts clean, and the engine's
timeout kills it (and its I/O thread) for certain. The sensor repository is cached on disk
(``sdr_cache``), so only the first run against a BMC reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any


def failure_of(text: str) -> tuple[str, str]:
    """(``"critical"``/``"unknown"``, words) for a pyghmi error text."""
    lowered = text.lower()
    if text in ("", "None") or "timeout" in lowered or "timed out" in lowered:
        return "critical", "no answer from the BMC"
    if any(w in lowered for w in ("password", "unauthorized", "user", "privilege", "auth")):
        return "unknown", f"the BMC refused the credentials ({text})"
    return "unknown", f"IPMI error: {text}"


def read(request: dict[str, Any]) -> dict[str, Any]:
    """Log in, read chassis power and every sensor. Blocking."""
    from pyghmi.exceptions import IpmiException
    from pyghmi.ipmi import command

    try:
        session = command.Command(
            bmc=request["host"], port=request["port"], userid=request["username"],
            password=request["password"], kg=request.get("kg"),
            privlevel=request["privlevel"], keepalive=False)
        if request.get("sdr_cache"):
            session.set_sdr_cachedir(request["sdr_cache"])
        power = session.get_power().get("powerstate")
        sensors = [{"name": str(r.name), "value": r.value, "units": str(r.units or ""),
                    "health": int(r.health or 0), "states": [str(s) for s in r.states],
                    "unavailable": bool(r.unavailable)}
                   for r in session.get_sensor_data()]
    except IpmiException as exc:
        status, reason = failure_of(str(exc))
        return {"failure": status, "reason": reason}
    except OSError as exc:
        return {"failure": "critical", "reason": exc.strerror or str(exc)}
    with contextlib.suppress(Exception):  # BMCs have few session slots: give ours back
        session.ipmi_session.logout()
    return {"power": power, "sensors": sensors}


def main() -> None:
    request = json.loads(sys.stdin.read())
    json.dump(read(request), sys.stdout)
    sys.stdout.flush()
    os._exit(0)  # pyghmi's I/O thread must not keep the process alive


if __name__ == "__main__":
    main()
