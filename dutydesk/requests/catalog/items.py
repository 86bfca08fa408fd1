"""Catalog items as values: parse and check one (from a form, the API or YAML), and what a
request for it takes — type, priority, line, SLA targets, its form fields.

Pure: no database. ``ValidationError`` (HTTP 400 / CLI error) names the field and says why.

An item's SLA targets (first response, resolve; minutes) apply to every priority of a request
for it: they are the "per-category SLA targets" — the request's one SLA clock
(``dutydesk.requests.sla``) runs against them; a target left out keeps the default policy's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from dutydesk.core.models.accounts import Role
from dutydesk.core.validation import ValidationError, choice, text, whole_number
from dutydesk.incidents.priority import Priority, PriorityError
from dutydesk.requests.models import REQUEST_TYPES
from dutydesk.requests.sla import Clock, RequestSlaPolicy

LANGUAGES = ("en", "ru", "uk")
LINES = ("first_line", "second_line")
MAX_FIELDS = 20
MAX_FIELD_VALUE = 500
MAX_SLA_MINUTES = 366 * 24 * 60
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


@dataclass(frozen=True, slots=True)
class FormField:
    """A field a request for the item needs (e.g. "rack", "server serial" for remote hands)."""

    name: str
    labels: Mapping[str, str]
    required: bool = False

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("en") or self.name


@dataclass(frozen=True, slots=True)
class CatalogItem:
    service: str
    slug: str
    names: Mapping[str, str]
    descriptions: Mapping[str, str] = field(default_factory=dict)
    request_type: str = "service_request"
    default_priority: str | None = None
    default_line: str = "first_line"
    first_response_minutes: int | None = None
    resolve_minutes: int | None = None
    fields: tuple[FormField, ...] = ()
    approval_role: str | None = None
    position: int = 0
    active: bool = True
    id: int | None = None
    version: int = 1

    @property
    def key(self) -> str:
        return f"{self.service}/{self.slug}"

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or self.slug

    def description(self, language: str) -> str:
        return self.descriptions.get(language) or self.descriptions.get("en") or ""

    def sla_policy(self, base: RequestSlaPolicy | None = None) -> RequestSlaPolicy:
        """``base`` (the site's policy) with this item's targets put in for every priority."""
        base = base or RequestSlaPolicy()
        override = {Clock.FIRST_RESPONSE: self.first_response_minutes,
                    Clock.RESOLVE: self.resolve_minutes}
        targets = {p: {c: timedelta(minutes=override[c]) if override[c] else base.targets[p][c]
                       for c in Clock} for p in Priority}
        return replace(base, targets=targets)

    def comparable(self) -> dict[str, Any]:
        """Everything an apply compares (not the id)."""
        return as_document(self)


def _texts(value: Any, name: str, *, required: bool, limit: int) -> dict[str, str]:
    if value is None or value == "":
        value = {}
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, Mapping):
        raise ValidationError(name, "expected a text or {en: ..., ru: ..., uk: ...}")
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        raise ValidationError(name, f"languages are en, ru and uk, got {sorted(map(str, unknown))}")
    result = {lang: text(value.get(lang), f"{name}.{lang}", max_length=limit)
              for lang in LANGUAGES if value.get(lang) is not None}
    result = {k: v for k, v in result.items() if v}
    if required and "en" not in result:
        raise ValidationError(f"{name}.en", "is required (the English name is the fallback)")
    return result


def _minutes(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    return int(whole_number(value, name, minimum=1, maximum=MAX_SLA_MINUTES))


def _priority(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(Priority.parse(value))
    except PriorityError as exc:
        raise ValidationError("priority", str(exc)) from None


def _form_fields(value: Any) -> tuple[FormField, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, list):
        raise ValidationError("fields", "expected a list of {name, label, required}")
    if len(value) > MAX_FIELDS:
        raise ValidationError("fields", f"at most {MAX_FIELDS} fields, got {len(value)}")
    result, seen = [], set()
    for number, entry in enumerate(value, start=1):
        where = f"fields[{number}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            raise ValidationError(where, "expected {name, label, required}")
        name = text(entry.get("name"), f"{where}.name", required=True, max_length=50)
        if not _SLUG.match(name):
            raise ValidationError(f"{where}.name", f"use lower-case letters, digits, - and _, "
                                                   f"got {name!r}")
        if name in seen:
            raise ValidationError(f"{where}.name", f"{name!r} is listed twice")
        seen.add(name)
        required = entry.get("required", False)
        if not isinstance(required, bool):
            raise ValidationError(f"{where}.required", "expected true or false")
        labels = _texts(entry.get("label") or {"en": name}, f"{where}.label", required=False,
                        limit=100)
        result.append(FormField(name, labels, required))
    return tuple(result)


def parse_item(data: Mapping[str, Any]) -> CatalogItem:
    """One item from a mapping (the YAML/API shape; see ``as_document``)."""
    if not isinstance(data, Mapping):
        raise ValidationError("item", "expected a mapping")
    allowed = {"service", "slug", "name", "description", "type", "priority", "line", "sla",
               "fields", "approval", "position", "active"}
    unknown = set(map(str, data)) - allowed
    if unknown:
        raise ValidationError("item", f"unknown keys {sorted(unknown)}; known: "
                                      f"{', '.join(sorted(allowed))}")
    slug = text(data.get("slug"), "slug", required=True, max_length=100)
    if not _SLUG.match(slug):
        raise ValidationError("slug", f"use lower-case letters, digits, - and _, got {slug!r}")
    sla = data.get("sla") or {}
    if not isinstance(sla, Mapping) or set(map(str, sla)) - {"first_response", "resolve"}:
        raise ValidationError("sla", "expected {first_response: minutes, resolve: minutes}")
    approval = data.get("approval") or None
    if approval is not None:
        approval = choice(approval, "approval", [r.value for r in Role if r is not Role.VIEWER])
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise ValidationError("active", "expected true or false")
    return CatalogItem(
        service=text(data.get("service"), "service", required=True, max_length=200),
        slug=slug,
        names=_texts(data.get("name"), "name", required=True, limit=200),
        descriptions=_texts(data.get("description"), "description", required=False,
                            limit=2000),
        request_type=choice(data.get("type") or "service_request", "type", REQUEST_TYPES),
        default_priority=_priority(data.get("priority")),
        default_line=choice(data.get("line") or "first_line", "line", LINES),
        first_response_minutes=_minutes(sla.get("first_response"), "sla.first_response"),
        resolve_minutes=_minutes(sla.get("resolve"), "sla.resolve"),
        fields=_form_fields(data.get("fields")),
        approval_role=approval,
        position=int(whole_number(data.get("position"), "position", minimum=0,
                                  maximum=1_000_000, default=0)),
        active=active,
    )


def as_document(item: CatalogItem) -> dict[str, Any]:
    """The YAML/API shape of an item (what ``parse_item`` reads back unchanged)."""
    doc: dict[str, Any] = {"service": item.service, "slug": item.slug, "name": dict(item.names)}
    if item.descriptions:
        doc["description"] = dict(item.descriptions)
    doc["type"] = item.request_type
    if item.default_priority:
        doc["priority"] = item.default_priority
    doc["line"] = item.default_line
    sla = {k: v for k, v in (("first_response", item.first_response_minutes),
                             ("resolve", item.resolve_minutes)) if v}
    if sla:
        doc["sla"] = sla
    if item.fields:
        doc["fields"] = [{"name": f.name, "label": dict(f.labels), "required": f.required}
                         for f in item.fields]
    if item.approval_role:
        doc["approval"] = item.approval_role
    if item.position:
        doc["position"] = item.position
    if not item.active:
        doc["active"] = False
    return doc


def field_values(item: CatalogItem, values: Mapping[str, Any]) -> dict[str, str]:
    """The item's form fields from ``values`` (a form or JSON); required ones must be given."""
    result = {}
    for f in item.fields:
        value = text(values.get(f.name), f.name, max_length=MAX_FIELD_VALUE)
        if f.required and not value:
            raise ValidationError(f.name, f"{f.label('en')} is required for "
                                          f"{item.name('en')!r}")
        if value:
            result[f.name] = value
    return result
