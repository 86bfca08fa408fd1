"""What the device probes (Modbus, Redfish, IPMI) share: thresholds, readings, the verdict.

A device probe reads several *readings* (a PDU's outlet currents, a BMC's fans and PSUs) and
judges each one; the check's status is the worst of them (CRITICAL > WARNING > UNKNOWN > OK, the
wall's order) and its message names the readings that are not OK first, so the wall line says
what is wrong ("inlet_temp = 31.5 °C (crit 30)") before what is fine.
Pure: no I/O here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from checks.nagios import NagiosRange
from checks.result import PerfDatum, Status

#: Readings named in a message before "and N more" (the wall shows one line).
MESSAGE_READINGS = 6
_METRIC_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True, slots=True)
class Reading:
    """One judged observation of a device.

    ``value`` is the number (None for a state-only reading such as a PSU's health), ``text``
    how it is shown ("24.5 °C", "Critical"), ``why`` the limit or state that made it not OK.
    """

    name: str
    status: Status
    text: str
    value: float | None = None
    unit: str = ""
    why: str = ""
    warn: str | None = None
    crit: str | None = None

    def line(self) -> str:
        """``name = text (why)`` as shown on the wall."""
        suffix = f" ({self.why})" if self.why and self.status is not Status.OK else ""
        return f"{self.name} = {self.text}{suffix}"


def judge_number(
    name: str, value: float, warn: NagiosRange | None, crit: NagiosRange | None, unit: str = "",
) -> Reading:
    """Judge a number against Nagios ranges; NaN and infinities are UNKNOWN, never OK."""
    shown = f"{value:g}{' ' + unit if unit else ''}"
    if math.isnan(value) or math.isinf(value):
        return Reading(name, Status.UNKNOWN, shown, None, unit, "not a finite number")
    status, why = Status.OK, ""
    if crit is not None and crit.alerts(value):
        status, why = Status.CRITICAL, f"crit {crit.text}"
    elif warn is not None and warn.alerts(value):
        status, why = Status.WARNING, f"warn {warn.text}"
    return Reading(name, status, shown, value, unit, why,
                   warn.text if warn else None, crit.text if crit else None)


def worst(statuses: Iterable[Status]) -> Status:
    """The worst status in the wall's order (CRITICAL > WARNING > UNKNOWN > OK); OK if none."""
    return max(statuses, key=lambda s: s.severity, default=Status.OK)


def summarize(readings: Iterable[Reading], prefix: str = "") -> tuple[Status, str]:
    """The check's status and one-line message from its readings, not-OK ones first."""
    items = list(readings)
    if not items:
        return Status.UNKNOWN, f"{prefix}no readings"
    status = worst(r.status for r in items)
    ordered = sorted(items, key=lambda r: -r.status.severity)  # stable: keeps the spec's order
    shown = [r.line() for r in ordered[:MESSAGE_READINGS]]
    if len(ordered) > MESSAGE_READINGS:
        shown.append(f"and {len(ordered) - MESSAGE_READINGS} more")
    return status, prefix + ", ".join(shown)


def metric_name(name: str) -> str:
    """A reading name as a metric key (``Inlet Temp`` → ``inlet_temp``)."""
    return _METRIC_UNSAFE.sub("_", name).strip("_").lower() or "value"


def metrics_of(readings: Iterable[Reading]) -> dict[str, float]:
    """Numeric readings as Result metrics (names made safe; the first of a name wins)."""
    out: dict[str, float] = {}
    for r in readings:
        if r.value is not None:
            out.setdefault(metric_name(r.name), float(r.value))
    return out


def perfdata_of(readings: Iterable[Reading]) -> tuple[PerfDatum, ...]:
    """Numeric readings as perfdata with their thresholds."""
    return tuple(PerfDatum(label=r.name, value=float(r.value), uom=r.unit, warn=r.warn,
                           crit=r.crit)
                 for r in readings if r.value is not None)
