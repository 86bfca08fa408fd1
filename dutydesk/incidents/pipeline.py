"""The alert pipeline, assembled in one place. Read ``process_alerts`` top to bottom:

    record → dedup → mute → unhold → incident → route → notify

- **record**: every alert as received goes to ``alerts_received`` (audit; muted ones too).
- **dedup**: within the batch, the last observation of a key wins (``alerts.model.dedup_stage``).
- **mute**: maintenance (the check engine's own verdict on the flip), silences (stored, with
  matchers and expiry), parent down (a check whose parent is down). Resolved alerts are never
  muted. Each suppression increments ``dutydesk_alerts_suppressed_total{reason}``. A muted
  firing alert is *held* and raised once when nothing mutes it any more
  (``dutydesk.incidents.held``; the alerts that pass the mute stage are forgotten: **unhold**).
- **incident**: a firing alert opens an incident or attaches to the open one with the same
  dedup key; a resolved alert auto-resolves it. Opening relies on the UNIQUE ``open_key``: when
  two identical alerts race, the loser's insert fails inside a SAVEPOINT and it attaches. A
  problem back within the re-open window after an automatic resolve re-opens that incident; a
  flapping check keeps one incident (paged when flapping starts and ends); an alert sent by
  several Alertmanagers resolves only when every one of them has (``dutydesk.incidents.noise``).
  Alerts posted through an integration created with a service get that service.
- **route**: for each newly opened incident, the escalation steps due now and the people they
  go to (``incidents.routing``; on-duty seam).
- **notify**: outbox rows in the caller's transaction (``incidents.paging``), so a notification
  exists if and only if the incident change was committed. People with no working contact
  method are skipped (the next step is paged at once); storm control holds pages beyond the
  per-channel limit for one digest (``incidents.storm``).

The caller owns the transaction: it commits after ``process_alerts`` returns, or rolls back (and
answers 5xx so the sender retries) when storage failed.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checks.guard import POLLER_OFFLINE
from dutydesk.core.config import Settings
from dutydesk.incidents import noise, sources
from dutydesk.incidents.alerts.matchers import MatcherError, Silence, SilenceError, SilenceMuter
from dutydesk.incidents.alerts.model import (
    Alert,
    AlertSource,
    Muter,
    dedup_stage,
    mute_stage,
    run_pipeline,
)
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.held import forget, hold
from dutydesk.incidents.lifecycle import LifecycleError, open_incident
from dutydesk.incidents.models import (
    AlertReceived,
    Incident,
    IncidentEventRow,
    Integration,
    SilenceRow,
)
from dutydesk.incidents.paging import (
    PagePlan,
    PagingCache,
    notify_resolved,
    plan_pages,
    send_pages,
)
from dutydesk.incidents.priority import (
    default_priority,
    levels_for_severity,
    parse_impact,
    parse_severity_table,
    parse_urgency,
    urgency_for_severity,
)
from dutydesk.incidents.returns import FlapChange, flap_change
from dutydesk.incidents.sla import DEFAULT_TARGETS, SlaPolicy
from dutydesk.incidents.store import act, add_events, apply_to_row

REPEAT_EVENT_EVERY = timedelta(minutes=1)
"""A repeat alert adds an ``alert`` timeline event at most this often (the count always grows)."""


# --- metrics ------------------------------------------------------------------------------------


class PipelineMetrics:
    """The pipeline's own counter, registered once per registry (the app's or the worker's).

    Only what a process cannot read back from the database is counted here: muted alerts leave
    no incident behind. The incident figures (``dutydesk_incidents_total``, the acknowledgement
    histogram, SLA breaches) are read from the timeline at scrape time instead, so every process
    reports what all of them did (``dutydesk.web.incident_metrics``).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.suppressed = Counter(
            "dutydesk_alerts_suppressed_total",
            "Alerts muted by the pipeline, by reason (maintenance, silence, parent_down)",
            ["reason"],
            registry=registry,
        )


_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, PipelineMetrics] = (
    weakref.WeakKeyDictionary()
)


def metrics_for(registry: CollectorRegistry) -> PipelineMetrics:
    metrics = _METRICS.get(registry)
    if metrics is None:
        metrics = _METRICS[registry] = PipelineMetrics(registry)
    return metrics


def suppression_label(reason: str) -> str:
    """``"silence:12"`` → ``"silence"``: bounded label values (one per kind, not per silence)."""
    return reason.split(":", 1)[0]


# --- configuration read by the pipeline ---------------------------------------------------------


def sla_policy(settings: Settings) -> SlaPolicy:
    """SLA targets from the ``sla:`` section of the config file (minutes per priority)."""
    section = settings.extra.get("sla") if settings.extra else None
    if not section:
        return SlaPolicy(targets=dict(DEFAULT_TARGETS))
    return SlaPolicy.from_minutes(section)


def sla_snapshot(policy: SlaPolicy) -> dict[str, Any]:
    return {
        str(priority): {
            "acknowledge": targets.acknowledge.total_seconds() / 60,
            "resolve": targets.resolve.total_seconds() / 60,
        }
        for priority, targets in policy.targets.items()
    } | {"warn_at": policy.warn_at}


def policy_from_snapshot(snapshot: Mapping[str, Any] | None, settings: Settings) -> SlaPolicy:
    if not snapshot:
        return sla_policy(settings)
    data = {k: v for k, v in snapshot.items() if k != "warn_at"}
    return SlaPolicy.from_minutes(data, warn_at=float(snapshot.get("warn_at", 0.75)))


# --- the context shared by the stages -----------------------------------------------------------


@dataclass
class PipelineResult:
    opened: list[int] = field(default_factory=list)
    attached: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    muted: list[tuple[str, str]] = field(default_factory=list)  # (dedup_key, reason)
    incident_for: dict[str, int] = field(default_factory=dict)  # dedup_key -> incident id


@dataclass
class ShellContext:
    now: datetime
    session: Session
    settings: Settings
    metrics: PipelineMetrics | None
    integration_id: int | None
    result: PipelineResult = field(default_factory=PipelineResult)
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    opened: list[Incident] = field(default_factory=list)
    opened_events: dict[int, list[IncidentEvent]] = field(default_factory=dict)
    plans: dict[int, list[PagePlan]] = field(default_factory=dict)
    held: list[tuple[Alert, str]] = field(default_factory=list)
    _paging: PagingCache | None = None

    @property
    def paging(self) -> PagingCache:
        """Routing population, policies and contacts, read once per batch (not per incident)."""
        if self._paging is None:
            self._paging = PagingCache(self.session, self.settings, self.now)
        return self._paging


def process_alerts(
    session: Session,
    alerts: Iterable[Alert],
    *,
    settings: Settings,
    now: datetime,
    metrics: PipelineMetrics | None = None,
    integration_id: int | None = None,
    raw: Mapping[str, Any] | None = None,
) -> PipelineResult:
    """Run ``alerts`` through the pipeline inside ``session`` (flushed, not committed)."""
    ctx = ShellContext(now, session, settings, metrics, integration_id)
    alerts = with_integration_service(session, alerts, integration_id)
    stages = [
        record_stage(raw or {}),
        dedup_stage,
        mute_stage(load_muters(session, now), on_muted=lambda a, r: _count_muted(ctx, a, r)),
        unhold_stage,
        incident_stage,
        route_stage,
        notify_stage,
    ]
    run_pipeline(stages, alerts, ctx)
    # Muted problems are held, so they are raised once when nothing mutes them any more.
    hold(session, ctx.held, now)
    # The audit rows go in last, in one multi-row INSERT, with their incident already known
    # (inserting them first would cost an UPDATE per row once the incident stage ran).
    records = [row for rows in ctx.received.values() for row in rows]
    if records:
        session.execute(insert(AlertReceived), records)
    session.flush()
    return ctx.result


def with_integration_service(
    session: Session, alerts: Iterable[Alert], integration_id: int | None
) -> list[Alert]:
    """Alerts posted through an integration created with a service belong to that service
    (unless the alert names its own): incidents, routing and silences see it."""
    alerts = list(alerts)
    if integration_id is None:
        return alerts
    service = session.scalar(select(Integration.service).where(Integration.id == integration_id))
    if not service:
        return alerts
    return [
        alert
        if alert.service
        else replace(alert, service=service, labels={"service": service, **alert.labels})
        for alert in alerts
    ]


# --- stages -------------------------------------------------------------------------------------


def record_stage(raw: Mapping[str, Any]) -> Any:
    def stage(alerts: list[Alert], ctx: ShellContext) -> list[Alert]:
        for alert in alerts:
            row = {
                "source": alert.source.value,
                "dedup_key": alert.dedup_key,
                "fingerprint": alert.source_ids.get("fingerprint", "")[:80],
                "status": alert.status.value,
                "summary": alert.summary[:1024],
                "received_at": ctx.now,
                "integration_id": ctx.integration_id,
                "incident_id": None,
                "muted_reason": None,
                "raw": raw.get(alert.dedup_key) or _alert_raw(alert),
            }
            ctx.received.setdefault(alert.dedup_key, []).append(row)
        return alerts

    return stage


def _alert_raw(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "severity": alert.severity.value,
        "source_ids": dict(alert.source_ids),
    }


def _count_muted(ctx: ShellContext, alert: Alert, reason: str) -> None:
    ctx.result.muted.append((alert.dedup_key, reason))
    if alert.firing and reason != POLLER_OFFLINE:
        # Not held while the poller is offline: the check's first real result afterwards
        # settles it (a changed or recovery flip), and the poller has its own incident.
        ctx.held.append((alert, reason))
    for row in ctx.received.get(alert.dedup_key, []):
        row["muted_reason"] = reason[:120]
    if ctx.metrics is not None:
        ctx.metrics.suppressed.labels(suppression_label(reason)).inc()


@dataclass(frozen=True, slots=True)
class EngineVerdictMuter:
    """The check engine already decided a flip must not notify (``details["muted_by"]``)."""

    def mutes(self, alert: Alert, now: datetime) -> str | None:
        verdict = alert.details.get("muted_by")
        return str(verdict) if verdict else None


def load_muters(session: Session, now: datetime) -> list[Muter]:
    """Maintenance first (so it is what gets counted), then silences, then parent down."""
    silences = []
    for row in session.scalars(
        select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    ):
        try:
            silences.append(
                Silence.from_text(
                    str(row.id),
                    row.matchers,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    created_by=row.created_by,
                    comment=row.comment,
                )
            )
        except (MatcherError, SilenceError):
            continue  # validated on write; an old unparsable row must not stop the pipeline
    muters: list[Muter] = [EngineVerdictMuter(), SilenceMuter(tuple(silences))]
    parent_down = load_parent_down_muter(session)
    if parent_down is not None:
        muters.append(parent_down)
    return muters


def load_parent_down_muter(session: Session) -> Muter | None:
    """``ParentDownMuter`` from the check engine's dependencies and states, once they exist.

    "Down" is the check engine's own definition (``checks.dependencies``: HARD and not one of
    the child's up states, OK and WARNING by default), so a check the engine does not mark
    UNREACHABLE is never muted here either."""
    try:
        from checks.dependencies import down_parents
        from dutydesk.incidents.alerts.model import ParentDownMuter
    except ImportError:
        return None
    down = down_parents(session)
    if not down:
        return None
    return ParentDownMuter(parents=down,
                           down=frozenset(p for parents in down.values() for p in parents))


def unhold_stage(alerts: list[Alert], ctx: ShellContext) -> list[Alert]:
    """What passed the mute stage is no longer held: a recovery ends the problem, and a problem
    alerting on its own needs no release (``dutydesk.incidents.held``)."""
    forget(ctx.session, [alert.dedup_key for alert in alerts])
    return alerts


def incident_stage(alerts: list[Alert], ctx: ShellContext) -> list[Alert]:
    """Open, attach, re-open or auto-resolve; returns the alerts that opened an incident.

    One query finds the open incidents of every alert in the batch (plain rows: attaching needs
    only the id, the last alert time, the flapping mark and the sources); one more finds the
    recently auto-resolved incidents of the new problems (they re-open, ``noise``); the
    incidents to open are inserted together (``_open_all``); the attached ones are counted in
    one UPDATE (``_count_repeats``).
    """
    s = ctx.session
    keys = [a.dedup_key for a in alerts]
    open_by_key: dict[str, noise.OpenIncident] = {
        row.open_key: noise.OpenIncident(
            row.id, row.last_alert_at, bool(row.flapping), row.alert_sources
        )
        for row in s.execute(
            select(
                Incident.id,
                Incident.open_key,
                Incident.last_alert_at,
                Incident.flapping,
                Incident.alert_sources,
            ).where(Incident.open_key.in_(keys))
        )
    }
    new = [a for a in alerts if a.firing and a.dedup_key not in open_by_key]
    returning = noise.find_returning(s, new, ctx.now, noise.reopen_window(ctx.settings))
    to_open = [a for a in new if a.dedup_key not in returning]
    opened_now = _open_all(ctx, to_open) if to_open else {}
    opened: list[Alert] = []
    repeats: list[int] = []
    for alert in alerts:
        found = open_by_key.get(alert.dedup_key)
        incident_id = found.id if found else None
        if alert.firing and found is None and alert.dedup_key in returning:
            incident, after = returning[alert.dedup_key]
            incident_id = noise.returned(ctx, incident, after, alert)
        elif alert.firing and found is None:
            incident, created = opened_now[alert.dedup_key]
            incident_id = incident.id
            if created:
                opened.append(alert)
                if alert.details.get("flapping") == "started":
                    noise.set_flapping(s, ctx.settings, incident, alert, ctx.now, ctx.paging,
                                       flapping=True, page=False)  # its first page says it
            else:
                _attach(ctx, incident.id, incident.last_alert_at, alert)
                repeats.append(incident.id)
        elif alert.firing and found is not None:
            _attach(ctx, found.id, found.last_alert_at, alert)
            noise.track_source(ctx, found, alert)
            repeats.append(found.id)
            change = flap_change(alert, found.flapping)
            if change is not FlapChange.NONE:
                noise.set_flapping(s, ctx.settings, found.id, alert, ctx.now, ctx.paging,
                                   flapping=change is FlapChange.STARTS, page=True)
        elif found is not None:
            still = noise.track_source(ctx, found, alert)
            if still:
                noise.still_firing(ctx, found.id, alert, still)
            else:
                if flap_change(alert, found.flapping) is FlapChange.ENDS:
                    noise.set_flapping(s, ctx.settings, found.id, alert, ctx.now, ctx.paging,
                                       flapping=False, page=False)  # "resolved" is the end page
                _auto_resolve(ctx, found.id, alert)
        if incident_id is not None:
            ctx.result.incident_for[alert.dedup_key] = incident_id
            for row in ctx.received.get(alert.dedup_key, []):
                row["incident_id"] = incident_id
    _count_repeats(ctx, repeats)
    return opened


def _count_repeats(ctx: ShellContext, incident_ids: list[int]) -> None:
    """One more alert on each incident (each at most once per batch: keys are deduplicated).

    An increment in SQL, not read-modify-write, so two requests attaching at once both count.
    """
    if incident_ids:
        ctx.session.execute(
            update(Incident)
            .where(Incident.id.in_(incident_ids))
            .values(alert_count=func.coalesce(Incident.alert_count, 0) + 1, last_alert_at=ctx.now)
            .execution_options(synchronize_session=False)
        )


def _open_all(ctx: ShellContext, alerts: list[Alert]) -> dict[str, tuple[Incident, bool]]:
    """Open an incident for each alert: ``{dedup_key: (incident, created)}``.

    All in one SAVEPOINT and one multi-row INSERT. Opening relies on the UNIQUE ``open_key``:
    when another request opened one of these problems a moment ago the whole insert fails, the
    SAVEPOINT is rolled back and each alert is opened on its own (``_open``), so the losers
    attach to the winners' incidents. ``created`` is False for those.
    """
    s = ctx.session
    snapshot = sla_snapshot(sla_policy(ctx.settings))
    built = [_new_incident(ctx, alert, snapshot) for alert in alerts]
    try:
        with s.begin_nested():
            s.add_all(incident for incident, _events in built)
            s.flush()
    except IntegrityError:
        for incident, _events in built:
            if incident in s:
                s.expunge(incident)
        return {alert.dedup_key: _open(ctx, alert, snapshot) for alert in alerts}
    result: dict[str, tuple[Incident, bool]] = {}
    for alert, (incident, events) in zip(alerts, built, strict=True):
        _opened(ctx, incident, events, stored=True)
        result[alert.dedup_key] = (incident, True)
    # The opening events of the whole batch in one multi-row INSERT, before anything else is
    # recorded for these incidents (a timeline is ordered by time, then id).
    s.execute(
        insert(IncidentEventRow),
        [
            {
                "incident_id": incident.id,
                "kind": event.kind.value,
                "at": event.at,
                "actor": event.actor[:200],
                "data": dict(event.data),
            }
            for incident, events in built
            for event in events
        ],
    )
    return result


def _new_incident(
    ctx: ShellContext, alert: Alert, snapshot: dict[str, Any]
) -> tuple[Incident, list[IncidentEvent]]:
    """A new (not yet added) incident row for ``alert`` and its opening events."""
    impact = parse_impact(alert.details.get("impact", 2))
    # The source's urgency (CRITICAL → high); a check configured as more urgent raises it.
    urgency = urgency_for_severity(alert.severity)
    if alert.source in (AlertSource.ALERTMANAGER, AlertSource.PAGERDUTY, AlertSource.REDFISH):
        # an outside alert has only its severity: the operator's table gives impact and urgency
        table_impact, urgency = levels_for_severity(
            alert.severity, parse_severity_table(ctx.settings.severity_table))
        if "impact" not in alert.details:
            impact = table_impact
    if alert.details.get("urgency"):
        urgency = min(urgency, parse_urgency(alert.details["urgency"]))
    priority = default_priority(urgency=urgency, impact=impact)
    state, events = open_incident(priority=priority, actor=alert.source.value, now=ctx.now)
    incident = Incident(
        dedup_key=alert.dedup_key,
        group_key=alert.group_key[:300],
        title=alert.summary[:1024],
        source=alert.source.value,
        severity=alert.severity.value,
        priority=str(priority),
        impact=int(impact),
        urgency=int(urgency),
        service=alert.service,
        check_id=alert.check_id,
        labels=dict(alert.labels),
        alert_count=1,
        last_alert_at=ctx.now,
        sla_targets=dict(snapshot),
        created_at=ctx.now,
        version=1,
        returns_count=0,
        flapping=False,
        alert_sources=_first_source(ctx, alert),
    )
    apply_to_row(incident, state, ctx.now)
    return incident, list(events)


def _first_source(ctx: ShellContext, alert: Alert) -> dict[str, Any] | None:
    sid = sources.source_id(alert, ctx.integration_id)
    if sid is None:
        return None
    return sources.record(None, sid, sources.source_label(alert), alert, ctx.now)


def _open(ctx: ShellContext, alert: Alert, snapshot: dict[str, Any]) -> tuple[Incident, bool]:
    """Open one incident in its own SAVEPOINT; attach to the winner of a race instead."""
    s = ctx.session
    incident, events = _new_incident(ctx, alert, snapshot)
    try:
        with s.begin_nested():
            s.add(incident)
            s.flush()
    except IntegrityError:
        # Another request opened the same problem a moment ago: attach to its incident.
        winner = s.scalar(select(Incident).where(Incident.open_key == alert.dedup_key))
        if winner is None:
            raise
        return winner, False
    _opened(ctx, incident, events)
    return incident, True


def _opened(
    ctx: ShellContext, incident: Incident, events: list[IncidentEvent], *, stored: bool = False
) -> None:
    if not stored:
        add_events(ctx.session, incident.id, events)
    ctx.opened.append(incident)
    ctx.opened_events[incident.id] = events
    ctx.result.opened.append(incident.id)


def _attach(
    ctx: ShellContext, incident_id: int, previous: datetime | None, alert: Alert
) -> None:
    """Record a repeat of an open incident's alert on its timeline (at most once a minute).

    The count itself is raised by ``_count_repeats`` for the whole batch."""
    if previous is None or ctx.now - previous >= REPEAT_EVENT_EVERY:
        add_events(
            ctx.session,
            incident_id,
            [
                IncidentEvent(
                    EventKind.ALERT,
                    ctx.now,
                    alert.source.value,
                    {"dedup_key": alert.dedup_key, "status": alert.status.value},
                )
            ],
        )
    if incident_id not in ctx.result.opened and incident_id not in ctx.result.attached:
        ctx.result.attached.append(incident_id)


def _auto_resolve(ctx: ShellContext, incident_id: int, alert: Alert) -> None:
    reason = f"{alert.source.value} reported recovery"
    if alert.summary:
        reason += f" ({alert.summary})"
    try:
        resolved, _events = act(
            ctx.session,
            incident_id,
            "resolve",
            alert.source.value,
            ctx.now,
            note=f"auto-resolved: {reason}"[:1000],
        )
    except LifecycleError:
        return  # resolved meanwhile by a person: nothing left to do
    ctx.result.resolved.append(incident_id)
    # Whoever was paged learns it is over, in this same transaction (the outbox).
    notify_resolved(
        ctx.session, ctx.settings, resolved, reason=reason[:500], now=ctx.now, cache=ctx.paging
    )


def route_stage(alerts: list[Alert], ctx: ShellContext) -> list[Alert]:
    """Decide who is paged for each newly opened incident (escalation step 1 and its people)."""
    for incident in ctx.opened:
        ctx.plans[incident.id] = plan_pages(
            ctx.session,
            ctx.settings,
            incident,
            ctx.now,
            cache=ctx.paging,
            events=ctx.opened_events.get(incident.id),
        )
    return alerts


def notify_stage(alerts: list[Alert], ctx: ShellContext) -> list[Alert]:
    """Write the pages to the outbox, in the same transaction as the incident."""
    for incident in ctx.opened:
        send_pages(
            ctx.session,
            ctx.settings,
            incident,
            ctx.plans.get(incident.id, []),
            ctx.now,
            cache=ctx.paging,
            flush=False,  # process_alerts flushes once for the whole batch
        )
    return alerts
