"""Environment sensor profile: ENTITY-SENSOR-MIB (RFC 3433, 1.3.6.1.2.1.99).

Each row of entPhySensorTable is a fixed-point reading: the real value is
``entPhySensorValue / 10^precision × 10^scale-exponent`` where precision 1..9 is the number of
decimals (value 2345, precision 2, scale units → 23.45), precision -8..0 means "no decimals",
and scale is an SI-prefix enumeration (units(9) = 10^0, milli(8) = 10^-3, kilo(10) = 10^3; each
step is a factor 1000, as in the RFC's own comments). Sensor names come from ENTITY-MIB
entPhysicalName (falling back to entPhysicalDescr) of the same entPhysicalIndex.

Temperature (celsius) and humidity (percentRH) readings are judged against limits; every sensor
is reported as a metric, and a sensor that is unavailable (UNKNOWN) or nonoperational (CRITICAL)
is named in the message instead of being read as zero.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from checks.result import PerfDatum, Status
from checks.snmp.values import (
    Finding,
    Judgement,
    Limits,
    Varbinds,
    as_int,
    as_text,
    column,
    conclude,
    judge_reading,
    perf,
    read_limits,
    read_patterns,
    slug,
)
from checks.specs import SpecReader

SENSOR_ENTRY = "1.3.6.1.2.1.99.1.1.1"
SENSOR_TYPE = SENSOR_ENTRY + ".1"
SENSOR_SCALE = SENSOR_ENTRY + ".2"
SENSOR_PRECISION = SENSOR_ENTRY + ".3"
SENSOR_VALUE = SENSOR_ENTRY + ".4"
SENSOR_OPER_STATUS = SENSOR_ENTRY + ".5"
PHYSICAL_DESCR = "1.3.6.1.2.1.47.1.1.1.1.2"
PHYSICAL_NAME = "1.3.6.1.2.1.47.1.1.1.1.7"

CELSIUS = 8
PERCENT_RH = 9

# EntitySensorDataType → (metric suffix, display unit)
SENSOR_TYPES: dict[int, tuple[str, str]] = {
    1: ("value", ""),
    2: ("value", ""),
    3: ("volts_ac", "V AC"),
    4: ("volts_dc", "V DC"),
    5: ("amperes", "A"),
    6: ("watts", "W"),
    7: ("hertz", "Hz"),
    CELSIUS: ("celsius", "°C"),
    PERCENT_RH: ("percent_rh", "%RH"),
    10: ("rpm", "rpm"),
    11: ("cubic_meters_per_minute", "m³/min"),
    12: ("truth", ""),
}

# EntitySensorValue sentinels (RFC 3433): the sensor could not represent the reading.
UNDERFLOW = -1_000_000_000
OVERFLOW = 1_000_000_000


class SensorDataError(ValueError):
    """The agent sent a scale or precision outside what RFC 3433 allows."""


def sensor_reading(raw: int, scale: int, precision: int) -> float:
    """Convert a raw entPhySensorValue to the real value in the sensor's base unit.

    ``sensor_reading(2345, 9, 2) == 23.45``; ``sensor_reading(12050, 8, 0) == 12.05``.
    Decimal arithmetic avoids 23.450000000000003. Raises SensorDataError for a scale outside
    1..17 or a precision outside -8..9, which a conforming agent never sends.
    """
    if not 1 <= scale <= 17:
        raise SensorDataError(f"entPhySensorScale must be 1..17, got {scale}")
    if not -8 <= precision <= 9:
        raise SensorDataError(f"entPhySensorPrecision must be -8..9, got {precision}")
    exponent = 3 * (scale - 9)
    if precision > 0:  # -8..0 count accurate digits, they do not move the decimal point
        exponent -= precision
    return float(Decimal(raw).scaleb(exponent))


@dataclass(frozen=True, slots=True)
class SensorOptions:
    """Which sensors to judge and their limits; each limits mapping replaces its default.

    Default temperature limits follow the ASHRAE recommended inlet envelope (up to 27 °C) and
    are meant for room/rack sensors; use ``include``/``exclude`` (shell-style patterns on the
    sensor name, case-insensitive) to leave out device-internal sensors such as "CPU".
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    temperature: Limits = field(default_factory=lambda: Limits(warn_above=27, crit_above=32))
    humidity: Limits = field(
        default_factory=lambda: Limits(warn_below=20, warn_above=80, crit_below=10, crit_above=90)
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SensorOptions:
        reader = SpecReader(data, "sensors profile")
        defaults = cls()
        options = cls(
            include=read_patterns(reader, "include"),
            exclude=read_patterns(reader, "exclude"),
            temperature=read_limits(reader, "temperature", defaults.temperature),
            humidity=read_limits(reader, "humidity", defaults.humidity, minimum=0),
        )
        reader.finish()
        return options

    def selects(self, name: str) -> bool:
        lowered = name.lower()
        if self.include and not any(fnmatch.fnmatch(lowered, p.lower()) for p in self.include):
            return False
        return not any(fnmatch.fnmatch(lowered, p.lower()) for p in self.exclude)


def judge_sensors(varbinds: Varbinds, options: SensorOptions | None = None) -> Judgement:
    """Judge the entPhySensorTable rows selected by ``options``."""
    options = options or SensorOptions()
    types = column(varbinds, SENSOR_TYPE)
    if not types:
        return Judgement(
            Status.UNKNOWN,
            "Sensors: the agent has no ENTITY-SENSOR-MIB table (entPhySensorTable "
            f"{SENSOR_ENTRY}); the device does not implement RFC 3433 or the view excludes it",
        )
    names = column(varbinds, PHYSICAL_NAME)
    descriptions = column(varbinds, PHYSICAL_DESCR)
    scales = column(varbinds, SENSOR_SCALE)
    precisions = column(varbinds, SENSOR_PRECISION)
    values = column(varbinds, SENSOR_VALUE)
    opers = column(varbinds, SENSOR_OPER_STATUS)

    findings: list[Finding] = []
    metrics: dict[str, float] = {}
    perfdata: list[PerfDatum] = []
    matched = 0
    for index, raw_type in types.items():
        name = as_text(names.get(index)) or as_text(descriptions.get(index)) or f"sensor {index}"
        if not options.selects(name):
            continue
        matched += 1
        sensor_type = as_int(raw_type)
        sensor_type = 2 if sensor_type is None else sensor_type
        suffix, unit = SENSOR_TYPES.get(sensor_type, ("value", ""))
        oper = as_int(opers.get(index))
        if oper == 2:
            findings.append(Finding(Status.UNKNOWN, f"{name}: reading unavailable"))
            continue
        if oper == 3:
            findings.append(Finding(Status.CRITICAL, f"{name}: sensor nonoperational (broken)"))
            continue
        raw = as_int(values.get(index))
        if raw is None:
            findings.append(Finding(Status.UNKNOWN, f"{name}: no value reported"))
            continue
        if raw in (UNDERFLOW, OVERFLOW):
            side = "underflow" if raw == UNDERFLOW else "overflow"
            findings.append(Finding(Status.CRITICAL, f"{name}: reading out of range ({side})"))
            continue
        scale = as_int(scales.get(index))
        precision = as_int(precisions.get(index))
        scale = 9 if scale is None else scale  # absent: plain units, no decimals
        precision = 0 if precision is None else precision
        try:
            reading = sensor_reading(raw, scale, precision)
        except SensorDataError as exc:
            findings.append(Finding(Status.UNKNOWN, f"{name}: {exc}"))
            continue

        key = _unique(metrics, f"{slug(name)}_{suffix}", index)
        metrics[key] = reading
        limits = _limits_for(sensor_type, options)
        if limits is None:
            continue
        digits = max(precision, 0) if sensor_type == CELSIUS else 0
        findings.append(judge_reading(name, reading, limits, unit, digits))
        perfdata.append(perf(key, reading, limits, "%" if sensor_type == PERCENT_RH else ""))

    if matched == 0:
        patterns = ", ".join(options.include) or "(all)"
        return Judgement(
            Status.UNKNOWN,
            f"Sensors: none of the {len(types)} sensors matched include {patterns}"
            + (f" / exclude {', '.join(options.exclude)}" if options.exclude else ""),
        )
    if not findings:
        findings.append(Finding(Status.OK, f"{matched} sensor(s), no temperature or humidity"))
    return conclude("Sensors", findings, metrics, perfdata)


def _limits_for(sensor_type: int, options: SensorOptions) -> Limits | None:
    if sensor_type == CELSIUS:
        return options.temperature
    if sensor_type == PERCENT_RH:
        return options.humidity
    return None


def _unique(metrics: Mapping[str, float], key: str, index: str) -> str:
    """Two sensors named alike (e.g. two "Temp" probes) get their index appended."""
    return key if key not in metrics else f"{key}_{slug(index)}"

