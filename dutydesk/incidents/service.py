"""What the UI and the API share: filtered incident lists, actions by people (audited), manual
reports, silences, and the dict shapes the API returns.

Every change a person makes goes through ``perform`` (incident actions) or the silence functions,
which write the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import markdown as md
import nh3
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, object_session

from dutydesk.core import audit
from dutydesk.core.config import Settings
from dutydesk.core.db import utcnow
from dutydesk.core.security import Principal
from dutydesk.core.sites import Site
from dutydesk.core.validation import MAX_ID, MAX_MINUTES, number
from dutydesk.incidents import sources as alert_sources
from dutydesk.incidents.alerts.matchers import MatcherError, Silence, SilenceError, format_matchers
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.chat.refresh import refresh_messages
from dutydesk.incidents.events import IncidentEvent
from dutydesk.incidents.lifecycle import Action
from dutydesk.incidents.models import INCIDENT_STATUSES, Incident, IncidentEventRow, SilenceRow
from dutydesk.incidents.pipeline import PipelineMetrics, process_alerts
from dutydesk.incidents.sla import sla_clock
from dutydesk.incidents.sla_config import policy_from_snapshot
from dutydesk.incidents.store import act, timeline
from dutydesk.incidents.told import tell_paged_people

#: Actions whose result a chat page shows (its status line and buttons change).
CHAT_VISIBLE = frozenset({Action.ACKNOWLEDGE, Action.UNACKNOWLEDGE, Action.PENDING,
                          Action.RESUME, Action.RESOLVE, Action.REOPEN, Action.CHANGE_PRIORITY})


class FilterError(ValueError):
    """A list filter has a bad value; the message names it and what is allowed."""


@dataclass(frozen=True, slots=True)
class IncidentFilters:
    state: str | None = None  # open | triggered | acknowledged | pending | resolved
    priority: str | None = None
    service: str | None = None
    assignee: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    site: str | None = None  # a site's slug

    @classmethod
    def from_args(cls, args: Any) -> IncidentFilters:
        from dutydesk.core.timeparse import parse_instant

        state = (args.get("state") or "").strip() or None
        if state and state not in ("open", *INCIDENT_STATUSES):
            raise FilterError(f"state must be open, {', '.join(INCIDENT_STATUSES)}; got {state!r}")
        priority = (args.get("priority") or "").strip().upper() or None
        if priority and priority not in ("P1", "P2", "P3", "P4"):
            raise FilterError(f"priority must be P1, P2, P3 or P4, got {priority!r}")
        try:
            since = parse_instant(args["since"], "since") if args.get("since") else None
            until = parse_instant(args["until"], "until") if args.get("until") else None
        except ValueError as exc:
            raise FilterError(str(exc)) from None
        return cls(
            state=state,
            priority=priority,
            service=(args.get("service") or "").strip() or None,
            assignee=(args.get("assignee") or "").strip() or None,
            since=since,
            until=until,
            q=(args.get("q") or "").strip() or None,
            site=(args.get("site") or "").strip()[:64] or None,
        )


def incidents_query(filters: IncidentFilters) -> Any:
    """Newest first; the same filters for the list screen and ``GET /api/v1/incidents``."""
    query = select(Incident).order_by(Incident.created_at.desc(), Incident.id.desc())
    if filters.state == "open":
        query = query.where(Incident.status != "resolved")
    elif filters.state:
        query = query.where(Incident.status == filters.state)
    if filters.priority:
        query = query.where(Incident.priority == filters.priority)
    if filters.service:
        query = query.where(Incident.service == filters.service)
    if filters.assignee:
        query = query.where(
            or_(
                Incident.assignee.ilike(f"%{filters.assignee}%"),
                Incident.acknowledged_by.ilike(f"%{filters.assignee}%"),
            )
        )
    if filters.site:
        query = query.where(Incident.site_id == select(Site.id).where(
            Site.slug == filters.site).scalar_subquery())
    if filters.since is not None:
        query = query.where(Incident.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Incident.created_at <= filters.until)
    if filters.q:
        like = f"%{filters.q}%"
        clauses = [Incident.title.ilike(like), Incident.dedup_key.ilike(like)]
        number = filters.q.lstrip("#")
        if number.isdigit() and int(number) <= MAX_ID:  # "#17" finds incident 17
            clauses.append(Incident.id == int(number))
        query = query.where(or_(*clauses))
    return query


def render_note(text: str) -> str:
    """Markdown → HTML with only harmless tags left (no scripts, no event handlers)."""
    return nh3.clean(md.markdown(text, extensions=["fenced_code", "tables"]))


def sla_as_dict(
    incident: Incident, events: list[IncidentEvent], settings: Settings, now: datetime
) -> dict[str, Any]:
    status = sla_clock(policy_from_snapshot(incident.sla_targets, settings), events, now)
    return {
        reading.clock.value: {
            "state": reading.state.value,
            "paused": reading.paused,
            "elapsed_s": int(reading.elapsed.total_seconds()),
            "target_s": int(reading.target.total_seconds()),
            "remaining_s": int(reading.remaining.total_seconds()),
            "percent": round(reading.percent, 1),
            "breached": reading.breached,
        }
        for reading in status.clocks()
    }


def incident_site(incident: Incident) -> Site | None:
    """The site the incident is about, or None (the session's identity map keeps each site,
    so a page of incidents loads every site once)."""
    if incident.site_id is None:
        return None
    session = object_session(incident)
    return session.get(Site, incident.site_id) if session is not None else None


def site_slug(incident: Incident) -> str | None:
    site = incident_site(incident)
    return site.slug if site is not None else None


def unknown_site(session: Session, filters: IncidentFilters) -> bool:
    """Whether the filter names a site that does not exist (a 400 / an ignored filter)."""
    return bool(filters.site) and session.scalar(
        select(Site.id).where(Site.slug == filters.site)) is None


def incident_as_dict(incident: Incident) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "priority": incident.priority,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "source": incident.source,
        "severity": incident.severity,
        "service": incident.service,
        "site": site_slug(incident),
        "check_id": incident.check_id,
        "dedup_key": incident.dedup_key,
        "group_key": incident.group_key,
        "line": incident.line,
        "assignee": incident.assignee,
        "acknowledged_by": incident.acknowledged_by,
        "acknowledged_at": iso(incident.acknowledged_at),
        "pending_reason": incident.pending_reason,
        "resolved_by": incident.resolved_by,
        "resolved_at": iso(incident.resolved_at),
        "resolution_note": incident.resolution_note,
        "ping_pong_count": incident.ping_pong_count,
        "reopen_count": incident.reopen_count,
        "returns_count": incident.returns_count or 0,  # came back after an automatic resolve
        "flapping": bool(incident.flapping),
        "alert_sources": [  # which senders fire it (two Alertmanagers: both listed)
            {"source": label, "state": state}
            for label, state in alert_sources.shown(incident.alert_sources, utcnow())
        ],
        "alert_count": incident.alert_count,
        "labels": incident.labels or {},
        "escalation_policy_id": incident.escalation_policy_id,  # None: the default policy
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "last_alert_at": iso(incident.last_alert_at),
        "version": incident.version,
    }


def event_as_dict(row: IncidentEventRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "data": row.data,
    }


def timeline_rows(session: Session, incident_id: int) -> list[IncidentEventRow]:
    return list(
        session.scalars(
            select(IncidentEventRow)
            .where(IncidentEventRow.incident_id == incident_id)
            .order_by(IncidentEventRow.at, IncidentEventRow.id)
        )
    )


def perform(
    session: Session,
    who: Principal,
    incident_id: int,
    action: Action | str,
    now: datetime,
    *,
    expected_version: int | None = None,
    settings: Settings | None = None,
    via: str | None = None,
    **fields: Any,
) -> Incident:
    """A person acts on an incident: lifecycle + compare-and-set + audit (not committed).

    With ``settings``, an acknowledgement or resolution is told to everyone who was paged for
    the incident, as its escalation policy says (``dutydesk.incidents.told``), and every chat
    message that paged it is edited to show the new state (``chat.refresh``), in the same
    transaction. ``via``: how the person acted when not on a screen or the API ("link": a
    page's signed link, "mail": a reply to a page), kept in the audit entry."""
    action = Action(action)
    if via is not None:
        fields = {**fields, "via": via}
    incident, _events = act(
        session, incident_id, action, who.label, now, expected_version=expected_version, **fields
    )
    if settings is not None and action in (Action.ACKNOWLEDGE, Action.RESOLVE):
        tell_paged_people(session, settings, incident, action, actor=who.label,
                          actor_user_id=who.user.id if who.user is not None else None, now=now)
    if settings is not None and action in CHAT_VISIBLE:
        refresh_messages(session, settings, incident, now)  # every chat that got it sees it
    summary = f"{action.value} incident #{incident.id}" + (f" (via {via})" if via else "")
    details = {k: v for k, v in fields.items() if v not in (None, "")}
    audit.record(
        session,
        who,
        f"incident.{action.value}",
        "incident",
        incident.id,
        summary=summary,
        after={"status": incident.status, "priority": incident.priority, **details},
    )
    return incident


def report_manually(
    session: Session,
    who: Principal,
    *,
    title: str,
    service: str | None,
    severity: str,
    details: str,
    settings: Settings,
    now: datetime,
    metrics: PipelineMetrics | None = None,
) -> int:
    """A person reports a problem ("a customer calls: rack B12 has no power"); returns the id."""
    title = (title or "").strip()
    if not title:
        raise FilterError("title must say what is wrong, e.g. 'rack B12 has no power'")
    try:
        sev = Severity(severity or "warning")
    except ValueError:
        raise FilterError(
            f"severity must be critical, error, warning or info, got {severity!r}"
        ) from None
    key = f"manual:{now:%Y%m%d%H%M%S%f}:{who.label}"[:255]
    labels = {"reported_by": who.label}
    if service:
        labels["service"] = service
    alert = Alert(
        source=AlertSource.MANUAL,
        dedup_key=key,
        status=AlertStatus.FIRING,
        starts_at=now,
        summary=title[:1024],
        severity=sev,
        labels=labels,
        service=service or None,
        details={"text": details} if details else {},
    )
    result = process_alerts(session, [alert], settings=settings, now=now, metrics=metrics)
    incident_id = result.incident_for[key]
    if details.strip():
        act(session, incident_id, Action.NOTE, who.label, now, text=details.strip())
    audit.record(session, who, "incident.report", "incident", incident_id, summary=title[:200])
    return incident_id


# --- silences -----------------------------------------------------------------------------------


def silence_as_dict(row: SilenceRow, now: datetime) -> dict[str, Any]:
    state = "pending" if now < row.starts_at else ("active" if now < row.ends_at else "expired")
    return {
        "id": row.id,
        "matchers": row.matchers,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "created_by": row.created_by,
        "comment": row.comment,
        "state": state,
    }


def validate_silence(
    matchers: str, starts_at: datetime, ends_at: datetime, created_by: str, comment: str
) -> str:
    """Check with the pure ``Silence`` rules; returns the canonical matcher text."""
    silence = Silence.from_text(
        "new",
        matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        comment=comment,
    )
    return format_matchers(silence.matchers)


def create_silence(
    session: Session,
    who: Principal,
    *,
    matchers: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    duration_minutes: float | str | None,
    comment: str,
    now: datetime,
) -> SilenceRow:
    """Raises ``MatcherError``/``SilenceError``/``ValidationError`` (all ValueError) with a
    readable message. ``duration_minutes`` (a number, or the text a form sent) must be above 0
    and at most ten years."""
    starts = starts_at or now
    if ends_at is None:
        minutes = number(duration_minutes, "duration_minutes", minimum=0, maximum=MAX_MINUTES,
                         default=0)
        if not minutes:
            raise SilenceError("give ends_at or duration_minutes")
        ends_at = starts + timedelta(minutes=minutes)
    canonical = validate_silence(matchers, starts, ends_at, who.label, comment)
    row = SilenceRow(
        matchers=canonical,
        starts_at=starts,
        ends_at=ends_at,
        created_by=who.label,
        comment=comment.strip(),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        who,
        "silence.create",
        "silence",
        row.id,
        summary=canonical[:400],
        after=silence_as_dict(row, now),
    )
    return row


def update_silence(
    session: Session, who: Principal, row: SilenceRow, now: datetime, **changes: Any
) -> SilenceRow:
    before = silence_as_dict(row, now)
    matchers = changes.get("matchers", row.matchers)
    starts = changes.get("starts_at") or row.starts_at
    ends = changes.get("ends_at") or row.ends_at
    comment = changes.get("comment", row.comment)
    row.matchers = validate_silence(matchers, starts, ends, row.created_by, comment)
    row.starts_at, row.ends_at, row.comment, row.updated_at = starts, ends, comment, now
    after = silence_as_dict(row, now)
    b, a = audit.changed_fields(before, after)
    audit.record(session, who, "silence.update", "silence", row.id, before=b, after=a)
    return row


def expire_silence(session: Session, who: Principal, row: SilenceRow, now: datetime) -> None:
    """End a silence now (kept for the record, like Alertmanager's expire)."""
    if row.ends_at > now:
        row.ends_at = max(now, row.starts_at + timedelta(microseconds=1))
        row.updated_at = now
    audit.record(session, who, "silence.expire", "silence", row.id, summary=row.matchers[:400])


__all__ = [
    "FilterError",
    "IncidentFilters",
    "MatcherError",
    "SilenceError",
    "create_silence",
    "expire_silence",
    "incident_as_dict",
    "incidents_query",
    "perform",
    "render_note",
    "report_manually",
    "timeline",
]
