"""Judging Redfish resources (DMTF DSP0268): systems, chassis, thermal and power. Pure.

Each function takes one resource as the BMC sent it (parsed JSON) and returns ``Reading`` values:

- a system: its ``Status.Health`` (and ``HealthRollup``) and its ``PowerState``;
- a chassis: its ``Status.Health``;
- ``Thermal``: every present temperature sensor against the BMC's own thresholds
  (``UpperThresholdNonCritical`` → WARNING, ``UpperThresholdCritical``/``Fatal`` → CRITICAL, the
  same for the lower ones) and its health, every fan by its health and thresholds;
- ``Power``: every present power supply by its health, voltages against their thresholds, and
  the consumed watts as a metric.

Sensors whose ``Status.State`` says they are absent or switched off are left out, as the BMC's
own web page does: an empty PSU slot is not a failed PSU.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from checks.probes.devices import Reading
from checks.result import Status

HEALTH = {"OK": Status.OK, "Warning": Status.WARNING, "Critical": Status.CRITICAL}
#: States in which a component's health means nothing (DSP0268 Resource.State).
SKIPPED_STATES = {"Absent", "Disabled", "StandbyOffline", "UnavailableOffline", "Deferring"}
#: How many members of a collection (systems, chassis, sensors) one run looks at.
MAX_MEMBERS = 64


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def members(collection: object) -> list[str]:
    """The ``@odata.id`` links of a collection's members (at most MAX_MEMBERS)."""
    out = []
    for member in _mapping(collection).get("Members", [])[:MAX_MEMBERS]:
        link = _mapping(member).get("@odata.id")
        if isinstance(link, str) and link.startswith("/"):
            out.append(link)
    return out


def link(resource: object, name: str) -> str | None:
    """The ``@odata.id`` of a linked resource (``Thermal``, ``Power``, ``Systems``), or None."""
    target = _mapping(_mapping(resource).get(name)).get("@odata.id")
    return target if isinstance(target, str) and target.startswith("/") else None


def present(item: object) -> bool:
    """False for components the BMC reports as absent or switched off."""
    return _mapping(_mapping(item).get("Status")).get("State") not in SKIPPED_STATES


def health(item: object) -> tuple[Status, str]:
    """The component's own health (the worse of Health and HealthRollup) and its word."""
    status_block = _mapping(_mapping(item).get("Status"))
    worst, word = Status.OK, "OK"
    for key in ("Health", "HealthRollup", "HealthRollUp"):
        value = status_block.get(key)
        if isinstance(value, str) and value in HEALTH and \
                HEALTH[value].severity > worst.severity:
            worst, word = HEALTH[value], value
    return worst, word


def _name(item: Mapping[str, Any], fallback: str) -> str:
    for key in ("Name", "MemberId", "Id"):
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return fallback


def judge_system(system: object, expect_power_on: bool = True) -> list[Reading]:
    """A computer system: health, and CRITICAL when it is off but expected on."""
    data = _mapping(system)
    name = f"system {_name(data, '?')}"
    status, word = health(data)
    readings = [Reading(f"{name} health", status, word,
                        why="reported by the BMC" if status is not Status.OK else "")]
    power = data.get("PowerState")
    if isinstance(power, str):
        bad = expect_power_on and power != "On"
        readings.append(Reading(f"{name} power", Status.CRITICAL if bad else Status.OK, power,
                                why="expected On" if bad else ""))
    return readings


def judge_chassis(chassis: object) -> list[Reading]:
    data = _mapping(chassis)
    status, word = health(data)
    label = data.get("Id") if isinstance(data.get("Id"), str) and len(data["Id"]) <= 20 \
        else _name(data, "?")
    return [Reading(f"chassis {label} health", status, word,
                    why="reported by the BMC" if status is not Status.OK else "")]


def chassis_label(chassis: object, alone: bool) -> str:
    """How a chassis prefixes its sensors: nothing when it is the only one, else its Id
    (its Name when the Id is a long UUID)."""
    if alone:
        return ""
    data = _mapping(chassis)
    ident = data.get("Id")
    if isinstance(ident, str) and 0 < len(ident) <= 20:
        return ident
    return _name(data, "?")


def judge_thermal(thermal: object, chassis: str) -> list[Reading]:
    """Temperatures and fans of one chassis' ``Thermal`` resource (``chassis``: the prefix)."""
    data = _mapping(thermal)
    readings = [_sensor(t, chassis, "ReadingCelsius", "°C", "temperature")
                for t in _items(data.get("Temperatures"))]
    readings += [_sensor(f, chassis, "Reading", _fan_unit(f), "fan")
                 for f in _items(data.get("Fans"))]
    return readings


def judge_power(power: object, chassis: str) -> list[Reading]:
    """Power supplies, voltages and consumed watts of one chassis' ``Power`` resource."""
    data = _mapping(power)
    readings = []
    for index, supply in enumerate(_items(data.get("PowerSupplies"))):
        name = f"{chassis} {_name(supply, f'PSU {index}')}".strip()
        status, word = health(supply)
        readings.append(Reading(name, status, word, why="PSU reported by the BMC"
                                if status is not Status.OK else ""))
    readings += [_sensor(v, chassis, "ReadingVolts", "V", "voltage")
                 for v in _items(data.get("Voltages"))]
    for control in _items(data.get("PowerControl"))[:1]:
        watts = _number(control.get("PowerConsumedWatts"))
        if watts is not None:
            readings.append(Reading(f"{chassis} power consumed".strip(), Status.OK, f"{watts:g} W",
                                    watts, "W"))
    return readings


def _items(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value[:MAX_MEMBERS] if isinstance(item, Mapping) and present(item)]


def _fan_unit(fan: Mapping[str, Any]) -> str:
    return "%" if fan.get("ReadingUnits") == "Percent" else "RPM"


def _sensor(item: Mapping[str, Any], chassis: str, key: str, unit: str, kind: str) -> Reading:
    """A sensor judged by its thresholds and by its health, whichever is worse."""
    name = f"{chassis} {_name(item, kind)}".strip()
    value = _number(item.get(key))
    status, word = health(item)
    why = f"{kind} health {word}" if status is not Status.OK else ""
    if value is None:
        return Reading(name, status, word, why=why)
    limit_status, limit_why = threshold_status(item, value, unit)
    if limit_status.severity > status.severity:
        status, why = limit_status, limit_why
    return Reading(name, status, f"{value:g} {unit}", value, unit, why)


def threshold_status(item: Mapping[str, Any], value: float, unit: str) -> tuple[Status, str]:
    """Judge ``value`` against the sensor's Upper/Lower thresholds (critical before warning)."""
    checks: Iterable[tuple[str, Status, bool]] = (
        ("UpperThresholdFatal", Status.CRITICAL, True),
        ("UpperThresholdCritical", Status.CRITICAL, True),
        ("LowerThresholdFatal", Status.CRITICAL, False),
        ("LowerThresholdCritical", Status.CRITICAL, False),
        ("UpperThresholdNonCritical", Status.WARNING, True),
        ("LowerThresholdNonCritical", Status.WARNING, False),
    )
    for key, status, upper in checks:
        limit = _number(item.get(key))
        if limit is None:
            continue
        if (upper and value >= limit) or (not upper and value <= limit):
            return status, f"{'at or above' if upper else 'at or below'} {limit:g} {unit}"
    return Status.OK, ""


# ---------------------------------------------------------------------------------------------
# Redfish 2020.4+ subsystems (ThermalSubsystem, PowerSubsystem), for BMCs without Thermal/Power


def judge_fan(fan: object, chassis: str) -> list[Reading]:
    """One ``Fan`` member of ``ThermalSubsystem/Fans``: health and speed in percent."""
    data = _mapping(fan)
    if not present(data):
        return []
    name = f"{chassis} {_name(data, 'fan')}".strip()
    status, word = health(data)
    speed = _number(_mapping(data.get("SpeedPercent")).get("Reading"))
    why = f"fan health {word}" if status is not Status.OK else ""
    if speed is None:
        return [Reading(name, status, word, why=why)]
    return [Reading(name, status, f"{speed:g} %", speed, "%", why)]


def judge_power_supply(supply: object, chassis: str) -> list[Reading]:
    """One ``PowerSupply`` member of ``PowerSubsystem/PowerSupplies``: its health."""
    data = _mapping(supply)
    if not present(data):
        return []
    status, word = health(data)
    return [Reading(f"{chassis} {_name(data, 'PSU')}".strip(), status, word,
                    why="PSU reported by the BMC" if status is not Status.OK else "")]


def judge_thermal_metrics(metrics: object, chassis: str) -> list[Reading]:
    """``ThermalMetrics.TemperatureReadingsCelsius``: readings shown and kept as metrics (the
    thresholds live in each Sensor; the BMC's health verdicts come through the chassis)."""
    readings = []
    for item in _mapping(metrics).get("TemperatureReadingsCelsius", [])[:MAX_MEMBERS]:
        data = _mapping(item)
        value = _number(data.get("Reading"))
        if value is None:
            continue
        source = str(data.get("DeviceName") or data.get("DataSourceUri") or "temperature")
        label = source.rstrip("/").rsplit("/", 1)[-1]
        readings.append(Reading(f"{chassis} {label}".strip(), Status.OK, f"{value:g} °C",
                                value, "°C"))
    return readings
