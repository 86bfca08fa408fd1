"""Traps and syslog heard by a remote probe at its site, fed into the ONE facility pipeline here.

A site's UPS, PDUs and switches send their traps and syslog to an address inside the site, which
the centre cannot reach; the site's probe (``dutydesk probe --trap-listen ... --syslog-listen
...``, ``dutydesk.facility.forward``) listens for them and forwards each as a *neutral event*
over its outbound HTTPS link (``POST /api/probe/v1/events``). This module is the centre's half:

- ``parse_events(payload)``: strict validation of a batch (``EventsError`` says what is wrong;
  nothing of a bad batch is stored).
- ``feed_events(...)``: each event decided against the centre's applied rules (the same
  ``decide_trap`` / ``decide_syslog`` as the central listeners, at the time the probe heard it),
  marked with the probe's site (``at_site``) and run through ``process_alerts`` in order, in the
  caller's transaction; what matched no rule is counted in ``facility_heard`` as
  ``<site>/<address>``.

Design choices (documented here, where the contract lives):

- **The probe does not decide.** It has no database and no rules: it sends what it heard —
  a trap's variable bindings as numeric OIDs with their values, a syslog message's parsed
  fields — and the centre translates names with its own MIBs and applies its own rules. One
  rule document, one place to change it; a rule applied at the centre covers every site.
- **Order is kept.** A replay after an outage carries minutes of events; folding them as the
  central receiver folds 0.25 s would keep only the last observation of each key, so an "on
  battery" that ended during the outage would never open an incident. Events are run through
  the pipeline in *segments*: a segment ends where a key changes status (fire → clear) or when
  it spans more than ``SEGMENT_SECONDS``; each segment is processed with ``now`` = the time its
  last event was heard (never later than the centre's clock), so incidents and their history
  carry the site's times, as the remote check results do.
- **A site is part of the problem's identity.** Private address plans repeat between sites:
  10.20.0.5 at kyiv-dc2 is not 10.20.0.5 at lviv-dc1. Dedup and group keys are prefixed with
  ``site:<slug>:``, labels carry ``site`` and ``probe``, and the summary ends with
  ``(site <slug>)``. A rule with ``check:`` still joins that check's incident.
- **Stored once**: the events carry their own sequence numbers (``(probe id, event seq)``, a
  sequence apart from the results'); the caller (``dutydesk.web.probe_events_api``) claims the
  new numbers with a compare-and-set in the same transaction (``dutydesk.sites.events``).

Event shapes (``at``: ISO 8601 with offset; ``source``: the sender's IP address at the site)::

    {"seq": 7, "at": "...", "input": "snmp", "kind": "trap", "source": "10.20.0.5",
     "version": "2c", "var_binds": [["1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.2.1.33.2.1", true], ...]}
    {"seq": 8, "at": "...", "input": "syslog", "kind": "message", "source": "10.20.0.9",
     "host": "pdu-3", "facility": "local0", "level": "err", "app": "pdu", "text": "...",
     "structured": {}}
    {"seq": 9, "at": "...", "input": "snmp", "kind": "rejected", "source": "10.20.0.7",
     "reason": "unknown community", "sample": "61 bytes: unknown community"}
    {"seq": 10, "at": "...", "input": "snmp", "kind": "flood", "source": "10.20.0.7",
     "dropped": 1800, "ongoing": true, "limit": 200}
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.facility.decide import MATCHED, SyslogMessage, decide_syslog, decide_trap
from dutydesk.facility.flood import Flood
from dutydesk.facility.mibs import MibTranslator
from dutydesk.facility.receiver import (
    RATE_LIMITED,
    REJECTED,
    FacilityMetrics,
    flood_alert,
    join_checks,
)
from dutydesk.facility.rules import SYSLOG_FACILITIES, SYSLOG_LEVELS, RulesError, RuleSet
from dutydesk.facility.snmp import describe_trap, trap_from_var_binds
from dutydesk.facility.store import HeardKey, current_rules, current_ruleset, record_heard
from dutydesk.facility.syslog import MAX_MESSAGE, describe_syslog
from dutydesk.incidents.alerts.model import (
    MAX_DEDUP_KEY_LENGTH,
    MAX_SUMMARY_LENGTH,
    Alert,
    AlertSource,
)
from dutydesk.incidents.pipeline import PipelineMetrics, process_alerts

log = logging.getLogger("dutydesk.facility")
MAX_EVENTS = 5000
MAX_VAR_BINDS = 128
SEGMENT_SECONDS = 1.0
KINDS = {"snmp": ("trap", "rejected", "flood"), "syslog": ("message", "rejected", "flood")}


class EventsError(ValueError):
    """The batch is malformed (a 400; nothing is stored)."""


@dataclass(frozen=True, slots=True)
class RawTrap:
    source: str
    version: str
    var_binds: tuple[tuple[str, str, bool], ...]


@dataclass(frozen=True, slots=True)
class Rejected:
    source: str
    reason: str
    sample: str


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a probe heard: ``body`` is a RawTrap, a SyslogMessage, a Rejected packet or a
    Flood (with the probe's ``limit`` per second)."""

    seq: int
    at: datetime
    input: str  # snmp, syslog
    body: RawTrap | SyslogMessage | Rejected | Flood
    limit: int = 0


@dataclass
class FeedReport:
    alerts: int = 0  # alerts run through the pipeline (after folding repeats)
    counted: int = 0  # events counted in facility_heard (unmatched, unknown, rejected)
    opened: int = 0


# --- parsing ----------------------------------------------------------------------------------


def _text(item: dict[str, Any], key: str, where: str, limit: int, default: str | None = None,
          ) -> str:
    value = item.get(key, default)
    if not isinstance(value, str) or len(value) > limit:
        raise EventsError(f"{where}: {key} must be text of at most {limit} characters")
    return value


def _address(item: dict[str, Any], where: str) -> str:
    text = _text(item, "source", where, 64)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise EventsError(f"{where}: source must be the sender's IP address, got "
                          f"{text[:64]!r}") from None


def _when(item: dict[str, Any], where: str) -> datetime:
    text = _text(item, "at", where, 40)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise EventsError(f"{where}: at is not an ISO 8601 time: {text!r}") from None
    if at.tzinfo is None:
        raise EventsError(f"{where}: at must carry its UTC offset")
    return at


def _count(item: dict[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = item.get(key)
    if type(value) is not int or not low <= value <= high:
        raise EventsError(f"{where}: {key} must be an integer from {low} to {high}")
    return value


def _var_binds(value: Any, where: str) -> tuple[tuple[str, str, bool], ...]:
    if not isinstance(value, list) or len(value) > MAX_VAR_BINDS:
        raise EventsError(f"{where}: var_binds must be a list of at most {MAX_VAR_BINDS} "
                          "[oid, value, value_is_oid] triples")
    binds = []
    for bind in value:
        if not (isinstance(bind, list) and len(bind) == 3 and isinstance(bind[0], str)
                and isinstance(bind[1], str) and isinstance(bind[2], bool)):
            raise EventsError(f"{where}: each variable binding is [oid, value, value_is_oid]")
        oid, text, is_oid = bind
        if not (0 < len(oid) <= 512 and all(p.isdigit() for p in oid.split("."))):
            raise EventsError(f"{where}: {oid[:64]!r} is not a numeric OID")
        if len(text) > 4096:
            raise EventsError(f"{where}: a value is longer than 4096 characters")
        binds.append((oid, text, is_oid))
    return tuple(binds)


def _structured(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 50 or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 255 and len(v) <= 1024
            for k, v in value.items()):
        raise EventsError(f"{where}: structured must map at most 50 names to text")
    return dict(value)


def _body(item: dict[str, Any], kind: str, source: str, where: str,
          ) -> RawTrap | SyslogMessage | Rejected | Flood:
    if kind == "trap":
        version = item.get("version")
        if version not in ("1", "2c", "3"):
            raise EventsError(f"{where}: version must be '1', '2c' or '3'")
        return RawTrap(source, version, _var_binds(item.get("var_binds"), where))
    if kind == "message":
        facility, level = item.get("facility"), item.get("level")
        if facility not in SYSLOG_FACILITIES or level not in SYSLOG_LEVELS:
            raise EventsError(f"{where}: facility and level must be syslog names "
                              "(local0, err ...)")
        return SyslogMessage(source=source, host=_text(item, "host", where, 255) or source,
                             facility=facility, level=level,
                             text=_text(item, "text", where, MAX_MESSAGE),
                             app=_text(item, "app", where, 255, ""),
                             structured=_structured(item.get("structured"), where))
    if kind == "rejected":
        return Rejected(source, _text(item, "reason", where, 100),
                        _text(item, "sample", where, 1024, ""))
    ongoing = item.get("ongoing")
    if not isinstance(ongoing, bool):
        raise EventsError(f"{where}: ongoing must be true or false")
    return Flood(source, _count(item, "dropped", where, 0, 2**62), ongoing)


def parse_events(payload: Any) -> list[Event]:
    """``{"events": [...]}`` (shapes in the module docstring) → events sorted by ``seq``.
    Raises ``EventsError`` naming the first problem."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise EventsError("the body must be a JSON object with a list 'events'")
    items = payload["events"]
    if len(items) > MAX_EVENTS:
        raise EventsError(f"at most {MAX_EVENTS} events per batch, got {len(items)}")
    events: list[Event] = []
    for i, item in enumerate(items):
        where = f"event {i}"
        if not isinstance(item, dict):
            raise EventsError(f"{where} must be an object")
        seq = item.get("seq")
        if type(seq) is not int or not 0 < seq < 2**62:
            raise EventsError(f"{where}: seq must be a positive integer")
        kind_of = item.get("input")
        if kind_of not in KINDS:
            raise EventsError(f"{where}: input must be snmp or syslog")
        kind = item.get("kind")
        if kind not in KINDS[kind_of]:
            raise EventsError(f"{where}: kind of an {kind_of} event must be one of "
                              f"{', '.join(KINDS[kind_of])}")
        source = _address(item, where)
        limit = _count(item, "limit", where, 1, 1_000_000) if kind == "flood" else 0
        events.append(Event(seq, _when(item, where), kind_of, _body(item, kind, source, where),
                            limit))
    for key in ("dropped", "buffered"):
        value = payload.get(key, 0)
        if type(value) is not int or not 0 <= value < 2**62:
            raise EventsError(f"{key} must be a non-negative integer")
    events.sort(key=lambda e: e.seq)
    seqs = [e.seq for e in events]
    if len(set(seqs)) != len(seqs):
        raise EventsError("a sequence number appears twice in the batch")
    return events


# --- pure decisions ---------------------------------------------------------------------------


def _site_key(key: str, site: str) -> str:
    marked = f"site:{site}:{key}"
    if len(marked) <= MAX_DEDUP_KEY_LENGTH:
        return marked
    import hashlib

    return f"site:{site}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def at_site(alert: Alert, site: str, probe: str) -> Alert:
    """``alert`` as heard by probe ``probe`` of site ``site`` (see the module docstring)."""
    summary = alert.summary
    if summary:
        tail = f" (site {site})"
        summary = summary[:MAX_SUMMARY_LENGTH - len(tail)] + tail
    return replace(
        alert,
        dedup_key=_site_key(alert.dedup_key, site),
        group_key=_site_key(alert.group_key or alert.dedup_key, site),
        labels={**alert.labels, "site": site, "probe": probe},
        summary=summary,
        source_ids={**alert.source_ids, "site": site, "probe": probe},
    )


def segments(heard: Sequence[tuple[datetime, Alert]], span: float = SEGMENT_SECONDS,
             ) -> list[list[tuple[datetime, Alert]]]:
    """Cut an ordered list of (heard at, alert) where a key changes status or the segment
    would span more than ``span`` seconds; within a segment, repeats of a key may be folded."""
    out: list[list[tuple[datetime, Alert]]] = []
    current: list[tuple[datetime, Alert]] = []
    status: dict[str, Any] = {}
    for at, alert in heard:
        if current and (status.get(alert.dedup_key, alert.status) != alert.status
                        or at - current[0][0] > timedelta(seconds=span)):
            out.append(current)
            current, status = [], {}
        current.append((at, alert))
        status[alert.dedup_key] = alert.status
    if current:
        out.append(current)
    return out


def fold(segment: Sequence[tuple[datetime, Alert]]) -> list[Alert]:
    """The last observation of each key, in arrival order, with ``count`` when repeated."""
    alerts: dict[str, Alert] = {}
    counts: dict[str, int] = {}
    for _at, alert in segment:
        counts[alert.dedup_key] = counts.get(alert.dedup_key, 0) + 1
        alerts.pop(alert.dedup_key, None)
        alerts[alert.dedup_key] = alert
    return [replace(a, details={**a.details, "count": counts[k]}) if counts[k] > 1 else a
            for k, a in alerts.items()]


# --- feeding the pipeline ---------------------------------------------------------------------


class RemoteRules:
    """The centre's applied rules and MIB translator, rebuilt when a new document is applied
    (one per process; the probes' event batches share it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.version = -1
        self.rules = RuleSet()
        self.translator = MibTranslator()

    def current(self, session: Session) -> tuple[RuleSet, MibTranslator]:
        applied = current_rules(session).version
        if applied != self.version:
            try:
                rules, version = current_ruleset(session, self.settings.secret_key)
            except RulesError as exc:  # (stored before a stricter release): keep the last good
                log.error("facility rules invalid, keeping the previous ones",
                          extra={"error": str(exc)})
                self.version = applied
                return self.rules, self.translator
            instance = self.settings.instance_path or tempfile.gettempdir()
            self.translator = MibTranslator(rules.snmp.mib_dirs, rules.snmp.mib_modules,
                                            cache_dir=os.path.join(instance, "compiled-mibs"))
            self.rules, self.version = rules, version
        return self.rules, self.translator


def _heard_key(event: Event, site: str, outcome: str, name: str) -> HeardKey:
    return (event.input, f"{site}/{event.body.source}"[:64], outcome, name)


def decide_event(event: Event, rules: RuleSet, translator: MibTranslator, at: datetime,
                 ) -> tuple[str, Alert | None, str, str]:
    """One event → (outcome, its alert or None, name and sample for the heard counters), with
    the central listeners' own decisions, as of ``at``."""
    body = event.body
    if isinstance(body, Rejected):
        return REJECTED, None, body.reason, body.sample
    if isinstance(body, Flood):
        kind = AlertSource.SNMP_TRAP if event.input == "snmp" else AlertSource.SYSLOG
        return RATE_LIMITED, flood_alert(kind, body, event.limit, at), "flood", ""
    if isinstance(body, RawTrap):
        trap = trap_from_var_binds(body.source, body.version, body.var_binds,
                                   translator.translate)
        if trap is None:
            return (REJECTED, None, "no snmpTrapOID",
                    f"v{body.version} notification without snmpTrapOID.0")
        decision, (name, sample) = decide_trap(trap, rules, at), describe_trap(trap)
    else:
        decision, (name, sample) = decide_syslog(body, rules, at), describe_syslog(body)
    if decision.outcome == MATCHED and decision.alert is not None:
        return MATCHED, decision.alert, name, sample
    return decision.outcome, None, name, sample


def feed_events(session: Session, events: Sequence[Event], *, site: str, probe: str,
                rules: RuleSet, translator: MibTranslator, settings: Settings, now: datetime,
                metrics: FacilityMetrics | None = None,
                pipeline_metrics: PipelineMetrics | None = None) -> FeedReport:
    """Decide ``events`` (in order) and run their alerts through the pipeline in ``session``
    (flushed, not committed: the caller commits with the sequence claim)."""
    report = FeedReport()
    heard: list[tuple[datetime, Alert]] = []
    counted: dict[HeardKey, tuple[int, str]] = {}

    def count(key: HeardKey, sample: str) -> None:
        number, _ = counted.get(key, (0, ""))
        counted[key] = (number + 1, sample)
        report.counted += 1

    for event in events:
        at = min(event.at, now)
        outcome, alert, name, sample = decide_event(event, rules, translator, at)
        if alert is not None:
            heard.append((at, at_site(alert, site, probe)))
        else:
            count(_heard_key(event, site, outcome, name), sample)
        if metrics is not None and not isinstance(event.body, Flood):
            metrics.messages.labels(event.input, "received").inc()
            metrics.messages.labels(event.input, outcome).inc()
    for segment in segments(heard):
        alerts = join_checks(session, fold(segment))
        result = process_alerts(session, alerts, settings=settings,
                                now=max(at for at, _alert in segment), metrics=pipeline_metrics)
        report.alerts += len(alerts)
        report.opened += len(result.opened)
    record_heard(session, counted, now)
    return report
