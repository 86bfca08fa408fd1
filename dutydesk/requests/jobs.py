"""The requests area's periodic work: SLA warnings and breaches, closing resolved requests
nobody answered, and resolving the requests of incidents that were resolved."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.lookup import resolved_among
from dutydesk.requests.due import policy_of, refresh_due
from dutydesk.requests.events import EventKind
from dutydesk.requests.lifecycle import MAX_TEXT, Action
from dutydesk.requests.models import IncidentFollower, NoticeRelay, ServiceRequest
from dutydesk.requests.rules import ESCALATION_REASON, close_due, escalates
from dutydesk.requests.service import (
    IncidentMissing,
    notify_incident_update,
    perform,
    resolve_linked,
)
from dutydesk.requests.sla import sla_events_due
from dutydesk.requests.store import act, add_events, timelines_of
from shifts.notices.incident_updates import incident_notice_updates

log = logging.getLogger("dutydesk.requests")
OPEN = ("new", "in_progress", "waiting")


def record_sla_events(session: Session, now: datetime, chunk: int = 500) -> int:
    """Record due ``sla_warning``/``sla_breached`` events on every open request with a running
    clock, and hand a request whose time to resolve just breached on the first line to the
    second; returns the events. Requests are read ``chunk`` at a time (by id), each chunk's
    timelines in one query, so 10,000 open requests cost a few queries and none is skipped;
    a request waiting for its requester with no running clock (``sla_due_at`` NULL) cannot
    cross a threshold and is not read."""
    recorded = 0
    escalate: list[int] = []
    after = 0
    while True:
        rows = session.scalars(
            select(ServiceRequest)
            .where(ServiceRequest.status.in_(OPEN), ServiceRequest.id > after,
                   or_(ServiceRequest.sla_due_at.is_not(None),
                       ServiceRequest.status != "waiting"))
            .order_by(ServiceRequest.id).limit(chunk)).all()
        if not rows:
            break
        after = rows[-1].id
        timelines = timelines_of(session, [row.id for row in rows])
        for row in rows:
            due = sla_events_due(policy_of(row), timelines.get(row.id, []), now)
            add_events(session, row.id, due)
            recorded += len(due)
            breached = {str(e.data.get("clock")) for e in due
                        if e.kind is EventKind.SLA_BREACHED}
            if escalates(breached, row.line, row.status in OPEN):
                escalate.append(row.id)
        session.flush()
    for request_id in escalate:
        act(session, request_id, Action.REASSIGN, "sla", now, line="second_line",
            reason=ESCALATION_REASON)
    return recorded


def close_quiet_requests(session: Session, settings: Settings, now: datetime,
                         limit: int = 500) -> int:
    """Close resolved requests whose requester has not answered for N days."""
    after = timedelta(days=settings.request_close_after_days)
    ids = [row.id for row in session.scalars(
        select(ServiceRequest).where(ServiceRequest.status == "resolved",
                                     ServiceRequest.resolved_at <= now - after)
        .order_by(ServiceRequest.id).limit(limit)) if close_due(row.resolved_at, now, after)]
    for request_id in ids:
        perform(session, settings, "requests", request_id, Action.CLOSE, now,
                reason=f"no answer for {settings.request_close_after_days} days")
    return len(ids)


def follow_resolved_incidents(session: Session, settings: Settings, now: datetime) -> int:
    """Resolve the open requests linked to incidents that are resolved now (mailing each
    requester the resolution) and tell their followers; returns the requests resolved."""
    incident_ids = set(session.scalars(
        select(ServiceRequest.incident_id).where(ServiceRequest.incident_id.is_not(None),
                                                 ServiceRequest.status.in_(OPEN))))
    incident_ids |= set(session.scalars(select(IncidentFollower.incident_id).where(
        IncidentFollower.told_resolved_at.is_(None))))
    return sum(resolve_linked(session, settings, incident_id, now)
               for incident_id in resolved_among(session, incident_ids))


def fill_missing_due(session: Session, now: datetime, limit: int = 500) -> int:
    """Store the SLA deadline of open, running requests that have none yet (requests from
    before the queue sorted by it); returns the requests filled."""
    rows = list(session.scalars(select(ServiceRequest).where(
        ServiceRequest.status.in_(("new", "in_progress")), ServiceRequest.sla_due_at.is_(None))
        .order_by(ServiceRequest.id).limit(limit)))
    for row in rows:
        refresh_due(session, row, now)
    return len(rows)


NOTICE_RELAY_WINDOW = timedelta(days=2)  # older notice updates are news no more


def relay_notice_updates(session: Session, settings: Settings, now: datetime) -> int:
    """Pass each new update of a published outage notice on to the people affected by the
    incidents the notice is about (requesters of linked requests and followers), once each;
    returns the mails enqueued."""
    since = now - NOTICE_RELAY_WINDOW
    done = set(session.scalars(select(NoticeRelay.notice_update_id)
                               .where(NoticeRelay.relayed_at >= since - NOTICE_RELAY_WINDOW)))
    sent = 0
    for update in incident_notice_updates(session, since):
        if update.update_id in done:
            continue
        text = f"{update.title} — {update.status.replace('_', ' ')}\n\n{update.body}".strip()
        mails = 0
        for incident_id in update.incident_ids:
            try:
                mails += notify_incident_update(
                    session, settings, incident_id, text[:MAX_TEXT],
                    f"notice-update:{update.update_id}", now, "outage notice",
                    across_incidents=True)  # one mail a person, however many incidents
            except IncidentMissing:
                continue
        session.add(NoticeRelay(notice_update_id=update.update_id, relayed_at=now, mails=mails))
        session.flush()
        sent += mails
    return sent


def _run(db: Database, name: str, func: Any) -> int:
    try:
        with db.session() as session:
            return int(func(session))
    except Exception:  # one job's failure is logged; the next run tries again
        log.exception("requests job failed", extra={"job": name})
        return 0


def request_jobs(settings: Settings, db: Database) -> list[Any]:
    """The jobs ``dutydesk.jobs.scheduled_jobs`` lists for the requests area."""
    from dutydesk.core.jobs import Job

    return [
        Job(id="request-incidents", name="resolve requests whose incident was resolved",
            func=lambda: _run(db, "incidents", lambda s: follow_resolved_incidents(
                s, settings, utcnow())), trigger_args={"seconds": 10}),
        Job(id="request-notices", name="pass outage-notice updates on to the people affected",
            func=lambda: _run(db, "notices", lambda s: relay_notice_updates(
                s, settings, utcnow())), trigger_args={"seconds": 15}),
        Job(id="request-clocks", name="request SLA warnings and breaches",
            func=lambda: _run(db, "clocks", lambda s: record_sla_events(s, utcnow())
                              + fill_missing_due(s, utcnow())),
            trigger_args={"seconds": 30}),
        Job(id="request-close", name=(f"close resolved requests after "
                                      f"{settings.request_close_after_days} quiet days"),
            func=lambda: _run(db, "close", lambda s: close_quiet_requests(
                s, settings, utcnow())), trigger_args={"minutes": 15}),
    ]
