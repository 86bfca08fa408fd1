"""PDU load and the generic "OID value with scale and limits" profile.

Generic ``value`` profile: any numeric OIDs, each multiplied by a scale (``0.1`` for a value in
tenths), shown with a unit and judged against limits.

``pdu`` profile: per-phase (or per-bank) current from a vendor table, as amps and as a
percentage of the rating, plus the PDU's own load state. The built-in preset ``apc-rpdu`` reads
APC's PowerNet-MIB rPDU branch (1.3.6.1.4.1.318.1.1.12), found on APC AP78xx/AP79xx/AP89xx
rack PDUs:

- rPDULoadStatusLoad        1.3.6.1.4.1.318.1.1.12.2.3.1.1.2  current, tenths of amps
- rPDULoadStatusLoadState   1.3.6.1.4.1.318.1.1.12.2.3.1.1.3  phaseLoadNormal(1), phaseLoadLow(2),
                                                              phaseLoadNearOverload(3),
                                                              phaseLoadOverload(4)
- rPDULoadStatusPhaseNumber 1.3.6.1.4.1.318.1.1.12.2.3.1.1.4
- rPDULoadStatusBankNumber  1.3.6.1.4.1.318.1.1.12.2.3.1.1.5  0 for a phase row
- rPDUIdentDeviceRating     1.3.6.1.4.1.318.1.1.12.1.7.0      rating in amps

Every OID and the scale can be overridden in the options, so another vendor's table with the
same shape (a current column, optionally a state column) is a config change, not a code change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from checks.result import PerfDatum, Status
from checks.snmp.values import (
    Finding,
    Judgement,
    Limits,
    Varbinds,
    as_int,
    column,
    conclude,
    fmt,
    judge_reading,
    normalize_oid,
    perf,
    read_limits,
    slug,
    worst,
)
from checks.specs import SpecError, SpecReader

# ---------------------------------------------------------------------------------------------
# Generic value profile


@dataclass(frozen=True, slots=True)
class ValueItem:
    """One OID read as ``raw × scale`` in ``unit``, judged against ``limits``."""

    oid: str
    label: str
    scale: float = 1.0
    unit: str = ""
    digits: int = 2
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> ValueItem:
        reader = SpecReader(data, "value item")
        try:
            oid = normalize_oid("oid", reader.raw("oid"))
            scale = reader.number("scale", 1.0)
            if scale == 0:
                raise SpecError("scale", scale, "must not be 0 (use e.g. 0.1 for tenths)")
            item = cls(
                oid=oid,
                label=reader.string("label", oid),
                scale=scale,
                unit=reader.text("unit", ""),
                digits=reader.integer("digits", 2, minimum=0, maximum=9),
                limits=read_limits(reader, "limits", Limits()),
            )
            reader.finish()
        except SpecError as exc:
            raise SpecError(f"{where}.{exc.field}", exc.value, exc.rule) from None
        return item


@dataclass(frozen=True, slots=True)
class ValueOptions:
    items: tuple[ValueItem, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValueOptions:
        reader = SpecReader(data, "value profile")
        raw_items = reader.raw("items")
        reader.finish()
        if not isinstance(raw_items, list) or not raw_items:
            raise SpecError("items", raw_items, "must be a non-empty list of {oid, label, ...}")
        items = tuple(
            ValueItem.from_dict(item, f"items[{i}]") for i, item in enumerate(raw_items)
        )
        labels = [slug(item.label) for item in items]
        for i, label in enumerate(labels):
            if label in labels[:i]:
                raise SpecError(f"items[{i}].label", items[i].label, "must be unique")
        return cls(items)


def judge_values(varbinds: Varbinds, options: ValueOptions) -> Judgement:
    """Judge each configured OID; a missing or non-numeric value is UNKNOWN, naming the OID."""
    findings: list[Finding] = []
    metrics: dict[str, float] = {}
    perfdata: list[PerfDatum] = []
    for item in options.items:
        raw = varbinds.get(item.oid)
        if raw is None:
            findings.append(
                Finding(Status.UNKNOWN, f"{item.label}: no such object at {item.oid}")
            )
            continue
        number = _number(raw)
        if number is None:
            findings.append(
                Finding(Status.UNKNOWN, f"{item.label}: {raw!r} at {item.oid} is not a number")
            )
            continue
        reading = round(number * item.scale, 9)  # 113 × 0.1 → 11.3, not 11.300…01
        findings.append(judge_reading(item.label, reading, item.limits, item.unit, item.digits))
        key = slug(item.label)
        metrics[key] = reading
        perfdata.append(perf(key, reading, item.limits))
    return conclude("SNMP", findings, metrics, perfdata)


def _number(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):  # some agents return numbers as DisplayString ("23.5")
        try:
            return float(raw.strip())
        except ValueError:
            return None
    return None


# ---------------------------------------------------------------------------------------------
# PDU profile


@dataclass(frozen=True, slots=True)
class PduTable:
    """Where a PDU model keeps its per-phase load; ``None`` for what it does not have."""

    current_column: str
    current_scale: float
    state_column: str | None = None
    phase_column: str | None = None
    bank_column: str | None = None
    rating_oid: str | None = None


APC_RPDU = PduTable(
    current_column="1.3.6.1.4.1.318.1.1.12.2.3.1.1.2",
    current_scale=0.1,
    state_column="1.3.6.1.4.1.318.1.1.12.2.3.1.1.3",
    phase_column="1.3.6.1.4.1.318.1.1.12.2.3.1.1.4",
    bank_column="1.3.6.1.4.1.318.1.1.12.2.3.1.1.5",
    rating_oid="1.3.6.1.4.1.318.1.1.12.1.7.0",
)
PRESETS: dict[str, PduTable] = {"apc-rpdu": APC_RPDU}

# rPDULoadStatusLoadState → (status, words); the PDU compares against its own thresholds.
_LOAD_STATES: dict[int, tuple[Status, str]] = {
    1: (Status.OK, ""),
    2: (Status.OK, "below the PDU's low-load threshold"),
    3: (Status.WARNING, "PDU reports near overload"),
    4: (Status.CRITICAL, "PDU reports OVERLOAD"),
}


@dataclass(frozen=True, slots=True)
class PduOptions:
    """Table layout (a preset, with per-OID overrides) and limits.

    ``load_percent`` applies when a rating is known (``rated_amps`` or the rating OID);
    ``current`` limits are in amps and have no default, since they depend on the circuit.
    """

    table: PduTable = APC_RPDU
    rated_amps: float | None = None
    current: Limits = field(default_factory=Limits)
    load_percent: Limits = field(default_factory=lambda: Limits(warn_above=80, crit_above=90))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PduOptions:
        reader = SpecReader(data, "pdu profile")
        preset = reader.string("preset", "apc-rpdu", choices=tuple(PRESETS))
        table = PRESETS[preset]
        overrides: dict[str, Any] = {}
        for name in ("current_column", "state_column", "phase_column", "bank_column",
                     "rating_oid"):
            raw = reader.raw(name, None)
            if raw is not None:
                overrides[name] = normalize_oid(name, raw)
            elif name in data and name != "current_column":
                overrides[name] = None  # an explicit null: this PDU has no such column
        scale = reader.number("current_scale", None)
        if scale is not None:
            if scale <= 0:
                raise SpecError("current_scale", scale, "must be above 0 (e.g. 0.1 for tenths)")
            overrides["current_scale"] = scale
        defaults = cls()
        options = cls(
            table=replace(table, **overrides),
            rated_amps=reader.number("rated_amps", None, minimum=0.1, unit="A"),
            current=read_limits(reader, "current", defaults.current, minimum=0),
            load_percent=read_limits(reader, "load_percent", defaults.load_percent, minimum=0),
        )
        reader.finish()
        return options


def judge_pdu(varbinds: Varbinds, options: PduOptions | None = None) -> Judgement:
    """Judge each load row (phase or bank) of the PDU table."""
    options = options or PduOptions()
    table = options.table
    currents = column(varbinds, table.current_column)
    if not currents:
        return Judgement(
            Status.UNKNOWN,
            f"PDU: the agent has no load rows under {table.current_column}; wrong preset for "
            "this PDU model, or the SNMP view excludes it",
        )
    states = column(varbinds, table.state_column) if table.state_column else {}
    phases = column(varbinds, table.phase_column) if table.phase_column else {}
    banks = column(varbinds, table.bank_column) if table.bank_column else {}
    rating = options.rated_amps
    if rating is None and table.rating_oid:
        device_rating = as_int(varbinds.get(table.rating_oid))
        rating = float(device_rating) if device_rating else None

    findings: list[Finding] = []
    metrics: dict[str, float] = {}
    perfdata: list[PerfDatum] = []
    if rating is not None:
        metrics["rated_amps"] = rating
    for index, raw in currents.items():
        label = _row_label(index, as_int(phases.get(index)), as_int(banks.get(index)))
        raw_current = as_int(raw)
        if raw_current is None:
            findings.append(Finding(Status.UNKNOWN, f"{label}: no current reported"))
            continue
        amps = round(raw_current * table.current_scale, 9)  # 68 × 0.1 → 6.8, not 6.800…01
        key = slug(label)
        metrics[f"{key}_amps"] = amps
        perfdata.append(perf(f"{key}_amps", amps, options.current))
        parts = [judge_reading(label, amps, options.current, "A", 1)]
        if rating:
            percent = amps / rating * 100
            metrics[f"{key}_load_percent"] = percent
            perfdata.append(perf(f"{key}_load", percent, options.load_percent, "%"))
            text = f"{fmt(percent, 0)} % of {fmt(rating, 1)} A"
            breach = options.load_percent.breach(percent, "%")
            parts.append(
                Finding(options.load_percent.status(percent), _with_breach(text, breach))
            )
        state = as_int(states.get(index))
        if state is not None:
            status, words = _LOAD_STATES.get(
                state, (Status.UNKNOWN, f"unknown load state {state}")
            )
            parts.append(Finding(status, words))
        findings.append(
            Finding(worst(p.status for p in parts), ", ".join(p.text for p in parts if p.text))
        )
    return conclude("PDU", findings, metrics, perfdata)


def _row_label(index: str, phase: int | None, bank: int | None) -> str:
    if bank:
        return f"bank {bank}"
    return f"phase {phase if phase else index}"


def _with_breach(text: str, breach: str) -> str:
    return f"{text} ({breach})" if breach else text
