"""Pure decisions: one heard message (a trap or a syslog line) → an alert, or the reason it is
not one. No I/O; ``now`` comes from the caller.

The dedup key is ``"<input>:<rule>:<source>[:<key values>]"``, so a clearing trap or line with
the same key values (the same ifIndex, the same breaker) resolves exactly that incident. A rule
with ``check: <slug>`` marks its alerts to take that check's identity instead (``check:<id>``, set
by the receiver, which knows the database), so the trap and the poll of one UPS are one incident.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dutydesk.facility.mibs import base_name, names_match
from dutydesk.facility.rules import SYSLOG_LEVELS, Rule, RuleSet
from dutydesk.incidents.alerts.model import (
    MAX_DEDUP_KEY_LENGTH,
    MAX_SUMMARY_LENGTH,
    Alert,
    AlertSource,
    AlertStatus,
)

#: ``Alert.details`` entry naming the check whose incident a rule's alert joins (rule ``check``)
JOIN_CHECK = "joins_check"
MATCHED = "matched"
UNMATCHED = "unmatched"
UNKNOWN_SOURCE = "unknown_source"


@dataclass(frozen=True)
class Trap:
    """One notification as heard, names already translated (``IF-MIB::linkDown``)."""

    source: str
    version: str  # "1", "2c", "3"
    trap: str
    trap_oid: str
    variables: tuple[tuple[str, str], ...] = ()
    inform: bool = False

    def value_of(self, name: str) -> str | None:
        """The first variable whose base name (or full translated name) is ``name``."""
        for var, value in self.variables:
            if var == name or base_name(var) == name:
                return value
        return None


@dataclass(frozen=True)
class SyslogMessage:
    """One syslog message as parsed (RFC 5424 or RFC 3164)."""

    source: str
    host: str
    facility: str
    level: str
    text: str
    app: str = ""
    structured: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    outcome: str  # MATCHED, UNMATCHED, UNKNOWN_SOURCE
    alert: Alert | None = None
    rule: str | None = None


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _summary(template: str, default: str, values: Mapping[str, str]) -> str:
    text = default
    if template:
        try:
            text = template.format_map(_Lenient(values))
        except (ValueError, IndexError, AttributeError, KeyError):
            text = default  # a template the message cannot fill: the plain summary still helps
    return text[:MAX_SUMMARY_LENGTH] or default


def dedup_key(kind: str, rule: str, source: str, parts: list[str]) -> str:
    key = ":".join([kind, rule, source, *parts])
    if len(key) > MAX_DEDUP_KEY_LENGTH:  # very long values: keep it stable and short
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        key = f"{kind}:{rule}:{source}:{digest}"
    return key


def _alert(kind: AlertSource, rule: Rule, source: str, firing: bool, summary: str,
           key_values: dict[str, str], labels: dict[str, str], details: dict[str, Any],
           now: datetime) -> Alert:
    parts = [f"{k}={v}" for k, v in key_values.items()]
    key = dedup_key(kind.value, rule.name, source, parts)
    if rule.impact is not None:  # the pipeline ranks impact × urgency (severity) into P1..P5
        details = {**details, "impact": rule.impact}
    if rule.check is not None:  # the receiver gives it the check's identity (join_checks)
        details = {**details, JOIN_CHECK: rule.check}
    return Alert(
        source=kind,
        dedup_key=key,
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        starts_at=now,
        ends_at=None if firing else now,
        summary=summary,
        severity=rule.severity,
        group_key=f"{kind.value}:{source}",
        labels={"input": kind.value, "rule": rule.name, "source": source, **labels, **key_values},
        service=rule.service,
        details=details,
    )


def _trap_matches(wanted: tuple[str, ...], trap: Trap) -> bool:
    return any(w == trap.trap_oid or names_match(w, trap.trap) for w in wanted)


def _where_matches(rule: Rule, trap: Trap) -> bool:
    for name, expected in rule.where.items():
        value = trap.value_of(name)
        if value is None or not (value == expected or names_match(expected, value)):
            return False
    return True


def decide_trap(trap: Trap, rules: RuleSet, now: datetime) -> Decision:
    """The first rule whose trap (fires) or clear (resolves) matches, with ``where`` filters."""
    if not rules.snmp.expected(trap.source):
        return Decision(UNKNOWN_SOURCE)
    for rule in rules.for_input("snmp"):
        firing = _trap_matches(rule.traps, trap)
        if not firing and not _trap_matches(rule.clears, trap):
            continue
        if not _where_matches(rule, trap):
            continue
        key_values = {k: trap.value_of(k) or "?" for k in rule.key}
        variables = {base_name(n): v for n, v in trap.variables}
        short = base_name(trap.trap)
        default = f"{short} from {trap.source}" + "".join(
            f", {k} {v}" for k, v in key_values.items()
        )
        values = {**variables, "source": trap.source, "trap": short}
        summary = _summary(rule.summary, default, values) if firing else default
        alert = _alert(AlertSource.SNMP_TRAP, rule, trap.source, firing, summary, key_values,
                       {"trap": short}, {"trap": trap.trap, "variables": dict(trap.variables),
                                         "version": trap.version}, now)
        return Decision(MATCHED, alert, rule.name)
    return Decision(UNMATCHED)


def _host_matches(rule: Rule, message: SyslogMessage) -> bool:
    if not rule.hosts:
        return True
    names = {message.host.lower(), message.source}
    return any(fnmatch.fnmatchcase(n, pat.lower()) for pat in rule.hosts for n in names)


def decide_syslog(message: SyslogMessage, rules: RuleSet, now: datetime) -> Decision:
    """The first syslog rule whose host, facility, level and pattern (fires) or clear_pattern
    (resolves) match. ``min_level: warning`` takes warning and anything worse."""
    if not rules.syslog.expected(message.source):
        return Decision(UNKNOWN_SOURCE)
    level = SYSLOG_LEVELS.index(message.level) if message.level in SYSLOG_LEVELS else 7
    for rule in rules.for_input("syslog"):
        if not _host_matches(rule, message):
            continue
        if rule.facilities and message.facility not in rule.facilities:
            continue
        if rule.min_level and level > SYSLOG_LEVELS.index(rule.min_level):
            continue
        firing, found = True, None
        if rule.pattern is not None:
            found = rule.pattern.search(message.text)
            if found is None and rule.clear_pattern is not None:
                found = rule.clear_pattern.search(message.text)
                firing = False
            if found is None:
                continue
        groups = {k: v for k, v in (found.groupdict() if found else {}).items() if v is not None}
        values = {**groups, "host": message.host, "source": message.source,
                  "app": message.app, "facility": message.facility, "level": message.level}
        key_values = {k: str(values.get(k) or "?") for k in rule.key}
        default = f"{message.host}: {message.text}"[:MAX_SUMMARY_LENGTH]
        summary = _summary(rule.summary, default, {**values, "message": message.text})
        alert = _alert(AlertSource.SYSLOG, rule, message.host or message.source, firing, summary,
                       key_values, {"facility": message.facility, "level": message.level},
                       {"message": message.text[:4096], "app": message.app,
                        "source_address": message.source}, now)
        return Decision(MATCHED, alert, rule.name)
    return Decision(UNMATCHED)
