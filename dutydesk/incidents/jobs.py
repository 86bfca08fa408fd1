"""The incident area's periodic work, listed in ``dutydesk.jobs.scheduled_jobs``.

- ``process_flips``: claim unprocessed check flips (``UPDATE flips SET processed_at = :now WHERE
  id = :id AND processed_at IS NULL``; only rows where exactly one row changed are ours) and run
  them through the alert pipeline in the same transaction, so a crash never loses or doubles one.
- ``run_clocks``: for every open incident, record SLA warnings/breaches, re-trigger expired
  acknowledgements, and page the escalation steps that are due. Each incident is claimed with a
  compare-and-set on ``version`` before anything is written, so several workers share the work.
- ``purge_once`` (``dutydesk.incidents.retention``): received alerts past
  ``DUTYDESK_ALERT_RETENTION_DAYS`` are deleted in bounded batches, except an open incident's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.alerts.model import check_alert
from dutydesk.incidents.escalation import escalation_due
from dutydesk.incidents.events import ACK_TIMEOUT_REASON
from dutydesk.incidents.lifecycle import Action, LifecycleError
from dutydesk.incidents.models import Incident
from dutydesk.incidents.paging import page_due_steps, policy_for
from dutydesk.incidents.pipeline import PipelineMetrics, policy_from_snapshot, process_alerts
from dutydesk.incidents.retention import purge_once
from dutydesk.incidents.sla import sla_events_due
from dutydesk.incidents.store import act, add_events, timeline

log = logging.getLogger("dutydesk.incidents")
ALERT_FLIP_KINDS = ("problem", "recovery", "changed")


def process_flips(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    metrics: PipelineMetrics | None = None,
    limit: int = 200,
) -> int:
    """Feed unprocessed alert flips to the pipeline; returns how many flips this call claimed."""
    try:
        from checks.models import Check, FlipRow
    except ImportError:  # the check engine is not installed in this build
        return 0
    now = now or utcnow()
    with db.session() as s:
        candidates = list(
            s.scalars(
                select(FlipRow)
                .where(FlipRow.processed_at.is_(None))
                .order_by(FlipRow.id)
                .limit(limit)
            )
        )
        alerts = []
        claimed = 0
        for flip in candidates:
            result = s.execute(
                update(FlipRow)
                .where(FlipRow.id == flip.id, FlipRow.processed_at.is_(None))
                .values(processed_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                continue  # another worker took it
            claimed += 1
            if flip.kind not in ALERT_FLIP_KINDS:
                continue  # informational (flapping, maintenance started...): not an alert
            check = s.get(Check, flip.check_id)
            if check is None:
                continue
            alert = check_alert(
                check_id=check.id,
                check_name=check.display_name or check.slug,
                status_name=flip.new_status,
                message=flip.reason or "",
                at=flip.at,
                service=check.service or None,
                labels={str(k): str(v) for k, v in (check.labels or {}).items()},
            )
            details = {"impact": check.impact, "urgency": check.urgency, "flip_id": flip.id}
            if flip.muted_by:
                details["muted_by"] = flip.muted_by
            alerts.append(dataclasses.replace(alert, details=details))
        if alerts:
            process_alerts(s, alerts, settings=settings, now=now, metrics=metrics)
    return claimed


def run_clocks(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 1000,
) -> int:
    """SLA events, acknowledgement timeouts and escalation pages; returns incidents changed."""
    now = now or utcnow()
    with db.session() as s:
        ids = list(
            s.scalars(
                select(Incident.id)
                .where(Incident.status != "resolved")
                .order_by(Incident.id)
                .limit(limit)
            )
        )
    changed = 0
    for incident_id in ids:
        try:
            with db.session() as s:
                changed += _tick(s, settings, incident_id, now)
        except Exception:  # one broken incident must not stop the others
            log.exception("incident clock failed", extra={"incident_id": incident_id})
    return changed


def _tick(
    s: Session,
    settings: Settings,
    incident_id: int,
    now: datetime,
) -> int:
    incident = s.get(Incident, incident_id)
    if incident is None or incident.status == "resolved":
        return 0
    events = timeline(s, incident.id)
    sla_due = sla_events_due(policy_from_snapshot(incident.sla_targets, settings), events, now)
    policy = policy_for(s, incident)
    escalation = escalation_due(policy, [*events, *sla_due], now)
    if not sla_due and not escalation.due and not escalation.retrigger_due:
        return 0
    # Claim the incident for this tick: only one worker writes these events.
    claim = s.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.version == incident.version)
        .values(version=incident.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if claim.rowcount != 1:
        return 0
    s.expire(incident)
    if sla_due:
        # The breach counter on /metrics is read from these events (dutydesk.web.incident_metrics).
        add_events(s, incident.id, sla_due)
        s.flush()
    if escalation.retrigger_due:
        with contextlib.suppress(LifecycleError):  # resolved or resumed meanwhile
            act(
                s,
                incident.id,
                Action.UNACKNOWLEDGE,
                "escalation",
                now,
                reason=ACK_TIMEOUT_REASON,
            )
    incident = s.get(Incident, incident.id, populate_existing=True)
    page_due_steps(s, settings, incident, now)
    return 1


def incident_jobs(
    settings: Settings, db: Database, metrics: PipelineMetrics | None = None
) -> list[Any]:
    """The jobs ``dutydesk.jobs.scheduled_jobs`` lists for the incident area; ``metrics`` (the
    worker's) counts the flips the pipeline mutes."""
    from dutydesk.jobs import Job

    return [
        Job(
            id="incident-flips",
            name="check flips through the alert pipeline",
            func=lambda: process_flips(db, settings, metrics=metrics),
            trigger_args={"seconds": 1},
        ),
        Job(
            id="incident-clocks",
            name="SLA warnings and breaches, acknowledgement timeouts, escalation pages",
            func=lambda: run_clocks(db, settings),
            trigger_args={"seconds": 5},
        ),
        Job(
            id="alerts-received-retention",
            name=(
                f"delete received alerts older than {settings.alert_retention_days} days "
                "(never those of open incidents), in bounded batches"
            ),
            func=lambda: purge_once(db, settings.alert_retention_days, utcnow()),
            trigger_args={"minutes": 10},
        ),
    ]
