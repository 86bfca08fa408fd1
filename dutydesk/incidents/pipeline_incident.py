"""The pipeline's *incident* stage (assembled in ``dutydesk.incidents.pipeline``).

A firing alert opens an incident, or attaches to the open one with the same dedup key, or
re-opens one that was auto-resolved a moment ago (``dutydesk.incidents.noise``); a resolved
alert auto-resolves its incident and whoever was paged is told. Opening relies on the UNIQUE
``open_key``: the loser of a race attaches to the winner's incident.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dutydesk.incidents import noise, sources
from dutydesk.incidents.alerts.model import Alert, AlertSource
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.lifecycle import LifecycleError, open_incident
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.paging import notify_resolved
from dutydesk.incidents.priority import (
    default_priority,
    levels_for_severity,
    parse_impact,
    parse_severity_table,
    parse_urgency,
    urgency_for_severity,
)
from dutydesk.incidents.returns import FlapChange, flap_change
from dutydesk.incidents.sla_config import sla_policy, sla_snapshot
from dutydesk.incidents.store import act, add_events, apply_to_row

if TYPE_CHECKING:
    from dutydesk.incidents.pipeline import ShellContext

REPEAT_EVENT_EVERY = timedelta(minutes=1)
"""A repeat alert adds an ``alert`` timeline event at most this often (the count always grows)."""


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
        site_id=incident_site_id(ctx.session, alert),
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


def incident_site_id(session: Any, alert: Alert) -> int | None:
    """The site an incident opened for ``alert`` is about (the one rule): its check's site when
    the alert is a check's; else the site named by its ``site`` label (a probe-offline alert,
    an Alertmanager alert labelled ``site=kyiv-dc2``); else None (not one site's)."""
    from dutydesk.core.sites import Site

    if alert.check_id is not None:
        from checks.models import Check

        found = session.scalar(select(Check.site_id).where(Check.id == alert.check_id))
        if found is not None:
            return int(found)
    slug = alert.labels.get("site")
    if not slug:
        return None
    return session.scalar(select(Site.id).where(Site.slug == slug[:64]))


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
