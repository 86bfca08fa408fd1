"""The incident area's periodic work, listed in ``dutydesk.jobs.scheduled_jobs``.

- ``process_flips``: claim unprocessed check flips (``UPDATE flips SET processed_at = :now WHERE
  id = :id AND processed_at IS NULL``; only rows where exactly one row changed are ours) and run
  them through the alert pipeline in the same transaction, so a crash never loses or doubles one.
  Then ``release_held`` raises, once, the muted problems nothing mutes any more, and
  ``raise_poller_incident`` the one "poller offline" incident (``dutydesk.incidents.poller``).
- ``run_clocks``: for every incident whose ``clock_due_at`` has come (the next SLA threshold,
  escalation step or acknowledgement timeout, stored per incident and reset to "now" whenever
  its timeline changes), record SLA warnings/breaches, re-trigger expired acknowledgements, and
  page the escalation steps that are due. Due incidents are claimed ``FOR UPDATE SKIP LOCKED``
  on PostgreSQL and each is compare-and-set on ``version`` before anything is written, so
  several workers share the work and none waits for another.
- ``purge_once`` (``dutydesk.incidents.retention``): received alerts past
  ``DUTYDESK_ALERT_RETENTION_DAYS`` are deleted in bounded batches, except an open incident's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.dbclock import server_now
from dutydesk.incidents.alerts.model import check_alert
from dutydesk.incidents.escalation import (
    EscalationError,
    EscalationPolicy,
    EscalationStatus,
    escalation_due,
)
from dutydesk.incidents.events import ACK_TIMEOUT_REASON, SNOOZE_ENDED_REASON
from dutydesk.incidents.held import (
    alert_from_json,
    claim,
    expired,
    held_rows,
    released_alert,
    still_a_problem,
)
from dutydesk.incidents.keep_paging import repage_due, send_repage
from dutydesk.incidents.lifecycle import Action, LifecycleError
from dutydesk.incidents.models import Incident
from dutydesk.incidents.noise import resolve_expired
from dutydesk.incidents.page_actions import purge_token_uses
from dutydesk.incidents.paging import page_due_steps
from dutydesk.incidents.pipeline import PipelineMetrics, process_alerts
from dutydesk.incidents.pipeline_mute import load_muters
from dutydesk.incidents.poller import raise_poller_incident
from dutydesk.incidents.recipients import policy_for
from dutydesk.incidents.retention import purge_once
from dutydesk.incidents.sla import SlaError, SlaPolicy, SlaStatus, sla_clock, sla_events_due
from dutydesk.incidents.sla_config import policy_from_snapshot
from dutydesk.incidents.store import act, add_events, timeline
from dutydesk.incidents.storm_io import send_digests

log = logging.getLogger("dutydesk.incidents")
ALERT_FLIP_KINDS = ("problem", "recovery", "changed")
FLAPPING_FLIP_KINDS = {"flapping_started": "started", "flapping_stopped": "stopped"}


def process_flips(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    metrics: PipelineMetrics | None = None,
    limit: int = 200,
) -> int:
    """Feed unprocessed alert flips to the pipeline; returns how many flips this call claimed.

    ``now`` defaults to the database's (one query), so a worker whose clock is off cannot
    stamp incidents in the future. On PostgreSQL the flips are selected ``FOR UPDATE SKIP
    LOCKED``: workers take disjoint batches instead of queueing behind each other's."""
    try:
        from checks.models import Check, FlipRow
    except ImportError:  # the check engine is not installed in this build
        return 0
    with db.session() as s:
        now = now or server_now(s)
        query = (
            select(FlipRow)
            .where(FlipRow.processed_at.is_(None))
            .order_by(FlipRow.id)
            .limit(limit)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        candidates = list(s.scalars(query))
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
            flapping = FLAPPING_FLIP_KINDS.get(flip.kind)
            if flip.kind not in ALERT_FLIP_KINDS and flapping is None:
                continue  # informational (maintenance started, unreachable...): not an alert
            check = s.get(Check, flip.check_id)
            if check is None:
                continue
            alert = flip_alert(check, flip, flapping)
            details = {"impact": check.impact, "urgency": check.urgency, "flip_id": flip.id}
            if flapping:
                details["flapping"] = flapping
            if flip.muted_by:
                details["muted_by"] = flip.muted_by
            alerts.append(dataclasses.replace(alert, details=details))
        for run in in_order_runs(alerts):
            process_alerts(s, run, settings=settings, now=now, metrics=metrics)
        # In the same transaction: a maintenance_ended flip of this batch releases at once.
        release_held(s, settings, now=now, metrics=metrics)
        raise_poller_incident(s, settings, now=now, metrics=metrics)
    return claimed


def release_held(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    metrics: PipelineMetrics | None = None,
) -> int:
    """Raise, exactly once, each held alert nothing mutes any more (``dutydesk.incidents.held``):
    maintenance over, silence expired, parent back. A held check alert whose check is no longer
    in a HARD problem, or an external alert past its end, is dropped instead. Each release is
    claimed with a compare-and-set DELETE, so several workers never raise one twice. Returns
    how many alerts were released."""
    rows = held_rows(session)
    if not rows:
        return 0
    states: dict[int, tuple[str, str | None, bool]] = {}
    check_ids = [row.check_id for row in rows if row.check_id is not None]
    from checks.models import CheckStateRow

    if check_ids:
        states = {
            check_id: (state_type, last_status, in_maintenance)
            for check_id, state_type, last_status, in_maintenance in session.execute(
                select(CheckStateRow.check_id, CheckStateRow.state_type,
                       CheckStateRow.last_status, CheckStateRow.in_maintenance)
                .where(CheckStateRow.check_id.in_(check_ids)))
        }
    muters = load_muters(session, now)
    ready = []
    for row in rows:
        alert = alert_from_json(row.alert)
        if alert is None or expired(alert, now):
            claim(session, row)
            continue
        if alert.check_id is not None:
            state = states.get(alert.check_id)
            if state is None or not still_a_problem(state[0], state[1]):
                claim(session, row)  # recovered (or deleted): nothing to raise
                continue
            if state[2]:
                continue  # the engine still sees the check in its maintenance window
        if any(muter.mutes(alert, now) for muter in muters):
            continue
        if claim(session, row):
            ready.append(released_alert(alert, row.reason, row.since, now, settings.timezone))
    if ready:
        process_alerts(session, ready, settings=settings, now=now, metrics=metrics)
    return len(ready)


def in_order_runs(alerts: list[Any]) -> list[list[Any]]:
    """``alerts`` cut, in order, into runs in which each dedup key appears once. Flips are
    facts, each in its turn: a problem and its recovery claimed in one batch (a remote probe's
    results replayed after a link outage, a worker that was busy) must open the incident and
    then resolve it, as they would have one batch apart, not cancel out in the pipeline's
    dedup stage (which keeps the last alert of a key in a batch)."""
    runs: list[list[Any]] = []
    keys: set[str] = set()
    for alert in alerts:
        if not runs or alert.dedup_key in keys:
            runs.append([])
            keys = set()
        runs[-1].append(alert)
        keys.add(alert.dedup_key)
    return runs


def flip_alert(check: Any, flip: Any, flapping: str | None) -> Any:
    """The alert for one flip. Flapping *is* the problem while it lasts: a check that starts
    flapping fires (with its current status, at least WARNING) so its incident stays open;
    when it stops, the alert carries the final status (OK resolves)."""
    name = check.display_name or check.slug
    status = flip.new_status
    message = flip.reason or ""
    if flapping == "started":
        status = status if status in ("WARNING", "CRITICAL", "UNKNOWN") else "WARNING"
        message = f"flapping: {message}"
    elif flapping == "stopped":
        message = f"stopped flapping: {message}"
    alert = check_alert(
        check_id=check.id,
        check_name=name,
        status_name=status,
        message=message,
        at=flip.at,
        service=check.service or None,
        labels={str(k): str(v) for k, v in (check.labels or {}).items()},
    )
    if flapping == "started":
        alert = dataclasses.replace(alert, summary=f"{name} is flapping ({flip.reason or ''})"
                                    [:1024])
    return alert


#: The longest an open incident goes unvisited by the clock job, so that an escalation policy or
#: SLA setting edited meanwhile is applied within this time.
MAX_CLOCK_SLEEP = timedelta(minutes=10)
#: The soonest an incident is visited again (a threshold reached exactly now is not skipped).
MIN_CLOCK_GAP = timedelta(seconds=1)


def next_clock_at(
    sla: SlaStatus | None, escalation: EscalationStatus | None, now: datetime,
    repage_at: datetime | None = None,
) -> datetime:
    """When the clock job must look at an incident next: its next SLA threshold, escalation
    step or acknowledgement timeout (``escalation.next_due_at`` includes the latter), or repeat
    of an unacknowledged page (``repage_at``), at least ``MIN_CLOCK_GAP`` and at most
    ``MAX_CLOCK_SLEEP`` after ``now``."""
    moments = [m for m in (sla.next_check_at if sla is not None else None,
                           escalation.next_due_at if escalation is not None else None,
                           repage_at) if m]
    soonest = min(moments, default=now + MAX_CLOCK_SLEEP)
    return min(max(soonest, now + MIN_CLOCK_GAP), now + MAX_CLOCK_SLEEP)


def run_clocks(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    batch: int = 50,
    budget: float = 4.0,
) -> int:
    """SLA events, acknowledgement timeouts and escalation pages; returns incidents changed.

    Due incidents are found by the indexed ``incidents.clock_due_at`` (most overdue first, so
    none starves however many are open), ``batch`` at a time, each batch in one transaction;
    on PostgreSQL they are locked ``FOR UPDATE SKIP LOCKED``, so several workers share a pass.
    A pass goes on until nothing is due or ``budget`` seconds have passed (the next pass, 5 s
    later, continues). ``now`` defaults to the database's clock, read once per batch."""
    deadline = time.monotonic() + budget
    changed = 0
    while time.monotonic() < deadline:
        with db.session() as s:
            at = now or server_now(s)
            query = (
                select(Incident.id)
                .where(Incident.clock_due_at <= at)
                .order_by(Incident.clock_due_at, Incident.id)
                .limit(batch)
            )
            if db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(s.scalars(query))
            for incident_id in ids:
                try:
                    with s.begin_nested():
                        changed += _tick(s, settings, incident_id, at)
                except Exception:  # one broken incident must not stop the others
                    log.exception("incident clock failed", extra={"incident_id": incident_id})
                    s.execute(update(Incident).where(Incident.id == incident_id)
                              .values(clock_due_at=at + MAX_CLOCK_SLEEP)
                              .execution_options(synchronize_session=False))
        if len(ids) < batch:
            break
    return changed


def _readings(
    s: Session, settings: Settings, incident: Incident, events: list[Any], now: datetime
) -> tuple[SlaPolicy, SlaStatus | None, EscalationPolicy, EscalationStatus | None]:
    sla_policy = policy_from_snapshot(incident.sla_targets, settings)
    policy = policy_for(s, incident)
    try:
        sla = sla_clock(sla_policy, events, now)
    except SlaError:
        sla = None
    try:
        escalation = escalation_due(policy, events, now)
    except EscalationError:
        escalation = None
    return sla_policy, sla, policy, escalation


def _set_clock(s: Session, incident_id: int, at: datetime | None) -> None:
    s.execute(update(Incident).where(Incident.id == incident_id).values(clock_due_at=at)
              .execution_options(synchronize_session=False))


def _tick(
    s: Session,
    settings: Settings,
    incident_id: int,
    now: datetime,
) -> int:
    incident = s.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        return 0
    if incident.status == "resolved":
        _set_clock(s, incident_id, None)
        return 0
    events = timeline(s, incident.id)
    sla_policy, sla, policy, escalation = _readings(s, settings, incident, events, now)
    sla_due = sla_events_due(sla_policy, events, now) if sla is not None else []
    if sla_due:
        escalation = escalation_due(policy, [*events, *sla_due], now)
    due = escalation is not None and (escalation.due or escalation.retrigger_due)
    repage = repage_due(policy, escalation, incident.priority, events, now)
    if not sla_due and not due and not repage.due:
        _set_clock(s, incident_id, next_clock_at(sla, escalation, now, repage.next_at))
        return 0
    # Claim the incident for this tick: only one worker writes these events.
    claim = s.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.version == incident.version)
        .values(version=incident.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if claim.rowcount != 1:
        return 0  # changed meanwhile: it was marked due again and is looked at next pass
    s.expire(incident)
    if sla_due:
        # The breach counter on /metrics is read from these events (dutydesk.web.incident_metrics).
        add_events(s, incident.id, sla_due)
        s.flush()
    if escalation is not None and escalation.retrigger_due:
        with contextlib.suppress(LifecycleError):  # resolved or resumed meanwhile
            act(
                s,
                incident.id,
                Action.UNACKNOWLEDGE,
                "escalation",
                now,
                reason=SNOOZE_ENDED_REASON if escalation.snoozed else ACK_TIMEOUT_REASON,
            )
    incident = s.get(Incident, incident.id, populate_existing=True)
    page_due_steps(s, settings, incident, now)
    if repage.due and not due and not sla_due:  # nothing else moved: the repeat stands
        send_repage(s, settings, incident, repage, policy.repage_minutes, now)
    s.flush()
    # What was just recorded moves the next instants on: read them from the timeline as it is.
    refreshed = s.get(Incident, incident.id, populate_existing=True)
    if refreshed is None or refreshed.status == "resolved":
        _set_clock(s, incident_id, None)
    else:
        events = timeline(s, incident.id)
        _, sla, policy, escalation = _readings(s, settings, refreshed, events, now)
        repage = repage_due(policy, escalation, refreshed.priority, events, now)
        _set_clock(s, incident_id, next_clock_at(sla, escalation, now, repage.next_at))
    return 1


def _purge_token_uses(db: Database, settings: Settings) -> int:
    with db.session() as s:
        return purge_token_uses(s, settings, server_now(s))


def incident_jobs(
    settings: Settings, db: Database, metrics: PipelineMetrics | None = None
) -> list[Any]:
    """The jobs ``dutydesk.jobs.scheduled_jobs`` lists for the incident area; ``metrics`` (the
    worker's) counts the flips the pipeline mutes."""
    from dutydesk.core.jobs import Job

    return [
        Job(
            id="incident-flips",
            name="check flips through the alert pipeline",
            func=lambda: process_flips(db, settings, metrics=metrics),
            trigger_args={"seconds": 1},
            one_runner=False,  # workers share the flips, claimed FOR UPDATE SKIP LOCKED
        ),
        Job(
            id="incident-clocks",
            name="SLA warnings and breaches, acknowledgement timeouts, escalation pages",
            func=lambda: run_clocks(db, settings),
            trigger_args={"seconds": 5},
            one_runner=False,  # workers share the due incidents, claimed SKIP LOCKED
        ),
        Job(
            id="alert-sources-expired",
            name="resolve incidents whose every Alertmanager let its alert expire",
            func=lambda: resolve_expired(db, settings, utcnow()),
            trigger_args={"seconds": 30},
        ),
        Job(
            id="page-digests",
            name="storm control: fold held pages into one digest per person and channel",
            func=lambda: send_digests(db, settings),
            trigger_args={"seconds": 15},
        ),
        Job(
            id="page-token-uses-retention",
            name="forget uses of page links and replies older than any link can live",
            func=lambda: _purge_token_uses(db, settings),
            trigger_args={"minutes": 30},
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
