"""Rows ⇄ value objects for notices and services (the rules stay in :mod:`.model`).

Ids in the value objects are strings: a service's id is its ``slug``, a group's and a notice's
id is the row id as text. ``save_notice`` writes back what a rule changed (new updates, affected
services, publication and resolution times) and bumps the page generation, so every web process
rebuilds its snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core.sites import Site
from shifts.notices.orm import (
    NoticeAffectedService,
    NoticeIncidentLink,
    NoticeRow,
    NoticeUpdateRow,
    StatusPageGeneration,
    StatusService,
    StatusServiceGroup,
)

from .model import (
    AffectedChange,
    AffectedService,
    MaintenanceWindow,
    Notice,
    NoticeUpdate,
    Service,
    ServiceGroup,
    ServiceStatus,
)


def to_group(row: StatusServiceGroup) -> ServiceGroup:
    return ServiceGroup(id=str(row.id), name=row.name, position=row.position,
                        description=row.description, created_at=row.created_at,
                        updated_at=row.updated_at)


def to_service(row: StatusService, sites: Mapping[int, str] | None = None) -> Service:
    """The pure service; ``sites`` (site id → slug) names its site."""
    return Service(
        id=row.slug, name=row.name, group=str(row.group_id) if row.group_id else None,
        site=(sites or {}).get(row.site_id),
        status=row.status, description=row.description, position=row.position, mode=row.mode,
        check_ids=tuple(str(c) for c in row.check_ids or ()),
        only_show_if_degraded=row.only_show_if_degraded, created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _window(row: NoticeRow) -> MaintenanceWindow | None:
    if row.kind != "maintenance" or row.scheduled_for is None or row.scheduled_until is None:
        return None
    leads = row.reminder_lead_minutes
    return MaintenanceWindow(
        scheduled_for=row.scheduled_for, scheduled_until=row.scheduled_until,
        reminder_leads=tuple(timedelta(minutes=m) for m in leads) if leads is not None
        else MaintenanceWindow.__dataclass_fields__["reminder_leads"].default,
        auto_start=row.auto_start, auto_complete=row.auto_complete,
    )


def to_notice(row: NoticeRow, updates: Sequence[NoticeUpdateRow],
              affected: Sequence[tuple[str, str]], incident_ids: Sequence[int]) -> Notice:
    """``affected`` are (service slug, impact) pairs in order."""
    return Notice(
        id=str(row.id), title=row.title, kind=row.kind, impact=row.impact,
        affected=tuple(AffectedService(slug, impact) for slug, impact in affected),
        updates=tuple(
            NoticeUpdate(
                id=str(u.id), status=u.status, body=u.body, created_at=u.created_at,
                author=u.author, automatic=u.automatic,
                affected_changes=tuple(
                    AffectedChange(c["service_id"], ServiceStatus(c["old_status"]),
                                   ServiceStatus(c["new_status"]))
                    for c in u.affected_changes or ()),
            )
            for u in sorted(updates, key=lambda u: u.number)
        ),
        created_at=row.created_at, published_at=row.published_at, resolved_at=row.resolved_at,
        started_at=row.started_at, expected_resolution_at=row.expected_resolution_at,
        incident_ids=tuple(str(i) for i in incident_ids), window=_window(row),
    )


def load_notices(session: Session, ids: Sequence[int] | None = None,
                 *, published_only: bool = False) -> list[Notice]:
    """Notices (all, or the given ids) with their updates, affected services and incident links,
    in four queries whatever their number."""
    query = select(NoticeRow).order_by(NoticeRow.id)
    if ids is not None:
        query = query.where(NoticeRow.id.in_(list(ids)))
    if published_only:
        query = query.where(NoticeRow.published_at.is_not(None))
    rows = list(session.scalars(query))
    if not rows:
        return []
    row_ids = [r.id for r in rows]
    updates: dict[int, list[NoticeUpdateRow]] = {}
    for u in session.scalars(select(NoticeUpdateRow).where(NoticeUpdateRow.notice_id.in_(row_ids))):
        updates.setdefault(u.notice_id, []).append(u)
    affected: dict[int, list[tuple[str, str]]] = {}
    for notice_id, slug, impact in session.execute(
        select(NoticeAffectedService.notice_id, StatusService.slug, NoticeAffectedService.impact)
        .join(StatusService, StatusService.id == NoticeAffectedService.service_id)
        .where(NoticeAffectedService.notice_id.in_(row_ids))
        .order_by(NoticeAffectedService.position, StatusService.slug)
    ):
        affected.setdefault(notice_id, []).append((slug, impact))
    links: dict[int, list[int]] = {}
    for link in session.scalars(
        select(NoticeIncidentLink).where(NoticeIncidentLink.notice_id.in_(row_ids))
    ):
        links.setdefault(link.notice_id, []).append(link.incident_id)
    return [to_notice(r, updates.get(r.id, []), affected.get(r.id, []), links.get(r.id, []))
            for r in rows]


def load_notice(session: Session, notice_id: int) -> Notice | None:
    found = load_notices(session, [notice_id])
    return found[0] if found else None


def load_services(session: Session) -> tuple[list[ServiceGroup], list[Service]]:
    groups = [to_group(g) for g in session.scalars(
        select(StatusServiceGroup).order_by(StatusServiceGroup.position, StatusServiceGroup.name))]
    sites = dict(session.execute(select(Site.id, Site.slug)).all())
    services = [to_service(s, sites) for s in session.scalars(
        select(StatusService).where(StatusService.active)
        .order_by(StatusService.position, StatusService.name))]
    return groups, services


def save_notice(session: Session, row: NoticeRow, before: Notice | None, after: Notice) -> None:
    """Write what changed between ``before`` (None for a new notice) and ``after`` to ``row``
    and its children; the row must already have an id (flushed)."""
    row.title = after.title
    row.impact = after.impact.value
    row.published_at = after.published_at
    row.resolved_at = after.resolved_at
    row.started_at = after.started_at
    row.expected_resolution_at = after.expected_resolution_at
    known = len(before.updates) if before else 0
    for number, u in enumerate(after.updates[known:], start=known + 1):
        session.add(NoticeUpdateRow(
            notice_id=row.id, number=number, status=u.status.value, body=u.body, author=u.author,
            created_at=u.created_at, automatic=u.automatic,
            affected_changes=[{"service_id": c.service_id, "old_status": c.old_status.value,
                               "new_status": c.new_status.value} for c in u.affected_changes],
        ))
    if before is None or before.affected != after.affected:
        ids = dict(session.execute(select(StatusService.slug, StatusService.id).where(
            StatusService.slug.in_([a.service_id for a in after.affected]))).all())
        for old in session.scalars(select(NoticeAffectedService).where(
                NoticeAffectedService.notice_id == row.id)):
            session.delete(old)
        session.flush()
        for position, a in enumerate(after.affected):
            session.add(NoticeAffectedService(notice_id=row.id, service_id=ids[a.service_id],
                                              impact=a.impact.value, position=position))
    if before is None:
        for incident_id in dict.fromkeys(after.incident_ids):
            session.add(NoticeIncidentLink(notice_id=row.id, incident_id=int(incident_id)))
    session.flush()


def bump_generation(session: Session, now: datetime) -> None:
    """Tell every process that the public page changed (in the caller's transaction)."""
    changed = session.execute(
        update(StatusPageGeneration).where(StatusPageGeneration.id == 1)
        .values(generation=StatusPageGeneration.generation + 1, changed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        session.add(StatusPageGeneration(id=1, generation=1, changed_at=now))
        session.flush()


def current_generation(session: Session) -> int:
    return session.scalar(
        select(StatusPageGeneration.generation).where(StatusPageGeneration.id == 1)) or 0
