"""The incident stage's I/O for returning problems, flapping checks and alert sources.

The decisions are pure (``dutydesk.incidents.returns``, ``dutydesk.incidents.sources``); this
module reads and writes the rows and the outbox in the caller's transaction. The pipeline's
incident stage (``dutydesk.incidents.pipeline``) calls it with its context (``ctx``: ``session``,
``settings``, ``now``, ``paging``, ``integration_id``, ``result``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.incidents import sources
from dutydesk.incidents.alerts.model import Alert
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.lifecycle import Action
from dutydesk.incidents.models import Incident
from dutydesk.incidents.paging import (
    notify_people,
    paged_people,
    plan_pages,
    send_pages,
)
from dutydesk.incidents.recipients import PagingCache
from dutydesk.incidents.returns import AUTOMATIC_ACTORS, FlapChange, flap_change, returned_after
from dutydesk.incidents.store import act, add_events, timeline


def reopen_window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.reopen_window_minutes)


def find_returning(
    session: Session, alerts: Iterable[Alert], now: datetime, window: timedelta
) -> dict[str, tuple[Incident, timedelta]]:
    """``{dedup_key: (incident, returned after)}`` for the firing alerts whose last incident was
    resolved automatically within ``window`` (one query for the whole batch)."""
    keys = [a.dedup_key for a in alerts if a.firing]
    if not keys or window <= timedelta(0):
        return {}
    latest: dict[str, Incident] = {}
    for incident in session.scalars(
        select(Incident)
        .where(
            Incident.dedup_key.in_(keys),
            Incident.status == "resolved",
            Incident.resolved_at >= now - window,
            Incident.resolved_by.in_(sorted(AUTOMATIC_ACTORS)),
        )
        .order_by(Incident.id)
    ):
        latest[incident.dedup_key] = incident  # the newest one wins
    found = {}
    for key, incident in latest.items():
        after = returned_after(incident.resolved_by, incident.resolved_at, now, window)
        if after is not None:
            found[key] = (incident, after)
    return found


def return_incident(
    session: Session,
    settings: Settings,
    incident: Incident,
    after: timedelta,
    alert: Alert,
    now: datetime,
    cache: PagingCache,
) -> Incident:
    """Re-open ``incident`` because its problem came back ``after`` its automatic resolve.

    The lifecycle's reopen starts a new escalation cycle; its first step is routed at once, but
    only people not already paged for this incident are paged (the others have it already); the
    step is recorded with everybody, so all of them hear when it ends.
    """
    minutes = max(int(after.total_seconds() // 60), 0)
    reopened, _events = act(
        session,
        incident.id,
        Action.REOPEN,
        alert.source.value,
        now,
        reason=f"problem returned after {minutes} min",
        returned_after_s=int(after.total_seconds()),
    )
    session.execute(
        update(Incident)
        .where(Incident.id == incident.id)
        .values(
            returns_count=Incident.returns_count + 1,
            alert_count=Incident.alert_count + 1,
            last_alert_at=now,
            title=alert.summary[:1024],
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(reopened)
    events = timeline(session, incident.id)
    already = paged_people(events)
    plans = plan_pages(session, settings, reopened, now, cache=cache, events=events)
    send_pages(session, settings, reopened, plans, now, cache=cache, flush=False, skip=already)
    return reopened


def set_flapping(
    session: Session,
    settings: Settings,
    incident: Incident | int,
    alert: Alert,
    now: datetime,
    cache: PagingCache,
    *,
    flapping: bool,
    page: bool,
) -> None:
    """Mark or unmark ``incident`` as flapping, on its timeline too.

    ``page``: tell the people paged for it (once: flapping started, or stopped with the check
    still failing; a recovery's own "resolved" message is the end page then).
    """
    incident_id = incident if isinstance(incident, int) else incident.id
    session.execute(
        update(Incident)
        .where(Incident.id == incident_id)
        .values(flapping=flapping)
        .execution_options(synchronize_session=False)
    )
    status = str(alert.labels.get("status") or alert.status.value)
    state = "started" if flapping else "stopped"
    add_events(
        session,
        incident_id,
        [IncidentEvent(EventKind.FLAPPING, now, alert.source.value,
                       {"state": state, "status": status})],
    )
    if not page:
        return
    row = session.get(Incident, incident_id, populate_existing=True)
    assert row is not None
    people = paged_people(timeline(session, incident_id))
    if flapping:
        prefix, why = "[FLAPPING] ", "the check started flapping; further pages are held"
    else:
        prefix, why = f"[{status}] ", f"the check stopped flapping and is now {status}"
    notify_people(
        session,
        settings,
        row,
        people,
        reason_key=f"flap:{state}:{now:%Y%m%dT%H%M%S%f}",
        why=why,
        now=now,
        cache=cache,
        subject_prefix=prefix,
        immediate=True,
    )


def store_sources(session: Session, incident_id: int, sources: dict[str, Any]) -> None:
    session.execute(
        update(Incident)
        .where(Incident.id == incident_id)
        .values(alert_sources=sources)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """What the incident stage reads of an open incident."""

    id: int
    last_alert_at: datetime | None
    flapping: bool
    alert_sources: dict[str, Any] | None


def returned(ctx: Any, incident: Incident, after: timedelta, alert: Alert) -> int:
    """The problem came back soon after an automatic resolve: re-open, do not re-create.

    When another request re-opened it a moment ago (the lifecycle refuses a second reopen),
    this alert simply belongs to that open incident."""
    from dutydesk.incidents.lifecycle import LifecycleError

    try:
        with ctx.session.begin_nested():
            reopened = return_incident(
                ctx.session, ctx.settings, incident, after, alert, ctx.now, ctx.paging
            )
    except LifecycleError:
        winner = ctx.session.scalar(select(Incident.id).where(Incident.open_key == alert.dedup_key))
        if winner is None:
            raise
        return int(winner)
    sid = sources.source_id(alert, ctx.integration_id)
    store_sources(
        ctx.session,
        reopened.id,
        sources.record(None, sid, sources.source_label(alert), alert, ctx.now) if sid else {},
    )
    if alert.details.get("flapping") == "started" and not reopened.flapping:
        set_flapping(ctx.session, ctx.settings, reopened.id, alert, ctx.now, ctx.paging,
                           flapping=True, page=True)
    elif reopened.flapping and flap_change(alert, True) is FlapChange.ENDS:
        set_flapping(ctx.session, ctx.settings, reopened.id, alert, ctx.now, ctx.paging,
                           flapping=False, page=False)
    if reopened.id not in ctx.result.attached:
        ctx.result.attached.append(reopened.id)
    return reopened.id


def track_source(ctx: Any, found: OpenIncident, alert: Alert) -> list[str]:
    """Record which sender said what; returns the *other* senders still firing (after a resolve).

    Alerts without a sender of their own (checks, PagerDuty) track nothing and return []."""
    sid = sources.source_id(alert, ctx.integration_id)
    if sid is None:
        return []
    updated = sources.record(found.alert_sources, sid, sources.source_label(alert), alert, ctx.now)
    store_sources(ctx.session, found.id, updated)
    return sources.still_firing(updated, ctx.now)


def still_firing(ctx: Any, incident_id: int, alert: Alert, still: list[str]) -> None:
    """One sender resolved while others still fire: say so on the timeline, keep it open."""
    add_events(
        ctx.session,
        incident_id,
        [
            IncidentEvent(
                EventKind.ALERT,
                ctx.now,
                alert.source.value,
                {
                    "dedup_key": alert.dedup_key,
                    "status": alert.status.value,
                    "source": sources.source_label(alert),
                    "still_firing": still,
                },
            )
        ],
    )
    if incident_id not in ctx.result.attached:
        ctx.result.attached.append(incident_id)


def resolve_expired(db: Any, settings: Settings, now: datetime) -> int:
    """Resolve the open incidents whose every sender let its alert expire (worker job).

    Alertmanager repeats a firing alert with a fresh ``endsAt``; a sender that goes silent
    (a site cut off, an HA member stopped) never sends the resolve. Returns incidents resolved.
    """
    from dutydesk.incidents.lifecycle import LifecycleError
    from dutydesk.incidents.paging import notify_resolved

    with db.session() as s:
        candidates = list(
            s.execute(
                select(Incident.id, Incident.alert_sources, Incident.source).where(
                    Incident.status != "resolved", Incident.alert_sources.is_not(None)
                )
            )
        )
    done = 0
    for incident_id, alert_sources, source in candidates:
        if not sources.all_expired(alert_sources, now):
            continue
        with db.session() as s:
            reason = "every source's alert expired without a resolve (endsAt passed)"
            try:
                resolved, _events = act(s, incident_id, Action.RESOLVE, source, now,
                                        note=f"auto-resolved: {reason}")
            except LifecycleError:
                continue
            notify_resolved(s, settings, resolved, reason=reason, now=now)
            done += 1
    return done
