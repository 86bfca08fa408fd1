"""Storing catalog items; catalog as code (``dutydesk catalog apply FILE --dry-run``/``export``).

Writers work inside the caller's transaction (nothing committed here); every change is audited.
``apply`` makes the database match a document: items are keyed by ``service/slug``; an item no
longer in the file is *retired* (``active = False``), never deleted — requests keep naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.plan import Plan
from dutydesk.core.security import Principal
from dutydesk.core.validation import ValidationError
from dutydesk.requests.catalog.items import CatalogItem, FormField, as_document, parse_item
from dutydesk.requests.catalog.models import CatalogItemRow

Actor = Principal | str


class CatalogItemMissing(LookupError):
    """No catalog item with that id (HTTP 404)."""


class CatalogConflict(ValueError):
    """The item changed since it was read, or its service/slug is taken (HTTP 409)."""


def to_item(row: CatalogItemRow) -> CatalogItem:
    return CatalogItem(
        id=row.id, service=row.service, slug=row.slug, names=dict(row.names or {}),
        descriptions=dict(row.descriptions or {}), request_type=row.request_type,
        default_priority=row.default_priority, default_line=row.default_line,
        first_response_minutes=row.first_response_minutes, resolve_minutes=row.resolve_minutes,
        fields=tuple(FormField(f["name"], dict(f.get("labels") or {}), bool(f.get("required")))
                     for f in row.fields or []),
        approval_role=row.approval_role, position=row.position, active=row.active,
        version=row.version)


def _columns(item: CatalogItem) -> dict[str, Any]:
    return {
        "service": item.service, "slug": item.slug, "names": dict(item.names),
        "descriptions": dict(item.descriptions), "request_type": item.request_type,
        "default_priority": item.default_priority, "default_line": item.default_line,
        "first_response_minutes": item.first_response_minutes,
        "resolve_minutes": item.resolve_minutes,
        "fields": [{"name": f.name, "labels": dict(f.labels), "required": f.required}
                   for f in item.fields],
        "approval_role": item.approval_role, "position": item.position, "active": item.active,
    }


def list_items(session: Session, service: str | None = None, *,
               active_only: bool = True) -> list[CatalogItem]:
    """Items (of ``service`` when given) in display order."""
    query = select(CatalogItemRow)
    if service is not None:
        query = query.where(CatalogItemRow.service == service)
    if active_only:
        query = query.where(CatalogItemRow.active)
    query = query.order_by(CatalogItemRow.service, CatalogItemRow.position, CatalogItemRow.slug)
    return [to_item(r) for r in session.scalars(query)]


def get_item(session: Session, item_id: Any) -> CatalogItem:
    """The item with ``item_id`` (retired ones too); ``CatalogItemMissing`` otherwise."""
    try:
        number = int(item_id)
    except (TypeError, ValueError):
        raise CatalogItemMissing(f"there is no catalog item {item_id!r}") from None
    row = session.get(CatalogItemRow, number) if 0 < number < 2**31 else None
    if row is None:
        raise CatalogItemMissing(f"there is no catalog item {item_id!r}")
    return to_item(row)


def item_for_request(session: Session, item_id: Any, service: str | None = None) -> CatalogItem:
    """An *active* item a request may be written for (of ``service`` when given)."""
    item = get_item(session, item_id)
    if not item.active:
        raise ValidationError("catalog_item", f"{item.name('en')!r} is no longer offered")
    if service and item.service != service:
        raise ValidationError("catalog_item", f"{item.name('en')!r} belongs to service "
                                              f"{item.service!r}, not {service!r}")
    return item


def save_item(session: Session, actor: Actor, item: CatalogItem, now: datetime, *,
              expected_version: int | None = None) -> CatalogItem:
    """Create (``item.id is None``) or change an item; audited with before/after."""
    clash = session.scalar(select(CatalogItemRow.id).where(
        CatalogItemRow.service == item.service, CatalogItemRow.slug == item.slug))
    if clash is not None and clash != item.id:
        raise CatalogConflict(f"service {item.service!r} already has an item {item.slug!r}")
    if item.id is None:
        row = CatalogItemRow(**_columns(item), created_at=now, updated_at=now, version=1)
        session.add(row)
        session.flush()
        audit.record(session, actor, "catalog.create", "catalog_item", row.id,
                     summary=item.key, after=as_document(item))
        return to_item(row)
    row = session.get(CatalogItemRow, item.id)
    if row is None:
        raise CatalogItemMissing(f"there is no catalog item {item.id}")
    if expected_version is not None and row.version != expected_version:
        raise CatalogConflict("the item changed since you opened it; reload and try again")
    before = as_document(to_item(row))
    for name, value in _columns(item).items():
        setattr(row, name, value)
    row.updated_at, row.version = now, row.version + 1
    session.flush()
    audit.record(session, actor, "catalog.update", "catalog_item", row.id, summary=item.key,
                 before=before, after=as_document(item))
    return to_item(row)


# --- catalog as code ---------------------------------------------------------------------


class CatalogFileError(ValueError):
    """A catalog file cannot be used; ``errors`` lists every problem ("item 3 (slug): ...")."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_document(source: str, known_services: Iterable[str] | None = None
                   ) -> list[CatalogItem]:
    """Items from YAML text ``{items: [...]}``; every problem is collected, then raised."""
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise CatalogFileError([f"not valid YAML: {exc}"]) from None
    if data is None:
        data = {"items": []}
    if not isinstance(data, Mapping) or not isinstance(data.get("items", []), list) or \
            set(map(str, data)) - {"items"}:
        raise CatalogFileError(["the file must be a mapping with one key, 'items': a list"])
    services = set(known_services) if known_services is not None else None
    items, errors, seen = [], [], set()
    for number, entry in enumerate(data.get("items") or [], start=1):
        label = entry.get("slug", "?") if isinstance(entry, Mapping) else "?"
        try:
            item = parse_item(entry)
        except ValidationError as exc:
            errors.append(f"item {number} ({label}): {exc}")
            continue
        if services is not None and item.service not in services:
            errors.append(f"item {number} ({label}): service {item.service!r} is not a status "
                          f"page service; known: {', '.join(sorted(services)) or 'none'}")
        if item.key in seen:
            errors.append(f"item {number} ({label}): {item.key} is listed twice")
        seen.add(item.key)
        items.append(item)
    if errors:
        raise CatalogFileError(errors)
    return items


def plan(session: Session, wanted: list[CatalogItem]) -> Plan:
    """What ``apply`` would change, changing nothing."""
    return _reconcile(session, wanted, None, None)


def apply(session: Session, wanted: list[CatalogItem], actor: Actor, now: datetime) -> Plan:
    """Make the catalog match ``wanted`` (in the caller's transaction; audited per item)."""
    return _reconcile(session, wanted, actor, now)


def _reconcile(session: Session, wanted: list[CatalogItem], actor: Actor | None,
               now: datetime | None) -> Plan:
    result = Plan()
    current = {i.key: i for i in list_items(session, active_only=False)}
    for item in wanted:
        old = current.get(item.key)
        if old is None:
            result.added.append(item.key)
        elif old.comparable() != item.comparable():
            changed = sorted(k for k in set(old.comparable()) | set(item.comparable())
                             if old.comparable().get(k) != item.comparable().get(k))
            result.changed.append(f"{item.key} ({', '.join(changed)})")
        else:
            continue
        if actor is not None and now is not None:
            save_item(session, actor, replace(item, id=old.id if old else None), now)
    keys = {i.key for i in wanted}
    for key, old in current.items():
        if key in keys or not old.active:
            continue
        result.removed.append(f"{key} (retired)")
        if actor is not None and now is not None:
            save_item(session, actor, replace(old, active=False), now)
    return result


def export(session: Session) -> str:
    """Every item (retired ones with ``active: false``) as YAML that ``apply`` accepts."""
    items = [as_document(i) for i in list_items(session, active_only=False)]
    return yaml.safe_dump({"items": items}, allow_unicode=True, sort_keys=False)
