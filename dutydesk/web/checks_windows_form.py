"""The maintenance window form of a check, a group or a site: read in the window's zone,
validated by ``validate_window`` (the YAML rule), stored audited; a refusal is flashed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import flash, redirect, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from checks.config import validate_window
from checks.models import MaintenanceWindowRow
from dutydesk.context import db_session, principal
from dutydesk.core import audit

#: Form fields of each window kind (inputs of other kinds on the same form are ignored).
WINDOW_FIELDS = {
    "one_off": ("start", "end"),
    "weekly": ("weekdays", "start_time", "duration"),
    "monthly": ("start_time", "duration", "day", "nth", "weekday"),
    "cron": ("expression", "duration"),
}


def int_or_text(value: str) -> int | str:
    """A whole number typed in a box ("2", "-1"), else the text as typed (the validator names
    what is wrong with it)."""
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() else value


def window_form_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted window form as a YAML ``maintenance`` entry (without its target).

    A one-off start/end typed without an offset (``datetime-local``) is read in the window's
    zone; only the inputs of the chosen kind are taken."""
    kind = form.get("kind", "")
    zone = form.get("zone", "").strip() or "UTC"
    data: dict[str, Any] = {"name": form.get("name", "").strip(), "kind": kind, "zone": zone}
    for name in WINDOW_FIELDS.get(kind, ()):
        if name == "weekdays":
            days = form.getlist("weekdays")
            if days:
                data["weekdays"] = days
            continue
        value = form.get(name, "").strip()
        if not value:
            continue
        if name in ("start", "end"):
            value = _local_instant(name, value, zone)
        elif name in ("day", "nth"):
            value = int_or_text(value)
        data[name] = value
    return data


def _local_instant(name: str, value: str, zone: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date and time like 2026-05-01T22:00, "
                        f"got {value!r}") from None
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a malformed long key
            raise ValueError(f"zone must be an IANA time zone like Europe/Kyiv, "
                            f"got {zone!r}") from None
    return moment.isoformat()


def add_window(target: dict[str, Any], redirect_to: str) -> Any:
    """Validate the posted window form for ``target`` (``check``/``group``/``site`` and its
    ``*_id``), store it audited and go back to ``redirect_to``; a refusal is flashed."""
    s = db_session()
    try:
        data = window_form_data(request.form)
        config = validate_window({**data, **{k: v for k, v in target.items()
                                            if k in ("check", "group", "site")}})
    except ValueError as exc:
        flash(_("Maintenance window refused: %(reason)s", reason=str(exc)), "error")
        return redirect(redirect_to, 303)
    row = MaintenanceWindowRow(name=config.name, kind=config.kind, definition=config.definition,
                               zone=config.zone, check_id=target.get("check_id"),
                               group_id=target.get("group_id"), site_id=target.get("site_id"),
                               created_by=principal().label)
    s.add(row)
    s.flush()
    what = target.get("check") or target.get("group") or f"site {target.get('site')}"
    audit.record(s, principal(), "maintenance.create", "maintenance_window", row.id,
                 summary=f"maintenance window {config.name or row.id} ({config.kind}) for "
                         f"{what}",
                 after={"kind": config.kind, "zone": config.zone, **config.definition})
    s.commit()
    flash(_("Maintenance window added."), "ok")
    return redirect(redirect_to, 303)
