"""Read what a report needs for its period, in a fixed number of queries, into plain records.

Nothing here decides a figure: it selects rows of the period and turns them into the records of
``records``, ``people``, ``availability`` and ``visitors``. The queries, whatever the amount of
data:

- incidents opened in the period (priority and service filters applied in SQL) with the
  timeline summary stored on resolved incidents (``dutydesk.incidents.summary``), and
- for the incidents without one (still open), the status-relevant events (the kinds the SLA
  clocks, the first acknowledgement, the resolution and the reassignments are made of — not
  notes or notification records, which are most of a timeline), ordered for the replay;
- users (id, login, name); the shift schedules (3 queries, ``shifts.storage``);
- check rollups of the period with their check's service: hour buckets when the hour rollups
  (kept 90 days) reach back to the period's start, else day buckets (whole UTC days, so the
  edges of a local month are rounded to them);
- status-page services, and published incident notices overlapping the period with their
  affected services;
- visits checked in (or denied) in the period, with the client's name.

``site_id`` (from the filters' site slug; ``None``: every site) narrows each read to one site:
incidents by their site, check rollups by their check's site, duty schedules, status-page
services and visits by theirs. So a site's figures count only its own rows, and the figures of
every site add up to the unfiltered ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from checks.models import Check, CheckRollup
from dutydesk.core.config import Settings
from dutydesk.core.site_scope import site_by_slug
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.sla import SlaError, SlaPolicy
from dutydesk.incidents.sla_config import policy_from_snapshot
from dutydesk.incidents.summary import SUMMARY_COLUMNS, summarise, summary_from_columns
from dutydesk.models import User
from dutydesk.reports.availability import RollupRecord
from dutydesk.reports.people import Person
from dutydesk.reports.period import LINES, Filters, Period
from dutydesk.reports.records import IncidentRecord
from dutydesk.reports.report import ReportData
from dutydesk.reports.visitors import VisitRecord
from shifts.notices.orm import NoticeAffectedService, NoticeRow, StatusService
from shifts.notices.uptime import OutageInterval, OutageSeverity
from shifts.oncall import Shift, person_shifts
from shifts.storage import load_schedules
from shifts.visitors.orm import VisitorClient, VisitRow

#: Timeline kinds the reports replay; everything else on a timeline is left in the database.
REPLAYED_KINDS = tuple(k.value for k in (
    EventKind.TRIGGERED, EventKind.ACKNOWLEDGED, EventKind.UNACKNOWLEDGED, EventKind.PENDING,
    EventKind.RESUMED, EventKind.RESOLVED, EventKind.REOPENED, EventKind.PRIORITY_CHANGED,
    EventKind.REASSIGNED,
))
ID_CHUNK = 500
_NOTICE_SEVERITY = {"major_outage": OutageSeverity.MAJOR,
                    "partial_outage": OutageSeverity.PARTIAL,
                    "degraded_performance": OutageSeverity.PARTIAL}


def load_people(session: Session) -> dict[int, Person]:
    """Every user as ``Person`` (login = lower-case e-mail, as incidents record actors)."""
    return {
        uid: Person(uid, email.lower(), name or email)
        for uid, email, name in session.execute(select(User.id, User.email, User.name))
    }


def _incident_query(period: Period, filters: Filters, site_id: int | None = None) -> Any:
    query = select(
        Incident.id, Incident.title, Incident.source, Incident.service, Incident.priority,
        Incident.status, Incident.created_at,
        # The JSON list as text: decoding thousands of them cost more than the rest of a row.
        cast(Incident.lines_seen, Text).label("lines_seen"), Incident.assignee,
        Incident.resolved_at, Incident.resolved_by, Incident.ping_pong_count,
        *(getattr(Incident, name) for name in SUMMARY_COLUMNS),
    ).where(Incident.created_at >= period.start, Incident.created_at < period.end)
    if filters.priority:
        query = query.where(Incident.priority == filters.priority)
    if filters.service:
        query = query.where(Incident.service == filters.service)
    if site_id is not None:
        query = query.where(Incident.site_id == site_id)
    return query


def _timelines(session: Session, ids: list[int]
               ) -> tuple[dict[int, list[IncidentEvent]], dict[int, Any]]:
    """The replayed kinds of these incidents' timelines (oldest first) and their SLA snapshots,
    by incident id."""
    timelines: dict[int, list[IncidentEvent]] = {}
    snapshots: dict[int, Any] = {}
    for first in range(0, len(ids), ID_CHUNK):
        chunk = ids[first:first + ID_CHUNK]
        snapshots.update(session.execute(
            select(Incident.id, Incident.sla_targets).where(Incident.id.in_(chunk))).all())
        for incident_id, kind, at, actor, data in session.execute(
            select(IncidentEventRow.incident_id, IncidentEventRow.kind, IncidentEventRow.at,
                   IncidentEventRow.actor, IncidentEventRow.data)
            .where(IncidentEventRow.incident_id.in_(chunk),
                   IncidentEventRow.kind.in_(REPLAYED_KINDS))
            .order_by(IncidentEventRow.incident_id, IncidentEventRow.at, IncidentEventRow.id)
        ):
            try:
                event = IncidentEvent(kind, at, actor, data or {})
            except ValueError:
                continue  # an event the timeline code cannot read is not counted
            timelines.setdefault(incident_id, []).append(event)
    return timelines, snapshots


def load_incidents(session: Session, period: Period, filters: Filters, settings: Settings,
                   now: datetime, site_id: int | None = None) -> list[IncidentRecord]:
    """Incidents opened in the period as records, as of ``now``.

    A resolved incident brings its stored summary (``dutydesk.incidents.summary``); the
    others (still open, or resolved without SLA targets of their own) have their timelines
    replayed here, with the configured targets where the incident has none.
    """
    result = session.execute(_incident_query(period, filters, site_id).order_by(Incident.id))
    names = list(result.keys())
    rows = result.all()
    # zip with the names read once: a Row's own mapping view rebuilds its keys on every call.
    stored = {row.id: summary_from_columns(dict(zip(names, row, strict=True)))
              if row.status == "resolved" else None for row in rows}
    timelines, snapshots = _timelines(session, [i for i, known in stored.items() if known is None])
    policies: dict[str, SlaPolicy | None] = {}
    records = []
    for row in rows:
        summary = stored[row.id]
        if summary is None:
            summary = summarise(timelines.get(row.id, []),
                                _policy(snapshots.get(row.id), settings, policies), now)
        records.append(IncidentRecord(
            id=row.id, title=row.title, source=row.source, service=row.service,
            priority=row.priority, status=row.status, created_at=row.created_at,
            lines_seen=_lines(row.lines_seen),
            assignee=(row.assignee or "").lower() or None, summary=summary,
        ))
    return records


def _lines(text: str | None) -> tuple[str, ...]:
    """``'["first_line", "second_line"]'`` → the lines named in it, in the order written."""
    found = [line for line in LINES if f'"{line}"' in (text or "")]
    return tuple(sorted(found, key=(text or "").index)) or ("first_line",)


def _policy(snapshot: Any, settings: Settings,
            cache: dict[str, SlaPolicy | None]) -> SlaPolicy | None:
    """The incident's SLA targets (its snapshot, else the configured ones), parsed once."""
    marker = repr(snapshot)
    if marker not in cache:
        try:
            cache[marker] = policy_from_snapshot(snapshot, settings)
        except SlaError:
            cache[marker] = None  # unusable targets: no SLA outcome rather than a guess
    return cache[marker]


def load_duties(session: Session, period: Period, line: str | None,
                site_id: int | None = None) -> list[Shift]:
    """Each person's continuous duty overlapping the period, from every schedule (of ``line``,
    of the site ``site_id``)."""
    duties: list[Shift] = []
    for schedule in load_schedules(session, line=line, site_id=site_id):
        duties.extend(person_shifts(schedule, period.start, period.end))
    return duties


def load_rollups(session: Session, period: Period, site_id: int | None = None
                 ) -> tuple[list[RollupRecord], dict[str, float]]:
    """The period's rollup buckets that hold failed results (with their check's service), and
    the measured minutes per service (distinct buckets with results × bucket length).

    A month is ~745 hour buckets per check: counting the healthy ones in SQL instead of
    reading them keeps the read small (see ``availability.checks_downtime``).
    """
    oldest_hour = session.scalar(
        select(func.min(CheckRollup.bucket_start)).where(CheckRollup.resolution == "hour"))
    hourly = oldest_hour is not None and _aware(oldest_hour) <= period.start
    resolution, minutes = ("hour", 60.0) if hourly else ("day", 1440.0)
    low = period.start if hourly else period.start.replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    # Rollup rows exist only for buckets with results (count >= 1), so every row is measured.
    where = (CheckRollup.resolution == resolution, CheckRollup.bucket_start >= low,
             CheckRollup.bucket_start < period.end, Check.service != "",
             *((Check.site_id == site_id,) if site_id is not None else ()))
    measured = {
        service: buckets * minutes
        for service, buckets in session.execute(
            select(Check.service, func.count(func.distinct(CheckRollup.bucket_start)))
            .join(Check, Check.id == CheckRollup.check_id).where(*where)
            .group_by(Check.service))
    }
    failing = [
        RollupRecord(service, check_id, start, minutes, count, up)
        for service, check_id, start, count, up in session.execute(
            select(Check.service, CheckRollup.check_id, CheckRollup.bucket_start,
                   CheckRollup.count, CheckRollup.up_count)
            .join(Check, Check.id == CheckRollup.check_id)
            .where(*where, CheckRollup.up_count < CheckRollup.count))
    ]
    return failing, measured


def load_outages(session: Session, period: Period, site_id: int | None = None
                 ) -> tuple[list[str], dict[str, list[OutageInterval]]]:
    """Status-page service names (of the site ``site_id``) and, by name, the outages published
    notices announced."""
    services = select(StatusService.id, StatusService.name).where(StatusService.active)
    if site_id is not None:
        services = services.where(StatusService.site_id == site_id)
    names = dict(session.execute(
        services.order_by(StatusService.position, StatusService.name)).all())
    started = func.coalesce(NoticeRow.started_at, NoticeRow.published_at)
    outages: dict[str, list[OutageInterval]] = {}
    for title, start, resolved, service_id, impact in session.execute(
        select(NoticeRow.title, started, NoticeRow.resolved_at,
               NoticeAffectedService.service_id, NoticeAffectedService.impact)
        .join(NoticeAffectedService, NoticeAffectedService.notice_id == NoticeRow.id)
        .where(NoticeRow.kind == "incident", NoticeRow.published_at.is_not(None),
               started < period.end,
               or_(NoticeRow.resolved_at.is_(None), NoticeRow.resolved_at > period.start))
    ):
        if service_id not in names or impact not in _NOTICE_SEVERITY:
            continue
        start = _aware(start)
        end = _aware(resolved) if resolved is not None else None
        if end is not None and end < start:
            continue
        outages.setdefault(names[service_id], []).append(
            OutageInterval(start, end, _NOTICE_SEVERITY[impact], title))
    return list(names.values()), outages


def _aware(value: datetime) -> datetime:
    # coalesce() loses the column type, so SQLite hands back a naive UTC datetime (or text).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_visits(session: Session, period: Period,
                site_id: int | None = None) -> list[VisitRecord]:
    """Visits checked in during the period, and refusals recorded in it (at the site
    ``site_id``'s desk)."""
    at_site = (VisitRow.site_id == site_id,) if site_id is not None else ()
    return [
        VisitRecord(client, status, recorded, checked_in, checked_out)
        for client, status, recorded, checked_in, checked_out in session.execute(
            select(VisitorClient.name, VisitRow.status, VisitRow.recorded_at,
                   VisitRow.checked_in_at, VisitRow.checked_out_at)
            .join(VisitorClient, VisitorClient.id == VisitRow.client_id)
            .where(or_(
                and_(VisitRow.checked_in_at >= period.start, VisitRow.checked_in_at < period.end),
                and_(VisitRow.status == "denied", VisitRow.recorded_at >= period.start,
                     VisitRow.recorded_at < period.end),
            ), *at_site)
        )
    ]


def load_report_data(session: Session, period: Period, filters: Filters, settings: Settings,
                     now: datetime, people: Mapping[int, Person] | None = None) -> ReportData:
    """Everything ``build_report`` needs for ``period`` (``people`` if already loaded).

    ``filters.site`` names a site by slug (``UnknownSite`` if none has it)."""
    site_id = site_by_slug(session, filters.site).id if filters.site else None
    status_services, outages = load_outages(session, period, site_id)
    rollups, measured = load_rollups(session, period, site_id)
    return ReportData(
        incidents=load_incidents(session, period, filters, settings, now, site_id),
        duties=load_duties(session, period, filters.line, site_id),
        people=dict(people) if people is not None else load_people(session),
        rollups=rollups,
        measured_minutes=measured,
        status_services=status_services,
        outages=outages,
        visits=load_visits(session, period, site_id),
    )


def known_services(session: Session, names: Iterable[str] = ()) -> list[str]:
    """Service names people may filter by: incidents', checks' and the status page's."""
    found = set(names)
    found.update(n for (n,) in session.execute(
        select(Incident.service).where(Incident.service.is_not(None)).distinct()) if n)
    found.update(n for (n,) in session.execute(
        select(Check.service).where(Check.service != "").distinct()) if n)
    found.update(n for (n,) in session.execute(select(StatusService.name)) if n)
    return sorted(found, key=str.casefold)
