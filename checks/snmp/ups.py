"""UPS profile: RFC 1628 UPS-MIB (1.3.6.1.2.1.33), implemented by most UPS network cards.

Judged: where the output comes from (battery → CRITICAL, bypass → WARNING, off → CRITICAL),
battery status (low/depleted → CRITICAL), estimated minutes remaining, load per output line,
battery temperature, input voltage/frequency per line (when limits are set), and the alarm
table (well-known alarms named in words). Units follow the MIB: frequencies in 0.1 Hz, battery
voltage in 0.1 V DC, currents in 0.1 A, temperatures in whole °C.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
)
from checks.specs import SpecReader

UPS_OBJECTS = "1.3.6.1.2.1.33.1"
IDENT_MODEL = "1.3.6.1.2.1.33.1.1.2.0"
IDENT_NAME = "1.3.6.1.2.1.33.1.1.5.0"
BATTERY_STATUS = "1.3.6.1.2.1.33.1.2.1.0"
SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"
MINUTES_REMAINING = "1.3.6.1.2.1.33.1.2.3.0"
CHARGE_REMAINING = "1.3.6.1.2.1.33.1.2.4.0"
BATTERY_VOLTAGE = "1.3.6.1.2.1.33.1.2.5.0"  # 0.1 V DC
BATTERY_TEMPERATURE = "1.3.6.1.2.1.33.1.2.7.0"  # °C
INPUT_FREQUENCY = "1.3.6.1.2.1.33.1.3.3.1.2"  # column, 0.1 Hz
INPUT_VOLTAGE = "1.3.6.1.2.1.33.1.3.3.1.3"  # column, V RMS
OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"
OUTPUT_FREQUENCY = "1.3.6.1.2.1.33.1.4.2.0"  # 0.1 Hz
OUTPUT_VOLTAGE = "1.3.6.1.2.1.33.1.4.4.1.2"  # column, V RMS
OUTPUT_LOAD = "1.3.6.1.2.1.33.1.4.4.1.5"  # column, percent of rated capacity
ALARMS_PRESENT = "1.3.6.1.2.1.33.1.6.1.0"
ALARM_DESCR = "1.3.6.1.2.1.33.1.6.2.1.2"  # column, OID of a well-known alarm
WELL_KNOWN_ALARMS = "1.3.6.1.2.1.33.1.6.3"

# upsOutputSource values → (status, words)
_SOURCES: dict[int, tuple[Status, str]] = {
    1: (Status.WARNING, "output source 'other' (not mains, not battery)"),
    2: (Status.CRITICAL, "OUTPUT OFF, the load has no power"),
    3: (Status.OK, "on mains"),
    4: (Status.WARNING, "ON BYPASS, the load is not protected"),
    5: (Status.CRITICAL, "ON BATTERY"),
    6: (Status.OK, "on mains, boosting low input voltage"),
    7: (Status.OK, "on mains, reducing high input voltage"),
}
SOURCE_BATTERY = 5

# upsBatteryStatus values → (status, words)
_BATTERY: dict[int, tuple[Status, str]] = {
    1: (Status.UNKNOWN, "battery status unknown"),
    2: (Status.OK, "battery normal"),
    3: (Status.CRITICAL, "battery LOW"),
    4: (Status.CRITICAL, "battery DEPLETED, the UPS cannot carry the load on mains loss"),
}

# upsWellKnownAlarms (RFC 1628 section upsAlarm) → (status, words)
_ALARMS: dict[int, tuple[Status, str]] = {
    1: (Status.WARNING, "battery needs replacement"),
    2: (Status.WARNING, "on battery"),
    3: (Status.CRITICAL, "low battery"),
    4: (Status.CRITICAL, "depleted battery"),
    5: (Status.WARNING, "temperature out of tolerance"),
    6: (Status.WARNING, "input out of tolerance"),
    7: (Status.WARNING, "output out of tolerance"),
    8: (Status.CRITICAL, "output overload"),
    9: (Status.WARNING, "on bypass"),
    10: (Status.WARNING, "bypass out of tolerance"),
    11: (Status.CRITICAL, "output off as requested"),
    12: (Status.CRITICAL, "UPS off as requested"),
    13: (Status.WARNING, "charger failed"),
    14: (Status.CRITICAL, "UPS output off"),
    15: (Status.CRITICAL, "UPS system off"),
    16: (Status.WARNING, "fan failure"),
    17: (Status.WARNING, "fuse failure"),
    18: (Status.WARNING, "general fault"),
    19: (Status.WARNING, "self-test failed"),
    20: (Status.WARNING, "lost communication with the UPS"),
    21: (Status.WARNING, "awaiting power"),
    22: (Status.CRITICAL, "shutdown pending"),
    23: (Status.CRITICAL, "shutdown imminent"),
    24: (Status.OK, "self-test in progress"),
}


@dataclass(frozen=True, slots=True)
class UpsOptions:
    """Limits for the UPS profile; each given mapping replaces its default entirely.

    Input voltage/frequency have no default limits because the nominal values differ by region
    (230 V/50 Hz, 120 V/60 Hz); set them per site, e.g. ``input_frequency: {warn_below: 49.5,
    warn_above: 50.5, crit_below: 49, crit_above: 51}``.
    """

    minutes_remaining: Limits = field(default_factory=lambda: Limits(warn_below=15, crit_below=5))
    charge_remaining: Limits = field(default_factory=Limits)
    output_load: Limits = field(default_factory=lambda: Limits(warn_above=80, crit_above=90))
    battery_temperature: Limits = field(
        default_factory=lambda: Limits(warn_above=35, crit_above=45)
    )
    input_voltage: Limits = field(default_factory=Limits)
    input_frequency: Limits = field(default_factory=Limits)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpsOptions:
        reader = SpecReader(data, "ups profile")
        defaults = cls()
        options = cls(
            minutes_remaining=read_limits(
                reader, "minutes_remaining", defaults.minutes_remaining, minimum=0
            ),
            charge_remaining=read_limits(
                reader, "charge_remaining", defaults.charge_remaining, minimum=0
            ),
            output_load=read_limits(reader, "output_load", defaults.output_load, minimum=0),
            battery_temperature=read_limits(
                reader, "battery_temperature", defaults.battery_temperature
            ),
            input_voltage=read_limits(reader, "input_voltage", defaults.input_voltage, minimum=0),
            input_frequency=read_limits(
                reader, "input_frequency", defaults.input_frequency, minimum=0
            ),
        )
        reader.finish()
        return options


def judge_ups(varbinds: Varbinds, options: UpsOptions | None = None) -> Judgement:
    """Judge an RFC 1628 UPS from a walk of ``1.3.6.1.2.1.33.1``."""
    options = options or UpsOptions()
    source = as_int(varbinds.get(OUTPUT_SOURCE))
    battery = as_int(varbinds.get(BATTERY_STATUS))
    if source is None and battery is None:
        return Judgement(
            Status.UNKNOWN,
            "UPS: the agent has no UPS-MIB (RFC 1628) output source or battery status under "
            f"{UPS_OBJECTS}; is this an RFC 1628 UPS card, and does the SNMP view include it?",
        )
    findings: list[Finding] = []
    metrics: dict[str, float] = {}
    perfdata: list[PerfDatum] = []

    findings.append(_source_finding(source, as_int(varbinds.get(SECONDS_ON_BATTERY))))
    if source is not None:
        metrics["output_source"] = source
    seconds = as_int(varbinds.get(SECONDS_ON_BATTERY))
    if seconds is not None:
        metrics["seconds_on_battery"] = seconds

    status, words = _BATTERY.get(battery or -1, (Status.UNKNOWN, "battery status not reported"))
    if battery is not None and battery not in _BATTERY:
        words = f"battery status {battery} is not an RFC 1628 value"
    findings.append(Finding(status, words))
    if battery is not None:
        metrics["battery_status"] = battery

    minutes = as_int(varbinds.get(MINUTES_REMAINING))
    if minutes is not None:
        findings.append(
            judge_reading("runtime", minutes, options.minutes_remaining, "min", 0)
        )
        metrics["minutes_remaining"] = minutes
        perfdata.append(perf("minutes_remaining", minutes, options.minutes_remaining))

    charge = as_int(varbinds.get(CHARGE_REMAINING))
    if charge is not None:
        findings.append(judge_reading("charge", charge, options.charge_remaining, "%", 0))
        metrics["charge_percent"] = charge
        perfdata.append(perf("charge", charge, options.charge_remaining, "%"))

    loads = column(varbinds, OUTPUT_LOAD)
    for index, raw in loads.items():
        load = as_int(raw)
        if load is None:
            continue
        name = "load" if len(loads) == 1 else f"load L{index}"
        findings.append(judge_reading(name, load, options.output_load, "%", 0))
        metrics[f"output_l{index}_load_percent"] = load
        perfdata.append(perf(f"load_l{index}", load, options.output_load, "%"))
    for index, raw in column(varbinds, OUTPUT_VOLTAGE).items():
        if (volts := as_int(raw)) is not None:
            metrics[f"output_l{index}_voltage"] = volts

    findings.extend(_input_findings(varbinds, options, metrics, perfdata))

    temperature = as_int(varbinds.get(BATTERY_TEMPERATURE))
    if temperature is not None:
        findings.append(
            judge_reading("battery", temperature, options.battery_temperature, "°C", 0)
        )
        metrics["battery_temperature_celsius"] = temperature
        perfdata.append(perf("battery_temperature", temperature, options.battery_temperature))

    decivolts = as_int(varbinds.get(BATTERY_VOLTAGE))
    if decivolts is not None:
        metrics["battery_voltage"] = decivolts / 10
    output_freq = as_int(varbinds.get(OUTPUT_FREQUENCY))
    if output_freq is not None:
        metrics["output_frequency_hz"] = output_freq / 10

    alarm_finding, alarm_count = _alarm_finding(varbinds)
    if alarm_count is not None:
        metrics["alarms_present"] = alarm_count
    if alarm_finding is not None:
        findings.append(alarm_finding)

    return conclude("UPS", findings, metrics, perfdata)


def _source_finding(source: int | None, seconds_on_battery: int | None) -> Finding:
    if source is None:
        return Finding(Status.UNKNOWN, "output source not reported")
    if source not in _SOURCES:
        return Finding(Status.UNKNOWN, f"output source {source} is not an RFC 1628 value")
    status, words = _SOURCES[source]
    if source == SOURCE_BATTERY and seconds_on_battery:
        words += f" for {_minutes_seconds(seconds_on_battery)}"
    return Finding(status, words)


def _minutes_seconds(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _input_findings(
    varbinds: Varbinds,
    options: UpsOptions,
    metrics: dict[str, float],
    perfdata: list[PerfDatum],
) -> list[Finding]:
    """Input lines are reported as metrics always, and judged only when limits are set."""
    findings: list[Finding] = []
    voltages = column(varbinds, INPUT_VOLTAGE)
    frequencies = column(varbinds, INPUT_FREQUENCY)
    several = max(len(voltages), len(frequencies)) > 1
    for index, raw in voltages.items():
        volts = as_int(raw)
        if volts is None:
            continue
        metrics[f"input_l{index}_voltage"] = volts
        if not options.input_voltage.empty:
            name = f"input L{index}" if several else "input"
            findings.append(judge_reading(name, volts, options.input_voltage, "V", 0))
            perfdata.append(perf(f"input_l{index}_voltage", volts, options.input_voltage))
    for index, raw in frequencies.items():
        decihertz = as_int(raw)
        if decihertz is None:
            continue
        hertz = decihertz / 10  # upsInputFrequency is in 0.1 Hz
        metrics[f"input_l{index}_frequency_hz"] = hertz
        if not options.input_frequency.empty:
            name = f"input L{index}" if several else "input"
            findings.append(judge_reading(name, hertz, options.input_frequency, "Hz", 1))
            perfdata.append(perf(f"input_l{index}_frequency", hertz, options.input_frequency))
    return findings


def _alarm_finding(varbinds: Varbinds) -> tuple[Finding | None, int | None]:
    """Name the alarms of upsAlarmTable; a count without a table still raises a WARNING."""
    count = as_int(varbinds.get(ALARMS_PRESENT))
    descriptions = list(column(varbinds, ALARM_DESCR).values())
    if not descriptions:
        if count:
            return Finding(Status.WARNING, f"{count} alarm(s) present"), count
        return None, count
    named: list[tuple[Status, str]] = []
    for descr in descriptions:
        text = as_text(descr) or ""
        prefix = WELL_KNOWN_ALARMS + "."
        number = as_int(text[len(prefix):]) if text.startswith(prefix) else None
        if number is not None and number in _ALARMS:
            named.append(_ALARMS[number])
        else:
            named.append((Status.WARNING, f"vendor alarm {text}"))
    status = max((s for s, _ in named), key=lambda s: s.severity)
    total = count if count is not None else len(named)
    words = ", ".join(w for _, w in named)
    noun = "alarm" if total == 1 else "alarms"
    return Finding(status, f"{total} {noun}: {words}"), total
