"""Notices with storage: create, publish, update, resolve, reopen, maintenance by the clock.

Every function works in the caller's session and transaction (the caller commits): the rule is
applied to value objects first (:mod:`.model`), and only when it succeeds are rows written, the
change audited, the page generation bumped and subscribers told through the outbox. A refused
change raises a :class:`~shifts.notices.model.NoticeError` before anything is added to the
session.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.site_scope import UnknownSite, optional_site, site_by_slug
from shifts.notices.orm import NoticeRow, StatusService, StatusServiceGroup

from . import maintenance
from .check_windows import sync_check_windows
from .model import (
    AffectedService,
    Impact,
    MaintenanceWindow,
    Notice,
    NoticeError,
    NoticeKind,
    ServiceStatus,
    StatusMode,
    UpdateStatus,
    add_update,
    parse_enum,
    publish,
    reopen,
    require_aware,
)
from .storage import bump_generation, load_notice, load_notices, save_notice, to_service

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SYSTEM_ACTOR = "DutyDesk"


class NotFoundError(NoticeError):
    """No notice/service/group with that id."""


def _affected(session: Session, affected: Mapping[str, str] | Iterable[tuple[str, str]]
              ) -> tuple[AffectedService, ...]:
    pairs = list(affected.items()) if isinstance(affected, Mapping) else list(affected)
    known = set(session.scalars(select(StatusService.slug).where(
        StatusService.slug.in_([slug for slug, _ in pairs]), StatusService.active)))
    unknown = [slug for slug, _ in pairs if slug not in known]
    if unknown:
        raise NotFoundError(f"unknown service(s): {', '.join(unknown)}")
    return tuple(AffectedService(slug, impact) for slug, impact in pairs)


def _default_impact(affected: tuple[AffectedService, ...]) -> Impact:
    worst = max((a.impact for a in affected), key=lambda s: s.severity,
                default=ServiceStatus.OPERATIONAL)
    return {ServiceStatus.MAJOR_OUTAGE: Impact.CRITICAL, ServiceStatus.PARTIAL_OUTAGE: Impact.MAJOR,
            ServiceStatus.DEGRADED_PERFORMANCE: Impact.MINOR}.get(worst, Impact.NONE)


def create_notice(
    session: Session,
    actor: Any,
    *,
    kind: NoticeKind | str,
    title: str,
    body: str,
    affected: Mapping[str, str] | Iterable[tuple[str, str]],
    now: datetime,
    status: UpdateStatus | str | None = None,
    impact: Impact | str | None = None,
    publish_now: bool = True,
    incident_ids: Iterable[int] = (),
    expected_resolution_at: datetime | None = None,
    window: MaintenanceWindow | None = None,
    base_url: str = "",
) -> NoticeRow:
    """Create a notice with its first update and (by default) publish it.

    ``affected`` maps service slug → impact (a service status). Refused, with nothing stored:
    an unknown service, and — when publishing — no title, no affected service or no text
    (:class:`PublishError` lists every problem). ``actor`` is a Principal or a label.
    """
    require_aware("now", now)
    kind = parse_enum(NoticeKind, "notice kind", kind)
    services = _affected(session, affected)
    notice = Notice(
        id="new", title=(title or "").strip(), kind=kind,
        impact=parse_enum(Impact, "notice impact", impact) if impact else _default_impact(services),
        affected=services, created_at=now, expected_resolution_at=expected_resolution_at,
        incident_ids=tuple(str(int(i)) for i in incident_ids), window=window,
    )
    author = _label(actor)
    if body and body.strip():
        notice = add_update(notice, status or (UpdateStatus.INVESTIGATING
                                               if kind is NoticeKind.INCIDENT
                                               else UpdateStatus.SCHEDULED), body, author, now)
    if publish_now:
        notice = publish(notice, now)
    elif not notice.title:
        raise NoticeError("title is required; got an empty title")
    row = NoticeRow(
        kind=kind.value, title=notice.title, impact=notice.impact.value, created_at=now,
        created_by=author,
        scheduled_for=window.scheduled_for if window else None,
        scheduled_until=window.scheduled_until if window else None,
        reminder_lead_minutes=[int(lead.total_seconds() // 60) for lead in window.reminder_leads]
        if window else None,
        auto_start=window.auto_start if window else True,
        auto_complete=window.auto_complete if window else True,
        reminders_checked_at=now if window else None,
    )
    session.add(row)
    session.flush()
    save_notice(session, row, None, notice)
    audit.record(session, actor, "notice.create", "notice", row.id,
                 summary=f"{kind.value} notice {notice.title!r}"
                 + (" published" if publish_now else " drafted"),
                 after={"title": notice.title, "affected": dict(
                     (a.service_id, a.impact.value) for a in services),
                     "published": publish_now})
    bump_generation(session, now)
    if publish_now:
        from .subscriptions import notify_update

        stored = load_notice(session, row.id)
        assert stored is not None
        sync_check_windows(session, actor, row.id, stored, now)
        notify_update(session, stored, stored.updates[-1], base_url)
    return row


def _label(actor: Any) -> str:
    return getattr(actor, "label", None) or str(actor)


def _row(session: Session, notice_id: int) -> tuple[NoticeRow, Notice]:
    row = session.get(NoticeRow, notice_id)
    notice = load_notice(session, notice_id) if row else None
    if row is None or notice is None:
        raise NotFoundError(f"no notice with id {notice_id}")
    return row, notice


def post_update(
    session: Session,
    actor: Any,
    notice_id: int,
    *,
    status: UpdateStatus | str,
    body: str,
    now: datetime,
    affected: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    base_url: str = "",
) -> Notice:
    """Add an update (``status`` resolved/completed closes the notice). Refused: blank text, a
    status the rules forbid, any update on a closed notice (reopen it instead)."""
    row, before = _row(session, notice_id)
    new_affected = _affected(session, affected) if affected is not None else None
    after = add_update(before, status, body, _label(actor), now, affected=new_affected)
    return _store_update(session, actor, row, before, after, "notice.update", base_url, now)


def resolve(session: Session, actor: Any, notice_id: int, *, body: str, now: datetime,
            base_url: str = "") -> Notice:
    """Resolve an incident notice or complete a maintenance, with a closing text."""
    row, before = _row(session, notice_id)
    final = UpdateStatus.RESOLVED if before.kind is NoticeKind.INCIDENT else UpdateStatus.COMPLETED
    after = add_update(before, final, body, _label(actor), now)
    return _store_update(session, actor, row, before, after, "notice.resolve", base_url, now)


def reopen_notice(session: Session, actor: Any, notice_id: int, *, status: UpdateStatus | str,
                  body: str, now: datetime, base_url: str = "") -> Notice:
    row, before = _row(session, notice_id)
    after = reopen(before, status, body, _label(actor), now)
    return _store_update(session, actor, row, before, after, "notice.reopen", base_url, now)


def publish_draft(session: Session, actor: Any, notice_id: int, *, now: datetime,
                  base_url: str = "") -> Notice:
    row, before = _row(session, notice_id)
    after = publish(before, now)
    save_notice(session, row, before, after)
    audit.record(session, actor, "notice.publish", "notice", row.id,
                 summary=f"published {after.title!r}")
    bump_generation(session, now)
    sync_check_windows(session, actor, row.id, after, now)
    if after.updates:
        from .subscriptions import notify_update

        notify_update(session, after, after.updates[-1], base_url)
    return after


def _store_update(session: Session, actor: Any, row: NoticeRow, before: Notice, after: Notice,
                  action: str, base_url: str, now: datetime) -> Notice:
    save_notice(session, row, before, after)
    stored = load_notice(session, row.id)
    assert stored is not None
    update = stored.updates[-1]
    audit.record(session, actor, action, "notice", row.id,
                 summary=f"{after.title!r}: {update.status.value}",
                 before={"status": before.status.value}, after={"status": update.status.value})
    bump_generation(session, now)
    sync_check_windows(session, actor, row.id, stored, now)
    if stored.is_published:
        from .subscriptions import notify_update

        notify_update(session, stored, update, base_url)
    return stored


def reschedule_maintenance(session: Session, actor: Any, notice_id: int, *,
                           window: MaintenanceWindow, now: datetime) -> Notice:
    """Move an open maintenance notice to ``window`` (start, end, reminders, automatic start
    and completion); its check maintenance windows move with it. Refused: an incident notice
    or a closed (completed) maintenance."""
    require_aware("now", now)
    row, before = _row(session, notice_id)
    if before.kind is not NoticeKind.MAINTENANCE:
        raise NoticeError(f"notice {notice_id} is an incident notice; only maintenance notices "
                          "have a window")
    if before.is_closed:
        raise NoticeError(f"maintenance notice {notice_id} is completed; reopen it before "
                          "moving its window")
    old = before.window
    row.scheduled_for, row.scheduled_until = window.scheduled_for, window.scheduled_until
    row.reminder_lead_minutes = [int(lead.total_seconds() // 60)
                                 for lead in window.reminder_leads]
    row.auto_start, row.auto_complete = window.auto_start, window.auto_complete
    session.flush()
    stored = load_notice(session, row.id)
    assert stored is not None
    audit.record(session, actor, "notice.reschedule", "notice", row.id,
                 summary=f"{stored.title!r}: {window.scheduled_for.isoformat()} - "
                         f"{window.scheduled_until.isoformat()}",
                 before={"scheduled_for": old.scheduled_for.isoformat(),
                         "scheduled_until": old.scheduled_until.isoformat()} if old else None,
                 after={"scheduled_for": window.scheduled_for.isoformat(),
                        "scheduled_until": window.scheduled_until.isoformat()})
    bump_generation(session, now)
    sync_check_windows(session, actor, row.id, stored, now)
    return stored


# --------------------------------------------------------------------------------------------
# Services and groups (admin)


def save_group(session: Session, actor: Any, *, name: str, position: int = 0,
               description: str = "", group_id: int | None = None,
               now: datetime) -> StatusServiceGroup:
    name = (name or "").strip()
    if not name:
        raise NoticeError("group name is required; got an empty name")
    group = session.get(StatusServiceGroup, group_id) if group_id else StatusServiceGroup()
    if group is None:
        raise NotFoundError(f"no service group with id {group_id}")
    group.name, group.position, group.description, group.updated_at = (
        name, int(position), description.strip(), now)
    if group_id is None:
        group.created_at = now
        session.add(group)
    session.flush()
    audit.record(session, actor, "status_group.save", "status_group", group.id,
                 summary=f"group {name!r}")
    bump_generation(session, now)
    return group


def save_service(session: Session, actor: Any, *, slug: str, name: str, now: datetime,
                 group_id: int | None = None, status: str = "operational",
                 mode: str = "manual", check_ids: Iterable[str] = (), description: str = "",
                 position: int = 0, service_id: int | None = None,
                 site: str | None = None) -> StatusService:
    """Create (no ``service_id``) or change a service. ``slug``: lowercase letters, digits, '-'.
    ``site``: the slug of the data center that provides it (``None`` or blank: the default site
    for a new service, unchanged for an existing one; unknown: ``NoticeError``)."""
    slug, name = (slug or "").strip().lower(), (name or "").strip()
    if not SLUG.match(slug):
        raise NoticeError(f"service slug must be lowercase letters, digits and '-', got {slug!r}")
    if not name:
        raise NoticeError("service name is required; got an empty name")
    parse_enum(ServiceStatus, "service status", status)
    parse_enum(StatusMode, "service status mode", mode)
    service = session.get(StatusService, service_id) if service_id else StatusService()
    if service is None:
        raise NotFoundError(f"no service with id {service_id}")
    try:
        site_row = optional_site(session, site)
    except UnknownSite as exc:
        raise NoticeError(str(exc)) from None
    if site_row is not None:
        service.site_id = site_row.id
    clash = session.scalar(select(StatusService.id).where(StatusService.slug == slug))
    if clash is not None and clash != service_id:
        raise NoticeError(f"service slug {slug!r} is already used by another service")
    before = to_service(service) if service_id else None
    service.slug, service.name, service.group_id, service.status = slug, name, group_id, status
    service.mode, service.check_ids = mode, [str(c) for c in check_ids if str(c).strip()]
    service.description, service.position, service.updated_at = description.strip(), position, now
    if service_id is None:
        service.created_at = now
        session.add(service)
    session.flush()
    audit.record(session, actor, "status_service.save", "status_service", service.id,
                 summary=f"service {slug!r}",
                 before={"status": before.status.value} if before else None,
                 after={"status": status, "mode": mode,
                        **({"site": site_row.slug} if site_row is not None else {})})
    bump_generation(session, now)
    return service


def move_service(session: Session, actor: Any, service_id: int, *, site: str,
                 now: datetime) -> StatusService:
    """Move a service to another data center (``site``: a slug; unknown → ``NoticeError``)."""
    service = session.get(StatusService, service_id) if service_id else None
    if service is None:
        raise NotFoundError(f"no service with id {service_id}")
    try:
        target = site_by_slug(session, site)
    except UnknownSite as exc:
        raise NoticeError(str(exc)) from None
    before, service.site_id, service.updated_at = service.site_id, target.id, now
    audit.record(session, actor, "status_service.move", "status_service", service.id,
                 summary=f"service {service.slug!r} moved to site {target.slug!r}",
                 before={"site_id": before}, after={"site_id": target.id})
    bump_generation(session, now)
    return service


# --------------------------------------------------------------------------------------------
# The worker: maintenance by the clock


def run_maintenance_clock(session: Session, now: datetime, *, base_url: str = "") -> list[str]:
    """Apply due automatic maintenance transitions and send due reminders (each exactly once,
    tracked per notice in ``reminders_checked_at``). Returns what was done, for the log."""
    require_aware("now", now)
    from .subscriptions import notify_reminder

    done: list[str] = []
    rows = {r.id: r for r in session.scalars(select(NoticeRow).where(
        NoticeRow.kind == "maintenance", NoticeRow.published_at.is_not(None),
        NoticeRow.resolved_at.is_(None)))}
    for notice in load_notices(session, list(rows)):
        row = rows[int(notice.id)]
        last_run = row.reminders_checked_at or notice.published_at or now
        for reminder in maintenance.reminders_due([notice], min(last_run, now), now):
            notify_reminder(session, notice, reminder.lead, base_url)
            done.append(f"reminder {notice.id} {reminder.lead}")
        row.reminders_checked_at = now
        after = maintenance.apply_due_transition(notice, now, author=SYSTEM_ACTOR)
        if after is not notice:
            _store_update(session, SYSTEM_ACTOR, row, notice, after, "notice.auto", base_url, now)
            done.append(f"notice {notice.id} -> {after.status.value}")
    return done


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
