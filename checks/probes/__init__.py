"""The check types the engine knows, and ``run_probe``, the one way the engine runs a probe.

``CHECK_TYPES[name]`` is a ``CheckType``: its spec class (``spec_class.from_dict(d)`` validates
config and raises ``SpecError``) and its probe (``await probe(spec, now, ctx)`` -> ``Result``).
Passive types (heartbeat) have no probe: they are judged from pushed signals.

``run_probe`` enforces a hard timeout and turns any unexpected exception into UNKNOWN, so one
broken check can never stop the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checks.probes import (
    dns,
    heartbeat,
    http,
    ipmi,
    modbus,
    ping,
    plugin,
    prometheus,
    redfish,
    snmp,
    tcp,
    tls,
)
from checks.probes.base import ProbeContext
from checks.probes.gate import RunOutlived
from checks.result import Result, Status

ProbeFunction = Callable[[Any, datetime, ProbeContext | None], Awaitable[Result]]


@dataclass(frozen=True, slots=True)
class CheckType:
    name: str
    spec_class: type
    probe: ProbeFunction | None  # None for passive (push) checks
    # Rate-based probes (SNMP interface counters) judge against the check's previous Result.
    wants_previous: bool = False
    # Spec fields holding credentials: pages show a placeholder instead (checks.secrets).
    secret_fields: tuple[str, ...] = ()

    @property
    def passive(self) -> bool:
        return self.probe is None


CHECK_TYPES: dict[str, CheckType] = {
    t.name: t
    for t in (
        CheckType("http", http.HttpSpec, http.probe),
        CheckType("tcp", tcp.TcpSpec, tcp.probe),
        CheckType("ping", ping.PingSpec, ping.probe),
        CheckType("dns", dns.DnsSpec, dns.probe),
        CheckType("tls", tls.TlsSpec, tls.probe),
        CheckType("plugin", plugin.PluginSpec, plugin.probe),
        CheckType("prometheus", prometheus.PrometheusSpec, prometheus.probe),
        CheckType("snmp", snmp.SnmpSpec, snmp.probe, wants_previous=True,
                  secret_fields=("community", "auth_key", "priv_key")),
        CheckType("modbus", modbus.ModbusSpec, modbus.probe),
        CheckType("redfish", redfish.RedfishSpec, redfish.probe,
                  secret_fields=redfish.SECRET_FIELDS),
        CheckType("ipmi", ipmi.IpmiSpec, ipmi.probe, secret_fields=ipmi.SECRET_FIELDS),
        CheckType("heartbeat", heartbeat.HeartbeatSpec, None),
    )
}


def build_spec(type_name: str, data: dict) -> Any:
    """Validate ``data`` as a spec of ``type_name``; raise SpecError (a ValueError) if bad."""
    from checks.specs import SpecError

    check_type = CHECK_TYPES.get(type_name)
    if check_type is None:
        raise SpecError("type", type_name, f"must be one of {', '.join(sorted(CHECK_TYPES))}")
    return check_type.spec_class.from_dict(data)


async def run_probe(
    type_name: str,
    spec: Any,
    now: datetime,
    timeout: float,
    ctx: ProbeContext | None = None,
    previous: Result | None = None,
) -> Result:
    """Run one probe with a hard ``timeout`` (seconds). Never raises (except cancellation, and
    ``RunOutlived`` when the engine's claim ran out before the target was contacted).

    ``previous`` (the check's last Result) reaches probes that judge rates between runs.

    A probe that overruns is cancelled and reported UNKNOWN "probe timed out after N s";
    an exception escaping a probe (a bug) becomes UNKNOWN with the exception text.
    """
    started = time.perf_counter()

    def unknown(message: str) -> Result:
        return Result(status=Status.UNKNOWN, message=message, started_at=now,
                      duration=max(0.0, time.perf_counter() - started))

    check_type = CHECK_TYPES.get(type_name)
    if check_type is None:
        return unknown(f"unknown check type {type_name!r}")
    if check_type.probe is None:
        return unknown(f"{type_name} checks are passive: they are judged from the signals "
                       "they receive, not probed")
    if not isinstance(spec, check_type.spec_class):
        return unknown(f"{type_name} check got a {type(spec).__name__}, "
                       f"expected a {check_type.spec_class.__name__}")
    try:
        # asyncio.timeout cancels the probe in this task; wait_for would start a second task
        # (and its timer) for every run, which costs more than a loopback probe itself.
        async with asyncio.timeout(timeout):
            if check_type.wants_previous:
                return await check_type.probe(spec, now, ctx, previous=previous)  # type: ignore[call-arg]
            return await check_type.probe(spec, now, ctx)
    except TimeoutError:
        return unknown(f"probe timed out after {timeout:g} s")
    except (asyncio.CancelledError, RunOutlived):
        raise  # RunOutlived: nothing was sent, the engine drops the run (checks.probes.gate)
    except Exception as exc:  # a probe bug must not take the engine down
        return unknown(f"probe failed unexpectedly: {type(exc).__name__}: {exc}")


__all__ = ["CHECK_TYPES", "CheckType", "ProbeContext", "build_spec", "run_probe"]
