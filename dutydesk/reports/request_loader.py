"""Read the requests of a period for the request figures, in a fixed number of queries.

- requests that came in during the period (service, priority, category and channel filters
  in SQL; line and engineer in ``select_requests``) with their stored summary and rating
  (one query, ``ix_service_requests_created``);
- for the requests without a stored summary (still open), the events the SLA clocks and the
  first response are made of — not notes, SLA warnings or mailed updates — and their SLA
  targets, replayed here as of ``now``;
- the people who said "me too" during the period (a count), and the knowledge-base
  deflections (``knowledge_base_deflections``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Text, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from dutydesk.incidents.models import Incident
from dutydesk.reports.period import LINES, Period
from dutydesk.reports.request_figures import RequestFilters
from dutydesk.reports.request_records import RequestRecord
from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.models import (
    IncidentFollower,
    RequestEventRow,
    RequestRating,
    ServiceRequest,
)
from dutydesk.requests.summary import (
    SUMMARY_COLUMNS,
    policy_of_snapshot,
    summarise_request,
    summary_from_columns,
)

REPLAYED_KINDS = tuple(k.value for k in (
    EventKind.CREATED, EventKind.STARTED, EventKind.REPLIED, EventKind.WAITING,
    EventKind.RESUMED, EventKind.RESOLVED, EventKind.CLOSED, EventKind.REOPENED,
    EventKind.PRIORITY_CHANGED,
))
ID_CHUNK = 500
SR = ServiceRequest


def _raw(column: Any, raw: bool) -> Any:
    """A time column as the database gives it (SQLite: text, parsed by ``_aware`` several
    times faster than the generic type processing), else as typed."""
    return type_coerce(column, String).label(column.key) if raw else column


def _columns(raw: bool) -> tuple[Any, ...]:
    return (SR.id, SR.subject, SR.service, _raw(SR.created_at, raw), SR.category, SR.channel,
            SR.priority, SR.status, SR.line, cast(SR.lines_seen, Text).label("lines_seen"),
            SR.assignee, SR.incident_id, SR.ping_pong_count, SR.reopen_count,
            _raw(SR.resolved_at, raw), SR.catalog_item_id)


FIXED = 16  # the columns of ``_columns``; then the summary's, then the rating's


def _aware(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _query(period: Period, filters: RequestFilters, raw: bool) -> Any:
    summary = [getattr(SR, name) for name in SUMMARY_COLUMNS]
    summary[0] = _raw(summary[0], raw)  # first_response_at
    query = (
        select(*_columns(raw), *summary,
               RequestRating.rating, RequestRating.comment.label("rating_comment"),
               _raw(RequestRating.rated_at, raw))
        .outerjoin(RequestRating, RequestRating.request_id == SR.id)
        .where(SR.created_at >= period.start, SR.created_at < period.end)
    )
    base = filters.base
    for column, value in ((SR.service, base.service), (SR.priority, base.priority),
                          (SR.category, filters.category), (SR.channel, filters.channel)):
        if value:
            query = query.where(column == value)
    return query.order_by(SR.id)


def _timelines(session: Session, ids: list[int]
               ) -> tuple[dict[int, list[RequestEvent]], dict[int, Any]]:
    timelines: dict[int, list[RequestEvent]] = {}
    snapshots: dict[int, Any] = {}
    for first in range(0, len(ids), ID_CHUNK):
        chunk = ids[first:first + ID_CHUNK]
        snapshots.update(session.execute(
            select(SR.id, SR.sla_targets).where(SR.id.in_(chunk))).all())
        for request_id, kind, at, actor, data in session.execute(
            select(RequestEventRow.request_id, RequestEventRow.kind, RequestEventRow.at,
                   RequestEventRow.actor, RequestEventRow.data)
            .where(RequestEventRow.request_id.in_(chunk),
                   RequestEventRow.kind.in_(REPLAYED_KINDS))
            .order_by(RequestEventRow.request_id, RequestEventRow.at, RequestEventRow.id)
        ):
            timelines.setdefault(request_id, []).append(
                RequestEvent(EventKind(kind), at, actor, data or {}))
    return timelines, snapshots


def _lines(text: str | None) -> tuple[str, ...]:
    found = [line for line in LINES if f'"{line}"' in (text or "")]
    return tuple(sorted(found, key=(text or "").index)) or ("first_line",)


def load_requests(session: Session, period: Period, filters: RequestFilters,
                  now: datetime) -> list[RequestRecord]:
    """The requests that came in during the period as records, as of ``now``."""
    # Core rows (no ORM loading), read by position: a month is ~10,000 of them.
    raw = session.get_bind().dialect.name == "sqlite"
    rows = session.connection().execute(_query(period, filters, raw)).all()
    n = FIXED
    stored = {}
    for row in rows:
        if row[7] in ("resolved", "closed"):
            stored[row[0]] = summary_from_columns({
                **dict(zip(SUMMARY_COLUMNS, row[n:n + 9], strict=True)),
                "resolved_at": _aware(row[14]), "first_response_at": _aware(row[n])})
        else:
            stored[row[0]] = None
    policies: dict[str, Any] = {}
    timelines, snapshots = _timelines(session, [i for i, s in stored.items() if s is None])
    records = []
    for row in rows:
        (rid, subject, service, created_at, category, channel, priority, status, line,
         lines_seen, assignee, incident_id, ping_pong, reopens, _resolved_at,
         catalog_item_id) = row[:n]
        rating, comment, rated_at = row[n + 9:]
        summary = stored[rid]
        if summary is None:
            snapshot = snapshots.get(rid)
            key = repr(snapshot)
            if key not in policies:  # one policy per distinct snapshot, parsed once
                policies[key] = policy_of_snapshot(snapshot)
            summary = summarise_request(timelines.get(rid, []), policies[key], now)
        records.append(RequestRecord(
            id=rid, subject=subject, service=service, created_at=_aware(created_at),
            category=category or "", channel=channel, priority=priority, status=status,
            line=line, lines_seen=_lines(lines_seen), assignee=(assignee or "").lower() or None,
            incident_id=incident_id, ping_pong_count=ping_pong, reopen_count=reopens,
            summary=summary, rating=rating, rating_comment=comment or "",
            rated_at=_aware(rated_at), catalog_item_id=catalog_item_id))
    return records


def me_too_count(session: Session, period: Period, service: str | None = None) -> int:
    """People who said "me too" about an incident during the period (of ``service``)."""
    query = select(func.count(IncidentFollower.id)).where(
        IncidentFollower.created_at >= period.start, IncidentFollower.created_at < period.end)
    if service:
        query = query.join(Incident, Incident.id == IncidentFollower.incident_id).where(
            Incident.service == service)
    return int(session.scalar(query) or 0)


def knowledge_base_deflections(session: Session, period: Period,
                               filters: RequestFilters) -> int:
    """Times a suggested article solved it ("this solved it") during the period, instead of a
    request (``kb_deflections``), narrowed by the report's service filter. Deflections happen
    on the web form, so a channel filter other than "web" counts none, and they carry no
    priority, line or engineer, so those filters count none either."""
    from dutydesk.requests.kb.models import DeflectionRow

    base = filters.base
    if (filters.channel not in (None, "web") or base.priority or base.line or base.engineer
            or filters.category):
        return 0
    query = select(func.count(DeflectionRow.id)).where(
        DeflectionRow.at >= period.start, DeflectionRow.at < period.end)
    if base.service:
        query = query.where(DeflectionRow.service == base.service)
    return int(session.scalar(query) or 0)


def request_choices(records: Iterable[RequestRecord], names: Iterable[str] = ()
                    ) -> tuple[list[str], list[str]]:
    """Services (and ``names``) and categories people may filter by: those of the requests
    read for the report (no second scan of a year of requests)."""
    services, categories = set(names), set()
    for r in records:
        services.add(r.service)
        categories.add(r.category)
    return (sorted((s for s in services if s), key=str.casefold),
            sorted((c for c in categories if c), key=str.casefold))
