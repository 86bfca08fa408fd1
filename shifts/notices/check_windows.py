"""Scheduled maintenance notices mute the checks behind their services.

A published maintenance notice owns one one-off maintenance window (``maintenance_windows``,
``kind="one_off"``) per check linked to any of its affected services, so the check engine mutes
the flips of planned work (``muted_by="maintenance"``) and nobody is paged for it.

Ownership is explicit: the window row's ``notice_id`` points at the notice (no name matching),
and the row is named after the notice ("Notice #12: Mail upgrade") so the checks screens say why
a check is muted. Such rows are not part of the checks-as-code YAML.

What the windows cover (:func:`muted_period`, pure):

- a draft, an incident notice, or a maintenance without a window: nothing;
- an open maintenance: ``scheduled_for`` → ``scheduled_until``; if a person started the work
  early (an ``in_progress``/``verifying`` update before ``scheduled_for``) from that update on;
- a completed maintenance: up to the completing update when that came before
  ``scheduled_until`` (completed early ends the windows); completed before the start
  (cancelled): nothing, the windows are removed.

Which checks: every link in ``StatusService.check_ids`` of the affected services, whatever the
service's status mode (the checks behind a service are disturbed by the work on it either way);
links are check ids ("12") or slugs ("ups-a"), unknown links are ignored.

:func:`sync_check_windows` reconciles the stored rows with that plan (create, move, remove) in
the caller's transaction and audits a change; :mod:`.service` calls it after every change of a
notice, so publishing, rescheduling, updates (also changes of affected services), automatic
start/completion and reopening all keep the windows right.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from checks.maintenance import OneOffWindow
from checks.windows import window_definition
from dutydesk.core import audit

from .model import Notice, NoticeKind, UpdateStatus, require_aware

NAME_LIMIT = 200  # maintenance_windows.name is String(200)
_STARTED = frozenset({UpdateStatus.IN_PROGRESS, UpdateStatus.VERIFYING})


def window_name(notice_id: int | str, title: str) -> str:
    """The window's name as the checks screens show it, e.g. ``Notice #12: Mail upgrade``."""
    return f"Notice #{notice_id}: {title}"[:NAME_LIMIT]


def muted_period(notice: Notice) -> tuple[datetime, datetime] | None:
    """The period (start inclusive, end exclusive, aware UTC) in which the checks behind
    ``notice`` are in maintenance, or ``None`` when the notice mutes nothing. See the module
    docstring for the rules. Pure."""
    if (notice.kind is not NoticeKind.MAINTENANCE or notice.window is None
            or not notice.is_published):
        return None
    start, end = notice.window.scheduled_for, notice.window.scheduled_until
    started_early = [u.created_at for u in notice.updates
                     if u.status in _STARTED and not u.automatic and u.created_at < start]
    if started_early:
        start = min(started_early)
    if notice.is_closed:
        end = min(end, notice.updates[-1].created_at)
    return (start, end) if end > start else None


def linked_check_ids(session: Session, service_slugs: Iterable[str]) -> list[int]:
    """Ids of the checks linked (by id or slug) to the services, each once, ascending."""
    from checks.models import Check
    from shifts.notices.orm import StatusService

    slugs = list(dict.fromkeys(service_slugs))
    if not slugs:
        return []
    links: set[str] = set()
    for check_ids in session.scalars(select(StatusService.check_ids)
                                     .where(StatusService.slug.in_(slugs))):
        links.update(str(c).strip() for c in check_ids or () if str(c).strip())
    if not links:
        return []
    ids = [int(c) for c in links if c.isdigit()]
    names = [c for c in links if not c.isdigit()]
    return sorted(session.scalars(select(Check.id).where(
        or_(Check.id.in_(ids), Check.slug.in_(names)))))


def planned_definitions(notice: Notice, check_ids: Iterable[int]
                        ) -> dict[int, dict[str, Any]]:
    """Check id → the one-off window ``definition`` the notice wants for it (empty when the
    notice mutes nothing). Raises :class:`checks.maintenance.MaintenanceError` for a period
    the check engine cannot hold (longer than a year). Pure."""
    period = muted_period(notice)
    if period is None:
        return {}
    definition = window_definition(OneOffWindow(*period))
    return {check_id: dict(definition) for check_id in check_ids}


def sync_check_windows(session: Session, actor: Any, notice_id: int, notice: Notice,
                       now: datetime) -> dict[str, list[int]]:
    """Make the stored windows of notice ``notice_id`` match ``notice`` (its stored state).

    Works in the caller's transaction; a change is audited (``notice.check_windows``).
    Returns the check ids whose window was ``created``, ``changed`` and ``removed``.
    """
    from checks.models import MaintenanceWindowRow

    require_aware("now", now)
    wanted = planned_definitions(
        notice, linked_check_ids(session, (a.service_id for a in notice.affected)))
    name = window_name(notice_id, notice.title)
    rows = session.scalars(select(MaintenanceWindowRow)
                           .where(MaintenanceWindowRow.notice_id == notice_id)
                           .order_by(MaintenanceWindowRow.id)).all()
    done: dict[str, list[int]] = {"created": [], "changed": [], "removed": []}
    seen: set[int] = set()
    for row in rows:
        check_id = row.check_id
        if check_id is None or check_id not in wanted or check_id in seen:
            done["removed"].append(check_id or 0)
            session.delete(row)
            continue
        seen.add(check_id)
        target = (name, "one_off", wanted[check_id], "UTC", True)
        if (row.name, row.kind, row.definition, row.zone, row.enabled) != target:
            row.name, row.kind, row.definition, row.zone, row.enabled = target
            done["changed"].append(check_id)
    for check_id in sorted(set(wanted) - seen):
        session.add(MaintenanceWindowRow(
            name=name, kind="one_off", definition=wanted[check_id], zone="UTC",
            check_id=check_id, notice_id=notice_id, enabled=True,
            created_by=str(getattr(actor, "label", None) or actor), created_at=now))
        done["created"].append(check_id)
    if any(done.values()):
        session.flush()
        period = next(iter(wanted.values()), None)
        audit.record(session, actor, "notice.check_windows", "notice", notice_id,
                     summary=f"maintenance windows for {notice.title!r}: "
                             + ", ".join(f"{len(v)} {k}" for k, v in done.items() if v),
                     after={**done, "period": period})
    return done
