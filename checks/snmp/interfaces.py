"""Interface profile: IF-MIB ifTable/ifXTable (RFC 2863).

An interface that is administratively up but operationally down is what a duty engineer must
see: it is CRITICAL and named by ifName (falling back to ifDescr) with its ifAlias. Error
counters (ifInErrors/ifOutErrors, Counter32) are reported as metrics on every run; when the
previous run's metrics are given, they become error rates per second judged against limits.

Rates are computed by a pure function of (previous counters, current counters, elapsed
seconds). A Counter32 that went down wrapped past 2^32 once; but when sysUpTime went down the
agent restarted, counters started again from zero, and no rate is computed for that run.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from checks.result import PerfDatum, Status
from checks.snmp.values import (
    Finding,
    Judgement,
    Limits,
    SnmpValue,
    Varbinds,
    as_int,
    as_text,
    column,
    conclude,
    fmt,
    perf,
    read_limits,
    read_patterns,
)
from checks.specs import SpecError, SpecReader

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"  # TimeTicks, 1/100 s since the agent (re)started
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_IN_ERRORS = "1.3.6.1.2.1.2.2.1.14"
IF_OUT_ERRORS = "1.3.6.1.2.1.2.2.1.20"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
COLUMNS = (IF_DESCR, IF_ADMIN_STATUS, IF_OPER_STATUS, IF_IN_ERRORS, IF_OUT_ERRORS, IF_NAME,
           IF_ALIAS)

COUNTER32_MODULUS = 2**32
ADMIN_UP = 1
OPER_UP = 1
_OPER_WORDS = {
    2: "DOWN",
    6: "DOWN (not present)",
    7: "DOWN (lower layer down)",
}


@dataclass(frozen=True, slots=True)
class ErrorCounters:
    """ifInErrors/ifOutErrors of one interface at one moment."""

    in_errors: int
    out_errors: int


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """Errors per second over the interval between two samples."""

    in_per_second: float
    out_per_second: float


def counter_increase(previous: int, current: int, modulus: int = COUNTER32_MODULUS) -> int:
    """How much a Counter32 grew, assuming it wrapped at most once when it went down."""
    if current >= previous:
        return current - previous
    return current + modulus - previous


def error_rates(
    previous: ErrorCounters, current: ErrorCounters, elapsed_seconds: float
) -> ErrorRates | None:
    """Error rates between two samples of the same interface; None when no rate makes sense.

    ``elapsed_seconds`` must be positive (a clock that stood still gives no rate). The caller
    must not pass samples across an agent restart (see ``agent_restarted``), since counters
    that restart from zero look exactly like a wrap.
    """
    if not elapsed_seconds > 0:
        return None
    return ErrorRates(
        in_per_second=counter_increase(previous.in_errors, current.in_errors) / elapsed_seconds,
        out_per_second=counter_increase(previous.out_errors, current.out_errors)
        / elapsed_seconds,
    )


def agent_restarted(previous_uptime: int | None, current_uptime: int | None) -> bool:
    """sysUpTime went backwards: the agent restarted and its counters began again at zero."""
    return previous_uptime is not None and current_uptime is not None and (
        current_uptime < previous_uptime
    )


def previous_counters(metrics: Mapping[str, float]) -> dict[str, ErrorCounters]:
    """Read the counters this profile stored in the metrics of an earlier Result."""
    found: dict[str, ErrorCounters] = {}
    for key, value in metrics.items():
        if key.startswith("if") and key.endswith("_in_errors"):
            index = key[2 : -len("_in_errors")]
            out = metrics.get(f"if{index}_out_errors")
            if out is not None:
                found[index] = ErrorCounters(int(value), int(out))
    return found


@dataclass(frozen=True, slots=True)
class InterfaceOptions:
    """Which interfaces to judge and how.

    ``include``/``exclude`` are shell-style patterns matched (case-insensitively) against
    ifName, ifDescr and ifAlias; ``down_status`` is the status of an admin-up/oper-down port
    (CRITICAL unless told otherwise, e.g. WARNING for access ports); ``error_rate`` limits apply
    to ifInErrors and ifOutErrors per second separately.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    down_status: Status = Status.CRITICAL
    error_rate: Limits = field(default_factory=lambda: Limits(warn_above=0.1, crit_above=1.0))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InterfaceOptions:
        reader = SpecReader(data, "interfaces profile")
        defaults = cls()
        down = reader.string("down_status", "CRITICAL", choices=("WARNING", "CRITICAL"))
        options = cls(
            include=read_patterns(reader, "include"),
            exclude=read_patterns(reader, "exclude"),
            down_status=Status[down],
            error_rate=read_limits(reader, "error_rate", defaults.error_rate, minimum=0),
        )
        if options.error_rate.warn_below is not None or options.error_rate.crit_below is not None:
            raise SpecError(
                "error_rate", data.get("error_rate"), "only takes warn_above and crit_above"
            )
        reader.finish()
        return options

    def selects(self, *names: str) -> bool:
        lowered = [n.lower() for n in names if n]
        if self.include and not any(
            fnmatch.fnmatch(n, p.lower()) for n in lowered for p in self.include
        ):
            return False
        return not any(fnmatch.fnmatch(n, p.lower()) for n in lowered for p in self.exclude)


def judge_interfaces(
    varbinds: Varbinds,
    options: InterfaceOptions | None = None,
    previous: Mapping[str, float] | None = None,
    elapsed_seconds: float | None = None,
) -> Judgement:
    """Judge interfaces from column walks of ifTable/ifXTable plus sysUpTime.0.

    ``previous`` is the metrics dict of this check's previous Result and ``elapsed_seconds``
    the time since it; with both, error counters become judged rates.
    """
    options = options or InterfaceOptions()
    opers = column(varbinds, IF_OPER_STATUS)
    if not opers:
        return Judgement(
            Status.UNKNOWN,
            f"Interfaces: the agent has no IF-MIB ifOperStatus ({IF_OPER_STATUS}) rows; "
            "the device does not implement IF-MIB or the view excludes it",
        )
    descrs = column(varbinds, IF_DESCR)
    names = column(varbinds, IF_NAME)
    aliases = column(varbinds, IF_ALIAS)
    admins = column(varbinds, IF_ADMIN_STATUS)
    in_errors = column(varbinds, IF_IN_ERRORS)
    out_errors = column(varbinds, IF_OUT_ERRORS)
    uptime = as_int(varbinds.get(SYS_UPTIME))

    old_counters: dict[str, ErrorCounters] = {}
    rate_note: Finding | None = None
    if previous is not None and elapsed_seconds is not None:
        old_uptime = previous.get("sys_uptime_ticks")
        if agent_restarted(None if old_uptime is None else int(old_uptime), uptime):
            rate_note = Finding(Status.OK, "agent restarted, error rates resume next run")
        else:
            old_counters = previous_counters(previous)

    findings: list[Finding] = []
    metrics: dict[str, float] = {}
    perfdata: list[PerfDatum] = []
    if uptime is not None:
        metrics["sys_uptime_ticks"] = uptime
    up = down = admin_down = selected = 0
    for index, raw_oper in opers.items():
        descr = as_text(descrs.get(index)) or ""
        name = as_text(names.get(index)) or descr or f"ifIndex {index}"
        alias = as_text(aliases.get(index)) or ""
        if not options.selects(name, descr, alias):
            continue
        selected += 1
        label = f"{name} ({alias})" if alias else name
        admin = as_int(admins.get(index))
        oper = as_int(raw_oper)
        if admin is not None and admin != ADMIN_UP:
            admin_down += 1
        else:
            finding = _oper_finding(label, oper, options.down_status)
            if finding is None:
                up += 1
            else:
                findings.append(finding)
                if oper in _OPER_WORDS:
                    down += 1

        counters = _counters(in_errors.get(index), out_errors.get(index))
        if counters is None:
            continue
        metrics[f"if{index}_in_errors"] = counters.in_errors
        metrics[f"if{index}_out_errors"] = counters.out_errors
        before = old_counters.get(index)
        rates = error_rates(before, counters, elapsed_seconds or 0.0) if before else None
        if rates is not None:
            findings.extend(_rate_findings(label, index, rates, options, metrics, perfdata))

    if selected == 0:
        return Judgement(
            Status.UNKNOWN,
            f"Interfaces: none of the {len(opers)} interfaces matched include "
            f"{', '.join(options.include) or '(all)'}"
            + (f" / exclude {', '.join(options.exclude)}" if options.exclude else ""),
        )
    metrics.update(interfaces_up=up, interfaces_down=down, interfaces_admin_down=admin_down)
    summary = f"{up} up"
    if admin_down:
        summary += f", {admin_down} admin down"
    findings.append(Finding(Status.OK, summary))
    if rate_note is not None:
        findings.append(rate_note)
    return conclude("Interfaces", findings, metrics, perfdata)


def _oper_finding(label: str, oper: int | None, down_status: Status) -> Finding | None:
    """None when the interface is fine (up, or dormant waiting for traffic)."""
    if oper in (OPER_UP, 5):
        return None
    if oper in _OPER_WORDS:
        return Finding(down_status, f"{label} {_OPER_WORDS[oper]} (admin up)")
    if oper == 3:
        return Finding(Status.WARNING, f"{label} in test mode")
    return Finding(Status.UNKNOWN, f"{label} operational status unknown")


def _counters(raw_in: SnmpValue | None, raw_out: SnmpValue | None) -> ErrorCounters | None:
    in_errors, out_errors = as_int(raw_in), as_int(raw_out)
    if in_errors is None or out_errors is None:
        return None
    return ErrorCounters(in_errors, out_errors)


def _rate_findings(
    label: str,
    index: str,
    rates: ErrorRates,
    options: InterfaceOptions,
    metrics: dict[str, float],
    perfdata: list[PerfDatum],
) -> list[Finding]:
    findings = []
    for direction, rate in (("in", rates.in_per_second), ("out", rates.out_per_second)):
        key = f"if{index}_{direction}_errors_per_second"
        metrics[key] = rate
        perfdata.append(perf(key, rate, options.error_rate))
        status = options.error_rate.status(rate)
        if status is not Status.OK:
            breach = options.error_rate.breach(rate, "/s")
            findings.append(
                Finding(status, f"{label} {direction}-errors {fmt(rate, 2)}/s ({breach})")
            )
    return findings
