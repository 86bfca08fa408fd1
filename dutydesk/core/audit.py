"""Writing the audit log. Call ``record`` in the same transaction as the change it describes."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request
from sqlalchemy.orm import Session

from dutydesk.core.db import utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.security import Principal


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    *,
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session`` (not committed here: it commits with the change)."""
    if isinstance(actor, Principal):
        label, user_id = actor.label, actor.user_id
    else:
        label, user_id = actor, None
    entry = AuditEntry(
        at=utcnow(),
        actor=label,
        actor_user_id=user_id,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        summary=summary[:500],
        before=before,
        after=after,
        ip=request.remote_addr if has_request_context() else None,
        request_id=g.get("request_id") if has_request_context() else None,
    )
    session.add(entry)
    return entry


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Keep only the keys whose value changed, so entries show what actually moved."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def filtered_query(
    *,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: Any = None,
    until: Any = None,
) -> Any:
    """A SELECT of audit entries matching the filters, newest first (shared by UI and API)."""
    from sqlalchemy import select

    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if actor:
        query = query.where(AuditEntry.actor.ilike(f"%{actor}%"))
    if action:
        query = query.where(AuditEntry.action.ilike(f"{action}%"))
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at <= until)
    return query


def entry_as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "actor_user_id": entry.actor_user_id,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "summary": entry.summary,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
        "request_id": entry.request_id,
    }
