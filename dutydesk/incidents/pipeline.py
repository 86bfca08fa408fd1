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

The stages live beside it: record, mute and unhold in ``pipeline_mute``, incident in
``pipeline_incident``; route and notify here (``incidents.paging``). The SLA targets stored on
each new incident come from ``incidents.sla_config``.

The caller owns the transaction: it commits after ``process_alerts`` returns, or rolls back (and
answers 5xx so the sender retries) when storage failed.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.incidents.alerts.model import Alert, dedup_stage, mute_stage, run_pipeline
from dutydesk.incidents.events import IncidentEvent
from dutydesk.incidents.held import hold
from dutydesk.incidents.models import AlertReceived, Incident, Integration
from dutydesk.incidents.paging import PagePlan, plan_pages, send_pages
from dutydesk.incidents.pipeline_incident import incident_stage
from dutydesk.incidents.pipeline_mute import count_muted, load_muters, record_stage, unhold_stage
from dutydesk.incidents.recipients import PagingCache

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
        mute_stage(load_muters(session, now), on_muted=lambda a, r: count_muted(ctx, a, r)),
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


# --- stages (the others: pipeline_mute, pipeline_incident) -----------------------------------


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
