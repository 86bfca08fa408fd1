"""Handoff reports: what the outgoing engineer hands over, generated from live data.

A handoff is an instant where the people on duty of a schedule change (``on_duty(...).since``).
The report for (schedule, handoff) is generated once (unique per schedule + shift start) and
holds, as plain JSON so it prints the same forever:

* ``open_incidents`` — triggered / acknowledged / pending incidents with their SLA time left;
* ``opened`` / ``resolved`` — incidents opened or resolved during the outgoing shift;
* ``maintenance`` — checks in maintenance now; ``silences`` — silences active now;
* ``visitors`` — people on site with badges not returned (``open_badges_now``);
* ``journal`` — the schedule's journal entries written during the outgoing shift;
* ``gaps`` — gaps in the schedule's line over the next 7 days;
* the outgoing engineer's free-text notes live in their own column (editable until accepted).

The incoming engineer confirms with ``accept``; both steps are audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.core.audit import record
from dutydesk.core.config import Settings
from dutydesk.core.security import Principal
from dutydesk.incidents.models import Incident, SilenceRow
from shifts.coverage import coverage_ahead
from shifts.errors import ShiftConfigError
from shifts.models import HandoffReportRow, ShiftJournalEntryRow
from shifts.oncall import on_duty
from shifts.schedule import Schedule
from shifts.storage import load_schedules, user_names

OPEN_STATUSES = ("triggered", "acknowledged", "pending")
_TICK = timedelta(microseconds=1)
GAP_LOOKAHEAD = timedelta(days=7)


def handoff_at(schedule: Schedule, now: datetime) -> tuple[datetime, Any, Any] | None:
    """(handoff instant, outgoing OnDuty, incoming OnDuty) of the shift running at ``now``."""
    current = on_duty(schedule, now)
    if current.since is None:
        return None
    before = on_duty(schedule, current.since - _TICK)
    return current.since, before, current


def report_content(
    session: Session,
    settings: Settings,
    schedule: Schedule,
    shift_start: datetime,
    previous_start: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """Collect the report's sections (module docstring) as JSON-ready values."""
    from dutydesk.incidents.service import sla_as_dict
    from dutydesk.incidents.store import timeline

    since = previous_start or (shift_start - timedelta(hours=12))
    open_incidents = []
    for incident in session.scalars(
        select(Incident).where(Incident.status.in_(OPEN_STATUSES)).order_by(Incident.id)
    ):
        sla = sla_as_dict(incident, timeline(session, incident.id), settings, now)
        open_incidents.append({
            **_incident(incident),
            "acknowledged_by": incident.acknowledged_by,
            "ack_remaining_s": sla.get("acknowledge", {}).get("remaining_s"),
            "resolve_remaining_s": sla.get("resolve", {}).get("remaining_s"),
            "resolve_breached": sla.get("resolve", {}).get("breached", False),
        })
    opened = [_incident(i) for i in session.scalars(
        select(Incident).where(Incident.created_at >= since, Incident.created_at < shift_start)
        .order_by(Incident.created_at))]
    resolved = [_incident(i) for i in session.scalars(
        select(Incident).where(Incident.resolved_at >= since, Incident.resolved_at < shift_start)
        .order_by(Incident.resolved_at))]
    silences = [
        {"id": s.id, "matchers": s.matchers, "ends_at": s.ends_at.isoformat(),
         "comment": s.comment, "by": s.created_by}
        for s in session.scalars(select(SilenceRow).where(
            SilenceRow.starts_at <= now, SilenceRow.ends_at > now).order_by(SilenceRow.ends_at))
    ]
    gaps = coverage_ahead(
        [s for s in load_schedules(session, line=schedule.line)], now, 1
    ).gaps_for(schedule.line)
    return {
        "schedule": schedule.title,
        "period_start": since.isoformat(),
        "period_end": shift_start.isoformat(),
        "generated_at": now.isoformat(),
        "open_incidents": open_incidents,
        "opened": opened,
        "resolved": resolved,
        "maintenance": _maintenance(session),
        "silences": silences,
        "visitors": _visitors(session, now),
        "journal": [
            {"at": e.at.isoformat(), "kind": e.kind, "author": e.author, "text": e.text}
            for e in session.scalars(select(ShiftJournalEntryRow).where(
                ShiftJournalEntryRow.schedule_id == schedule.id,
                ShiftJournalEntryRow.at >= since, ShiftJournalEntryRow.at < shift_start,
            ).order_by(ShiftJournalEntryRow.at))
        ],
        "gaps": [{"start": g.start.isoformat(), "end": g.end.isoformat(),
                  "hours": round(g.duration.total_seconds() / 3600, 1)}
                 for g in gaps if g.start < now + GAP_LOOKAHEAD],
    }


def _incident(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "title": incident.title, "priority": incident.priority,
            "status": incident.status, "service": incident.service,
            "created_at": incident.created_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None}


def _maintenance(session: Session) -> list[dict[str, Any]]:
    from checks.models import Check, CheckStateRow

    return [
        {"check": name or slug}
        for slug, name in session.execute(
            select(Check.slug, Check.display_name)
            .join(CheckStateRow, CheckStateRow.check_id == Check.id)
            .where(CheckStateRow.in_maintenance.is_(True)).order_by(Check.slug))
    ]


def _visitors(session: Session, now: datetime) -> list[dict[str, Any]]:
    from shifts.visitors.service import open_badges_now

    return [
        {"person": b.person_name, "client": b.client_name, "badge": b.badge_number,
         "checked_in_at": b.checked_in_at.isoformat(),
         "hours_inside": round(b.time_inside.total_seconds() / 3600, 1),
         "overstay": b.overstay_by is not None}
        for b in open_badges_now(session, now)
    ]


def ensure_report(
    session: Session, settings: Settings, schedule: Schedule, now: datetime
) -> HandoffReportRow | None:
    """The report for the handoff that started the shift running at ``now``; created once.

    Idempotent per (schedule, shift start): a second call (or a second worker) returns the
    existing row. ``None`` when the schedule has no handoff within the horizon.
    """
    found = handoff_at(schedule, now)
    if found is None:
        return None
    start, outgoing, incoming = found
    existing = session.scalar(select(HandoffReportRow).where(
        HandoffReportRow.schedule_id == schedule.id, HandoffReportRow.shift_start == start))
    if existing is not None:
        return existing
    content = report_content(session, settings, schedule, start, outgoing.since, now)
    names = user_names(session, [*outgoing.people, *incoming.people])
    content["outgoing"] = [names.get(p, str(p)) for p in outgoing.people]
    content["incoming"] = [names.get(p, str(p)) for p in incoming.people]
    row = HandoffReportRow(
        schedule_id=int(schedule.id), shift_start=start, shift_end=incoming.until,
        previous_start=outgoing.since,
        outgoing_user_id=int(outgoing.primary) if outgoing.primary is not None else None,
        incoming_user_id=int(incoming.primary) if incoming.primary is not None else None,
        content=content, generated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # another worker generated it first
        return session.scalar(select(HandoffReportRow).where(
            HandoffReportRow.schedule_id == schedule.id, HandoffReportRow.shift_start == start))
    record(session, "system", "shifts.handoff.generate", "shift_handoff", row.id,
           summary=f"handoff report for {schedule.title} at {start:%Y-%m-%d %H:%M} UTC")
    return row


def save_notes(session: Session, who: Principal, report: HandoffReportRow, notes: str) -> None:
    if report.accepted_at is not None:
        raise ShiftConfigError("this handoff was already accepted; its notes are final")
    report.outgoing_notes = notes.strip()
    record(session, who, "shifts.handoff.notes", "shift_handoff", report.id,
           summary="outgoing notes updated")


def accept(session: Session, who: Principal, report: HandoffReportRow, now: datetime) -> None:
    """The incoming engineer (or a shift lead) confirms they took the shift over."""
    if report.accepted_at is not None:
        raise ShiftConfigError(f"handoff {report.id} was already accepted")
    if who.user_id not in (report.incoming_user_id,) and not _is_lead(who):
        raise ShiftConfigError("only the incoming engineer or a shift lead can accept a handoff")
    report.accepted_at, report.accepted_by_id = now, who.user_id
    record(session, who, "shifts.handoff.accept", "shift_handoff", report.id,
           summary=f"handoff {report.id} accepted")


def _is_lead(who: Principal) -> bool:
    from dutydesk.core.models.accounts import Role

    return who.can(Role.SHIFT_LEAD)


def reports_query(schedule_id: int | None = None) -> Any:
    stmt = select(HandoffReportRow).order_by(HandoffReportRow.shift_start.desc())
    if schedule_id is not None:
        stmt = stmt.where(HandoffReportRow.schedule_id == schedule_id)
    return stmt


__all__ = ["accept", "ensure_report", "handoff_at", "report_content", "reports_query",
           "save_notes"]
