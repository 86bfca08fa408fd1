"""The thin I/O between a listener and the alert pipeline.

A listener (SNMP, syslog) calls ``Receiver.offer`` for every message it heard — from its own
thread, cheaply: the per-source ``FloodGate`` decides at once, and admitted messages wait in a
bounded in-memory queue. A flusher thread drains the queue every ``interval`` seconds: it
decides each message against the current rules (``dutydesk.facility.decide``), folds repeats of
one dedup key into one alert with a count, adds the flood alerts, and runs them through the ONE
pipeline (``process_alerts``) in one transaction, together with the "heard" counters of what
matched nothing. So the listener stays responsive whatever arrives, and the database sees one
transaction per interval, not one per trap.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.facility.decide import JOIN_CHECK, MATCHED, Decision, dedup_key
from dutydesk.facility.flood import Flood, FloodGate
from dutydesk.facility.rules import EMPTY, RulesError, RuleSet
from dutydesk.facility.store import HeardKey, current_ruleset, record_heard
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.pipeline import PipelineMetrics, process_alerts

log = logging.getLogger("dutydesk.facility")

REJECTED = "rejected"
RATE_LIMITED = "rate_limited"
MAX_QUEUE = 100_000
RULES_RELOAD_SECONDS = 5.0
MAX_PENDING = 10_000


def join_checks(session: Any, alerts: list[Alert]) -> list[Alert]:
    """Give the alerts of rules with ``check: <slug>`` that check's identity: its dedup key
    (``check:<id>``, what ``check_alert`` uses), ``check_id`` and service group, so the pipeline
    puts the trap and the check's own alert on one incident. A slug that names no check (renamed,
    deleted) leaves the alert as it was: the trap still opens its own incident, never lost."""
    from sqlalchemy import select

    from checks.models import Check

    slugs = {str(a.details[JOIN_CHECK]) for a in alerts
             if JOIN_CHECK in a.details and a.check_id is None}
    if not slugs:
        return alerts
    found = {slug: (cid, service) for slug, cid, service in session.execute(
        select(Check.slug, Check.id, Check.service).where(Check.slug.in_(slugs)))}
    joined = []
    for alert in alerts:
        slug = alert.details.get(JOIN_CHECK)
        if alert.check_id is None and slug in found:
            check_id, service = found[slug]
            alert = replace(alert, dedup_key=f"check:{check_id}", check_id=check_id,
                            service=alert.service or service or None,
                            group_key=f"service:{alert.service or service}"
                            if (alert.service or service) else f"check:{check_id}")
        elif alert.check_id is None and slug is not None:
            log.warning("facility rule names a check that does not exist",
                        extra={"check": slug, "dedup_key": alert.dedup_key})
        joined.append(alert)
    return joined


class FacilityMetrics:
    """``dutydesk_facility_messages_total{input, outcome}``: received, matched, unmatched,
    unknown_source, rejected (bad credentials, malformed), rate_limited."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "dutydesk_facility_messages",
            "Messages heard by the facility inputs (SNMP traps, syslog), by outcome",
            ["input", "outcome"],
            registry=registry,
        )


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, FacilityMetrics] = (
    weakref.WeakKeyDictionary()
)


def facility_metrics(registry: CollectorRegistry) -> FacilityMetrics:
    metrics = _METRICS.get(registry)
    if metrics is None:
        metrics = _METRICS[registry] = FacilityMetrics(registry)
    return metrics


Decide = Callable[[Any, RuleSet, datetime], Decision]
Describe = Callable[[Any], tuple[str, str]]  # message → (name for counters, sample text)


def flood_alert(kind: AlertSource, flood: Flood, limit: int, now: datetime) -> Alert:
    """The alert of a flood from one source (firing while it goes on, resolved when it ended);
    one per (input, source), for the central listeners and the remote probes' alike."""
    name = "snmp" if kind is AlertSource.SNMP_TRAP else "syslog"
    return Alert(
        source=kind,
        dedup_key=dedup_key(kind.value, "flood", flood.source, []),
        status=AlertStatus.FIRING if flood.ongoing else AlertStatus.RESOLVED,
        starts_at=now,
        ends_at=None if flood.ongoing else now,
        # the incident keeps its first title; each repeat alert (alert history) carries the
        # count so far, in its summary and its annotations
        summary=(f"Flood of {name} messages from {flood.source}: more than {limit}/s "
                 f"({flood.dropped} over the limit so far, not processed)"),
        annotations={"dropped": str(flood.dropped), "limit_per_second": str(limit)},
        severity=Severity.WARNING,
        labels={"input": name, "rule": "flood", "source": flood.source},
        details={"count": flood.dropped, "limit_per_second": limit},
    )


class Receiver:
    """Per-input sink: ``offer`` from listener threads, ``flush`` into the pipeline."""

    def __init__(
        self,
        kind: AlertSource,
        db: Database,
        settings: Settings,
        decide: Decide,
        describe: Describe,
        *,
        registry: CollectorRegistry | None = None,
        pipeline_metrics: PipelineMetrics | None = None,
        interval: float = 0.25,
        on_rules_changed: Callable[[RuleSet], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.input = "snmp" if kind is AlertSource.SNMP_TRAP else "syslog"
        self.db = db
        self.settings = settings
        self._decide = decide
        self._describe = describe
        self._metrics = facility_metrics(registry) if registry is not None else None
        self._pipeline_metrics = pipeline_metrics
        self.interval = interval
        self.on_rules_changed = on_rules_changed
        self._clock = clock
        self._queue: deque[Any] = deque()
        self._lock = threading.Lock()
        self._heard: dict[HeardKey, tuple[int, str]] = {}
        self.rules: RuleSet = EMPTY
        self.rules_version = -1
        self._rules_checked = float("-inf")
        self._gate = FloodGate(self._limit())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[Alert] = []
        self.processed = 0  # alerts handed to the pipeline (bench and tests read it)

    def _limit(self) -> int:
        settings = self.rules.snmp if self.input == "snmp" else self.rules.syslog
        return settings.rate_limit

    def _count(self, outcome: str, n: int = 1) -> None:
        if self._metrics is not None:
            self._metrics.messages.labels(self.input, outcome).inc(n)

    # --- called by listener threads ---------------------------------------------------------

    def admit(self, source: str) -> bool:
        """One message heard from ``source``: may it go on (the flood gate), or is it counted
        as rate-limited?"""
        self._count("received")
        with self._lock:
            admitted = self._gate.admit(source, self._clock())
        if not admitted:
            self._count(RATE_LIMITED)
        return admitted

    def put(self, message: Any) -> None:
        """Queue an admitted message; past ``MAX_QUEUE`` (the database is far behind) it is
        counted as rate-limited instead of growing memory."""
        with self._lock:
            queued = len(self._queue) < MAX_QUEUE
            if queued:
                self._queue.append(message)
        if not queued:
            self._count(RATE_LIMITED)

    def offer(self, source: str, message: Any) -> None:
        """``admit`` then ``put``."""
        if self.admit(source):
            self.put(message)

    def reject(self, source: str, name: str, sample: str) -> None:
        """An admitted packet that could not be accepted (malformed, wrong credentials):
        counted and shown on the admin page."""
        self._count(REJECTED)
        self._remember((self.input, source, REJECTED, name), sample)

    def _remember(self, key: HeardKey, sample: str) -> None:
        with self._lock:
            count, _ = self._heard.get(key, (0, ""))
            self._heard[key] = (count + 1, sample)

    # --- the flusher ------------------------------------------------------------------------

    def reload_rules(self, *, force: bool = False) -> RuleSet:
        """Read the applied rules when their version changed (at most every few seconds)."""
        now = self._clock()
        if not force and now - self._rules_checked < RULES_RELOAD_SECONDS:
            return self.rules
        self._rules_checked = now
        try:
            with self.db.session() as s:
                rules, version = current_ruleset(s, self.settings.secret_key)
        except RulesError as exc:  # stored before a stricter release: keep the last good rules
            log.error("facility rules invalid, keeping the previous ones",
                      extra={"error": str(exc)})
            return self.rules
        if version != self.rules_version:
            self.rules, self.rules_version = rules, version
            with self._lock:
                self._gate.limit = self._limit()
            if self.on_rules_changed is not None:
                self.on_rules_changed(rules)
        return self.rules

    def flush(self, now: datetime | None = None) -> int:
        """Decide everything queued and run the alerts through the pipeline; returns how many
        messages were drained."""
        self.reload_rules()
        with self._lock:
            batch = list(self._queue)
            self._queue.clear()
            floods = self._gate.drain(self._clock())
        now = now or utcnow()
        alerts: dict[str, Alert] = {}
        counts: dict[str, int] = {}
        for message in batch:
            decision = self._decide(message, self.rules, now)
            self._count(decision.outcome)
            if decision.outcome == MATCHED and decision.alert is not None:
                key = decision.alert.dedup_key
                counts[key] = counts.get(key, 0) + 1
                alerts.pop(key, None)  # keep arrival order of the last observation
                alerts[key] = decision.alert
            else:
                name, sample = self._describe(message)
                self._remember((self.input, message.source, decision.outcome, name), sample)
        folded = [
            replace(a, details={**a.details, "count": counts[k]}) if counts[k] > 1 else a
            for k, a in alerts.items()
        ]
        folded.extend(self._flood_alert(f, now) for f in floods)
        with self._lock:
            heard, self._heard = self._heard, {}
        # what a failed round (database down) left: older first, so the newest state wins
        folded, self._pending = [*self._pending, *folded], []
        if folded or heard:
            try:
                with self.db.session() as s:
                    if folded:
                        process_alerts(s, join_checks(s, folded), settings=self.settings,
                                       now=now, metrics=self._pipeline_metrics)
                    record_heard(s, heard, now)
            except Exception:
                # Kept for the next round (bounded: the newest alerts), so a database restart
                # delays incidents instead of losing them.
                self._pending = folded[-MAX_PENDING:]
                with self._lock:
                    for key, (count, sample) in heard.items():
                        old_count, _ = self._heard.get(key, (0, ""))
                        self._heard[key] = (old_count + count, sample)
                raise
            self.processed += len(batch)
        return len(batch)

    def _flood_alert(self, flood: Flood, now: datetime) -> Alert:
        limit = self._gate.limit
        if flood.ongoing:
            self._remember((self.input, flood.source, RATE_LIMITED, "flood"),
                           f"{flood.dropped} over {limit}/s")
        return flood_alert(self.kind, flood, limit, now)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.reload_rules(force=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"facility-{self.input}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # a database hiccup must not end the input; next round retries
                log.exception("facility flush failed", extra={"input": self.input})

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.flush()
        except Exception:
            log.exception("facility final flush failed", extra={"input": self.input})
