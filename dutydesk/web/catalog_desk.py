"""The service catalog screens (``/catalog``): everyone on the desk reads what may be asked for
per service; shift leads and admins add and change items (each change audited). Items are
retired, never deleted. The same items as code: ``dutydesk catalog apply|export``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.core.validation import ValidationError
from dutydesk.i18n import current_language as _language
from dutydesk.models import Role
from dutydesk.requests.catalog.items import LANGUAGES, CatalogItem, parse_item
from dutydesk.requests.catalog.store import (
    CatalogConflict,
    CatalogItemMissing,
    get_item,
    list_items,
    save_item,
)
from dutydesk.requests.models import REQUEST_TYPES
from shifts.notices.storage import load_services

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


@bp.route("")
@require_role(Role.ENGINEER)
def items() -> Any:
    s = db_session()
    services = {sv.id: sv.name for sv in load_services(s)[1]}
    show_retired = request.args.get("retired") == "1"
    return render_template("catalog/list.html", items=list_items(s, active_only=not show_retired),
                           services=services, language=_language(), show_retired=show_retired,
                           can_edit=principal().can(Role.SHIFT_LEAD))


def parse_fields_text(value: str) -> list[dict[str, Any]]:
    """Form fields from lines ``name | required | English label | Русский | Українська``."""
    result = []
    for number, line in enumerate(value.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        required = len(parts) > 1 and parts[1].lower() in ("required", "yes", "true", "1", "*")
        if len(parts) > 1 and parts[1] and not required and parts[1].lower() not in (
                "optional", "no", "false", "0", "-"):
            raise ValidationError(f"fields line {number}", "the second part is 'required' or "
                                                           "'optional'")
        labels = dict(zip(LANGUAGES, parts[2:5], strict=False))
        result.append({"name": parts[0], "required": required,
                       "label": {k: v for k, v in labels.items() if v}})
    return result


def fields_text(item: CatalogItem) -> str:
    return "\n".join(" | ".join([f.name, "required" if f.required else "optional",
                                 *(f.labels.get(lang, "") for lang in LANGUAGES)]).rstrip(" |")
                     for f in item.fields)


def _document(form: MultiDict) -> dict[str, Any]:
    return {
        "service": form.get("service", ""), "slug": form.get("slug", ""),
        "name": {lang: form.get(f"name_{lang}", "") for lang in LANGUAGES},
        "description": {lang: form.get(f"description_{lang}", "") for lang in LANGUAGES},
        "type": form.get("type", ""), "priority": form.get("priority", ""),
        "line": form.get("line", ""),
        "sla": {"first_response": form.get("first_response", ""),
                "resolve": form.get("resolve", "")},
        "fields": parse_fields_text(form.get("fields", "")),
        "approval": form.get("approval", ""), "position": form.get("position", ""),
        "active": form.get("active") == "1",
    }


def _values(item: CatalogItem) -> dict[str, Any]:
    values: dict[str, Any] = {
        "service": item.service, "slug": item.slug, "type": item.request_type,
        "priority": item.default_priority or "", "line": item.default_line,
        "first_response": item.first_response_minutes or "",
        "resolve": item.resolve_minutes or "", "fields": fields_text(item),
        "approval": item.approval_role or "", "position": item.position,
        "active": "1" if item.active else ""}
    for lang in LANGUAGES:
        values[f"name_{lang}"] = item.names.get(lang, "")
        values[f"description_{lang}"] = item.descriptions.get(lang, "")
    return values


def _editor(values: dict[str, Any], item: CatalogItem | None = None, error: str | None = None,
            status: int = 200) -> Any:
    return render_template(
        "catalog/edit.html", values=values, item=item, error=error,
        services=load_services(db_session())[1], types=REQUEST_TYPES, languages=LANGUAGES,
        roles=[r.value for r in Role if r is not Role.VIEWER]), status


def _save(item_id: int | None) -> Any:
    s = db_session()
    form = request.form
    version = form.get("version", "")
    try:
        item = parse_item(_document(form))
        saved = save_item(s, principal(), replace(item, id=item_id), utcnow(),
                          expected_version=int(version) if version.isdigit() else None)
        s.commit()
    except (ValidationError, CatalogConflict) as exc:
        s.rollback()
        current = get_item(s, item_id) if item_id else None
        return _editor(form.to_dict(), current, str(exc),
                       409 if isinstance(exc, CatalogConflict) else 400)
    flash(gettext("Catalog item saved."), "ok")
    return redirect(url_for("catalog.items", _anchor=f"item-{saved.id}"))


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.SHIFT_LEAD)
def new_item() -> Any:
    if request.method == "POST":
        return _save(None)
    return _editor({"active": "1", "type": "service_request", "line": "first_line",
                    "service": request.args.get("service", "")})


@bp.route("/<int:item_id>/edit", methods=["GET", "POST"])
@require_role(Role.SHIFT_LEAD)
def edit_item(item_id: int) -> Any:
    try:
        item = get_item(db_session(), item_id)
    except CatalogItemMissing:
        abort(404)
    if request.method == "POST":
        return _save(item_id)
    return _editor(_values(item), item)
