"""Building blocks shared by the SNMP profiles: OIDs, fetched values, limits and verdicts.

Profiles judge *fetched varbinds*: a plain ``dict`` mapping a dotted OID without leading dot
(``"1.3.6.1.2.1.33.1.4.1.0"``) to a Python value (``int`` for INTEGER, Counter, Gauge and
TimeTicks; ``str`` for printable OCTET STRINGs, OIDs and IP addresses; ``bytes`` for binary
OCTET STRINGs). An OID the agent does not have is simply absent. Nothing here does I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from checks.result import PerfDatum, Status
from checks.specs import SpecError, SpecReader

SnmpValue = int | str | bytes
Varbinds = Mapping[str, SnmpValue]

_OID = re.compile(r"\d+(?:\.\d+)+")


def normalize_oid(field_name: str, text: Any) -> str:
    """Return ``text`` as a dotted numeric OID without the leading dot, or raise SpecError.

    Symbolic names (``IF-MIB::ifDescr``) are refused on purpose: resolving them needs MIB files
    on the poller, and a numeric OID in the config says exactly what is asked for.
    """
    if not isinstance(text, str):
        raise SpecError(field_name, text, "must be a numeric OID such as 1.3.6.1.2.1.1.3.0")
    cleaned = text.strip().lstrip(".")
    if not _OID.fullmatch(cleaned):
        raise SpecError(
            field_name, text,
            "must be a numeric OID such as 1.3.6.1.2.1.1.3.0 (MIB names are not resolved)",
        )
    return cleaned


def oid_tuple(oid: str) -> tuple[int, ...]:
    """Numeric sort key: ``1.3.6.1.2.1.2.2.1.10`` sorts after ``...2.2.1.9``."""
    return tuple(int(part) for part in oid.split("."))


def column(varbinds: Varbinds, column_oid: str) -> dict[str, SnmpValue]:
    """The cells of one table column keyed by their row index (the OID suffix after the column).

    ``column(vb, "1.3.6.1.2.1.2.2.1.2")`` → ``{"1": "lo", "2": "eth0"}``, in OID order.
    """
    prefix = column_oid + "."
    cells = {oid[len(prefix):]: value for oid, value in varbinds.items() if oid.startswith(prefix)}
    return dict(sorted(cells.items(), key=lambda item: oid_tuple(item[0])))


def as_int(value: SnmpValue | None) -> int | None:
    """An integer reading, or None when absent or not numeric (a broken agent sends text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_text(value: SnmpValue | None) -> str | None:
    """Printable text for names and descriptions; binary values become hex."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex(":")
    return str(value).strip()


def slug(text: str) -> str:
    """A metric-name-safe rendering: ``"Gi1/0/2 (uplink)"`` → ``"gi1_0_2_uplink"``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unnamed"


def fmt(value: float, digits: int = 1) -> str:
    """Short human number: ``23.0`` → ``"23"``, ``23.45`` → ``"23.45"`` (up to ``digits``)."""
    if math.isnan(value):
        return "NaN"
    text = f"{value:.{max(digits, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# ---------------------------------------------------------------------------------------------
# Limits: warn/crit bounds above and below, Nagios semantics (a value equal to a bound is fine).


@dataclass(frozen=True, slots=True)
class Limits:
    """Warning and critical bounds for one reading.

    A reading is CRITICAL when it is above ``crit_above`` or below ``crit_below``, else WARNING
    when above ``warn_above`` or below ``warn_below``. A value equal to a bound is within it
    (like the Nagios range ``~:27``). ``None`` means "no such bound".
    """

    warn_above: float | None = None
    crit_above: float | None = None
    warn_below: float | None = None
    crit_below: float | None = None

    def __post_init__(self) -> None:
        pairs = (("warn_above", "crit_above"), ("crit_below", "warn_below"))
        for low_name, high_name in pairs:
            low, high = getattr(self, low_name), getattr(self, high_name)
            if low is not None and high is not None and low > high:
                raise SpecError(
                    high_name, high, f"must not be below {low_name} ({fmt(low, 3)})"
                )
        if (
            self.warn_below is not None
            and self.warn_above is not None
            and self.warn_below > self.warn_above
        ):
            raise SpecError(
                "warn_above", self.warn_above,
                f"must not be below warn_below ({fmt(self.warn_below, 3)})",
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], kind: str = "limits") -> Limits:
        """``{"warn_above": 27, "crit_above": 32}``; unknown keys and non-numbers are refused."""
        reader = SpecReader(data, kind)
        limits = cls(
            warn_above=reader.number("warn_above", None),
            crit_above=reader.number("crit_above", None),
            warn_below=reader.number("warn_below", None),
            crit_below=reader.number("crit_below", None),
        )
        reader.finish()
        return limits

    @property
    def empty(self) -> bool:
        return all(
            v is None for v in (self.warn_above, self.crit_above, self.warn_below, self.crit_below)
        )

    def status(self, value: float) -> Status:
        """The verdict for ``value``; NaN (a reading that makes no sense) is UNKNOWN."""
        if math.isnan(value):
            return Status.UNKNOWN
        if _beyond(value, self.crit_below, self.crit_above):
            return Status.CRITICAL
        if _beyond(value, self.warn_below, self.warn_above):
            return Status.WARNING
        return Status.OK

    def breach(self, value: float, unit: str = "") -> str:
        """Which bound ``value`` crossed, for the message: ``"> 27 °C"``; empty when none."""
        for below, above in (
            (self.crit_below, self.crit_above),
            (self.warn_below, self.warn_above),
        ):
            if above is not None and value > above:
                return f"> {fmt(above, 3)}{_unit(unit)}"
            if below is not None and value < below:
                return f"< {fmt(below, 3)}{_unit(unit)}"
        return ""

    def nagios_warn(self) -> str | None:
        return _nagios_range(self.warn_below, self.warn_above)

    def nagios_crit(self) -> str | None:
        return _nagios_range(self.crit_below, self.crit_above)


def _beyond(value: float, below: float | None, above: float | None) -> bool:
    return (above is not None and value > above) or (below is not None and value < below)


def _unit(unit: str) -> str:
    if not unit:
        return ""
    return unit if unit.startswith("/") else f" {unit}"


def _nagios_range(low: float | None, high: float | None) -> str | None:
    """Render bounds as a Nagios range for perfdata: ``15:27``, ``~:27``, ``15:``."""
    if low is None and high is None:
        return None
    start = "~" if low is None else fmt(low, 6)
    end = "" if high is None else fmt(high, 6)
    return f"{start}:{end}"


def read_limits(
    reader: SpecReader, name: str, default: Limits, *, minimum: float | None = None
) -> Limits:
    """Read an optional nested limits mapping; a given mapping replaces ``default`` entirely.

    Replacing (not merging) keeps the rule simple: what the config says is what applies.
    """
    raw = reader.raw(name, None)
    if raw is None:
        return default
    try:
        limits = Limits.from_dict(raw, f"{name} limits")
    except SpecError as exc:
        field_name = name if exc.field == f"{name} limits" else f"{name}.{exc.field}"
        raise SpecError(field_name, exc.value, exc.rule) from None
    if minimum is not None:
        for key in ("warn_above", "crit_above", "warn_below", "crit_below"):
            bound = getattr(limits, key)
            if bound is not None and bound < minimum:
                raise SpecError(f"{name}.{key}", bound, f"must be at least {fmt(minimum, 3)}")
    return limits


def read_patterns(reader: SpecReader, name: str) -> tuple[str, ...]:
    """An optional list of shell-style name patterns (``"Gi1/0/*"``); empty ones are refused."""
    patterns: tuple[str, ...] = reader.string_list(name, ())
    if any(not p.strip() for p in patterns):
        raise SpecError(name, list(patterns), "must not contain empty patterns")
    return patterns


# ---------------------------------------------------------------------------------------------
# Verdicts


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation with its own status, e.g. ``(CRITICAL, "on battery for 4 min")``."""

    status: Status
    text: str


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a profile concluded from the varbinds; the probe wraps it into a ``Result``."""

    status: Status
    message: str
    metrics: dict[str, float] = field(default_factory=dict)
    perfdata: tuple[PerfDatum, ...] = ()


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status as the wall orders them (CRITICAL > WARNING > UNKNOWN > OK)."""
    return max(statuses, key=lambda s: s.severity, default=Status.OK)


def conclude(
    subject: str,
    findings: Iterable[Finding],
    metrics: Mapping[str, float] | None = None,
    perfdata: Iterable[PerfDatum] = (),
) -> Judgement:
    """Combine findings into one judgement.

    The message starts with the subject and lists problems first (worst first, in the order
    found), then the informational findings, so the first words on the wall are the reason.
    """
    items = list(findings)
    status = worst(f.status for f in items)
    problems = sorted(
        (f for f in items if f.status is not Status.OK), key=lambda f: -f.status.severity
    )
    notes = [f for f in items if f.status is Status.OK]
    text = "; ".join(f.text for f in [*problems, *notes] if f.text)
    message = f"{subject}: {text}" if text else subject
    return Judgement(
        status=status,
        message=message,
        metrics=dict(metrics or {}),
        perfdata=tuple(perfdata),
    )


def judge_reading(
    label: str,
    value: float,
    limits: Limits,
    unit: str = "",
    digits: int = 1,
) -> Finding:
    """A finding for one numeric reading: ``"inlet 28.5 °C (> 27 °C)"`` when a bound is crossed."""
    status = limits.status(value)
    text = f"{label} {fmt(value, digits)}{_unit(unit)}"
    breach = limits.breach(value, unit)
    if breach:
        text += f" ({breach})"
    return Finding(status, text)


def perf(label: str, value: float, limits: Limits | None = None, uom: str = "") -> PerfDatum:
    """A perfdatum carrying the limits as Nagios ranges, as check_snmp does."""
    return PerfDatum(
        label=label,
        value=float(value),
        uom=uom,
        warn=limits.nagios_warn() if limits else None,
        crit=limits.nagios_crit() if limits else None,
    )
