"""Editing checks, groups, dependencies and maintenance windows (shift lead and admin).

Every form is validated by the same functions as the YAML file (``validate_check``,
``validate_window``), so a check that the UI accepts is one that ``dutydesk checks apply``
accepts, and the other way round. A refused form is shown again with the reason and nothing is
stored; every change is audited in the transaction that makes it.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from werkzeug.datastructures import MultiDict

from checks import secrets as secrets_in_spec
from checks.config import normalise_group, validate_check, validate_window
from checks.config_db import ensure_group
from checks.dependencies import DEFAULT_PARENT_UP_STATES
from checks.models import (
    Check,
    CheckDependency,
    CheckGroup,
    CheckStateRow,
    MaintenanceWindowRow,
)
from checks.probes import CHECK_TYPES
from checks.probes.plugin import PluginRefused, locate_plugin
from checks.queries import creates_cycle, dependency_edges
from checks.schedule import next_due
from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.site_registry import find_site
from dutydesk.core.sites import DEFAULT_SITE, Site
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.sites.service import probes_elsewhere
from dutydesk.web.checks import EDIT_ROLE, window_timing

bp = Blueprint("checks_edit", __name__)

#: Form fields of each window kind (inputs of other kinds on the same form are ignored).
WINDOW_FIELDS = {
    "one_off": ("start", "end"),
    "weekly": ("weekdays", "start_time", "duration"),
    "monthly": ("start_time", "duration", "day", "nth", "weekday"),
    "cron": ("expression", "duration"),
}
#: Check columns the form does not show; an edit keeps their stored values.
KEPT_FIELDS = ("labels", "flap_low_threshold", "flap_high_threshold", "flap_history_states",
               "guard_reference")


class FormError(ValueError):
    """A form field could not even be read (e.g. spec is not YAML)."""


def _int_or_text(value: str) -> int | str:
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() else value


def _seconds_or_text(value: str) -> float | str:
    """A bare number typed in a duration box means seconds ("30"); "30s", "2m" pass through."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        return value


def check_form_data(form: MultiDict[str, str], existing: Check | None = None) -> dict[str, Any]:
    """The form as a check entry in the YAML format (``validate_check`` judges it)."""
    text = form.get("spec", "").strip()
    try:
        spec = yaml.safe_load(text) if text else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise FormError(f"spec is not valid YAML or JSON{where}: "
                        f"{getattr(exc, 'problem', exc)}") from None
    if spec is None:
        spec = {}
    type_name = form.get("type", "").strip()
    if isinstance(spec, dict) and existing is not None:  # "(unchanged)" keeps a stored secret
        spec = secrets_in_spec.restored(type_name, spec, existing.type, existing.spec)
    data: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "display_name": form.get("display_name", "").strip(),
        "type": type_name,
        "spec": spec,
        "interval": _seconds_or_text(form.get("interval", "") or "60"),
        "max_attempts": _int_or_text(form.get("max_attempts", "") or "3"),
        "timeout": _seconds_or_text(form.get("timeout", "") or "30"),
        "enabled": form.get("enabled") in ("on", "1", "true"),
        "flap_detection": form.get("flap_detection") in ("on", "1", "true"),
        "tags": [t.strip() for t in form.get("tags", "").split(",") if t.strip()],
        "service": form.get("service", "").strip(),
        "impact": _int_or_text(form.get("impact", "") or "2"),
        "urgency": _int_or_text(form.get("urgency", "") or "2"),
    }
    if "parent_up_states" in form:
        data["parent_up_states"] = form.getlist("parent_up_states")
    if form.get("retry_interval", "").strip():
        data["retry_interval"] = _seconds_or_text(form["retry_interval"])
    if form.get("group", "").strip():
        data["group"] = form["group"].strip()
    if form.get("site", "").strip():
        data["site"] = form["site"].strip()
    if existing is not None:
        for name in KEPT_FIELDS:
            data[name] = getattr(existing, name)
        if existing.heartbeat_key:
            data["heartbeat_key"] = existing.heartbeat_key
    return data


def _form_values(check: Check | None, group: str | None) -> dict[str, Any]:
    """What the form shows for a new check or an existing one."""
    if check is None:
        return {"type": "http", "interval": "60", "max_attempts": "3", "timeout": "30",
                "enabled": True, "flap_detection": True, "impact": "2", "urgency": "2",
                "spec": "url: https://\n", "parent_up_states": DEFAULT_PARENT_UP_STATES}
    return {
        "name": check.slug, "display_name": check.display_name, "type": check.type,
        "group": group or "", "site": _site_slug(check.site_id),
        "spec": yaml.safe_dump(secrets_in_spec.masked(check.type, check.spec), sort_keys=False,
                               allow_unicode=True),
        "interval": f"{check.interval:g}", "max_attempts": str(check.max_attempts),
        "retry_interval": "" if check.retry_interval is None else f"{check.retry_interval:g}",
        "timeout": f"{check.timeout:g}", "enabled": check.enabled,
        "flap_detection": check.flap_detection, "tags": ", ".join(check.tags),
        "service": check.service, "impact": str(check.impact), "urgency": str(check.urgency),
        "parent_up_states": tuple(check.parent_up_states or DEFAULT_PARENT_UP_STATES),
    }


def _render_form(check: Check | None, values: dict[str, Any], error: str | None = None,
                 status: int = 200) -> Any:
    groups = db_session().scalars(select(CheckGroup.path).order_by(CheckGroup.path)).all()
    types = sorted(t for t in CHECK_TYPES
                   if t != "plugin" or principal().can(Role.ADMIN) or values.get("type") == t)
    sites = db_session().execute(select(Site.slug, Site.name).order_by(Site.name)).all()
    return render_template("checks/form.html", check=check, values=values, error=error,
                           types=types, groups=groups, sites=sites), status


def _site_slug(site_id: int | None) -> str:
    if site_id is None:
        return DEFAULT_SITE
    return db_session().scalar(select(Site.slug).where(Site.id == site_id)) or DEFAULT_SITE


def _group_path(check: Check) -> str | None:
    if check.group_id is None:
        return None
    return db_session().scalar(select(CheckGroup.path).where(CheckGroup.id == check.group_id))


def _require_plugin_rights(check: Check | None, type_name: str | None) -> None:
    """Plugin checks run programs on the server: only admins create or change them (403)."""
    touches_plugin = type_name == "plugin" or (check is not None and check.type == "plugin")
    if touches_plugin and not principal().can(Role.ADMIN):
        raise ApiError(403, _("Only admins may create or change plugin checks: they run "
                              "programs on the server."))


def _plugin_problem(values: dict[str, Any]) -> str | None:
    """Why the chosen plugin cannot run here (not in the operator's plugin_dirs), or None."""
    if values.get("type") != "plugin":
        return None
    try:
        locate_plugin(str(values["spec"]["command"][0]), settings().plugin_dirs)
    except PluginRefused as exc:
        return str(exc)
    return None


def _save_check(check: Check | None) -> Any:
    """Validate the posted form and create or update ``check``; re-render on any error."""
    s = db_session()
    form = request.form
    _require_plugin_rights(check, form.get("type", "").strip())
    try:
        config = validate_check(check_form_data(form, check))
        problem = _plugin_problem(config.values)
        if problem:
            raise FormError(problem)
        clash = s.scalar(select(Check.id).where(Check.slug == config.name))
        if clash is not None and (check is None or clash != check.id):
            raise FormError(f"name {config.name!r} is already used by another check")
        site_id = find_site(s, config.site or DEFAULT_SITE).id
        running = probes_elsewhere(s, check.id, site_id) if check is not None else []
        if running:
            raise FormError(f"probe {running[0]} of another site runs this check: give the "
                            "check back to the centre or to a probe of the new site first")
    except ValueError as exc:
        return _render_form(check, form.to_dict() | {"enabled": "enabled" in form,
                                                     "flap_detection": "flap_detection" in form},
                            str(exc), 400)
    now = utcnow()
    values = dict(config.values)
    values["group_id"] = ensure_group(s, config.group).id if config.group else None
    values["site_id"] = site_id
    if check is None:
        key = secrets.token_urlsafe(16) if values["type"] == "heartbeat" else None
        check = Check(**values, heartbeat_key=key, created_at=now, updated_at=now)
        s.add(check)
        s.flush()
        s.add(CheckStateRow(check_id=check.id, state={}, updated_at=now,
                            next_due_at=next_due(check.id, check.interval, None, now)))
        audit.record(s, principal(), "check.create", "check", check.id,
                     summary=f"check {check.slug} created",
                     after=secrets_in_spec.audited(config.values, values["type"]))
        message = _("Check %(name)s created.", name=check.slug)
    else:
        before = {k: getattr(check, k) for k in values}
        old, new = audit.changed_fields(before, values)
        for name, value in values.items():
            setattr(check, name, value)
        check.updated_at = now
        audit.record(s, principal(), "check.update", "check", check.id,
                     summary=f"check {check.slug} edited",
                     before=secrets_in_spec.audited(old, before["type"]),
                     after=secrets_in_spec.audited(new, values["type"]))
        message = _("Check %(name)s saved.", name=check.slug)
    s.commit()
    flash(message, "ok")
    return redirect(url_for("checks.check_page", check_id=check.id), 303)


def _check_or_404(check_id: int) -> Check:
    check = db_session().get(Check, check_id)
    if check is None:
        abort(404)
    return check


@bp.route("/checks/new", methods=["GET", "POST"])
@require_role(EDIT_ROLE)
def check_new() -> Any:
    if request.method == "POST":
        return _save_check(None)
    values = _form_values(None, None)
    if request.args.get("group"):
        values["group"] = request.args["group"]
    return _render_form(None, values)


@bp.route("/checks/<int:check_id>/edit", methods=["GET", "POST"])
@require_role(EDIT_ROLE)
def check_edit(check_id: int) -> Any:
    check = _check_or_404(check_id)
    if request.method == "POST":
        return _save_check(check)
    return _render_form(check, _form_values(check, _group_path(check)))


@bp.route("/checks/<int:check_id>/enabled", methods=["POST"])
@require_role(EDIT_ROLE)
def check_set_enabled(check_id: int) -> Any:
    check = _check_or_404(check_id)
    enabled = request.form.get("enabled") == "1"
    if check.enabled != enabled:
        check.enabled = enabled
        check.updated_at = utcnow()
        audit.record(db_session(), principal(), "check.enable" if enabled else "check.disable",
                     "check", check.id, summary=f"check {check.slug} "
                     f"{'enabled' if enabled else 'disabled'}",
                     before={"enabled": not enabled}, after={"enabled": enabled})
        db_session().commit()
    flash(_("Check enabled.") if enabled else _("Check disabled."), "ok")
    return redirect(url_for("checks.check_page", check_id=check.id), 303)


@bp.route("/checks/<int:check_id>/delete", methods=["POST"])
@require_role(EDIT_ROLE)
def check_delete(check_id: int) -> Any:
    s = db_session()
    check = _check_or_404(check_id)
    audit.record(s, principal(), "check.delete", "check", check.id,
                 summary=f"check {check.slug} deleted",
                 before={"slug": check.slug, "type": check.type, "spec": check.spec})
    s.delete(check)
    s.commit()
    flash(_("Check %(name)s deleted.", name=check.slug), "ok")
    return redirect(url_for("checks.check_list"), 303)


# ---- dependencies -------------------------------------------------------------------------


@bp.route("/checks/<int:check_id>/parents", methods=["POST"])
@require_role(EDIT_ROLE)
def parent_add(check_id: int) -> Any:
    s = db_session()
    check = _check_or_404(check_id)
    target = f"{url_for('checks.check_page', check_id=check_id)}#dependencies"
    try:
        parent = s.get(Check, int(request.form.get("parent_id", "")))
    except ValueError:
        parent = None
    if parent is None:
        flash(_("Choose the check this one depends on."), "error")
        return redirect(target, 303)
    if creates_cycle(dependency_edges(s), check.id, parent.id):
        flash(_("Refused: %(parent)s already depends on %(child)s, so this would make a loop.",
                parent=parent.slug, child=check.slug), "error")
        return redirect(target, 303)
    if s.get(CheckDependency, (check.id, parent.id)) is None:
        s.add(CheckDependency(child_id=check.id, parent_id=parent.id))
        audit.record(s, principal(), "check.parent_add", "check", check.id,
                     summary=f"check {check.slug} now depends on {parent.slug}",
                     after={"parent": parent.slug})
        s.commit()
    flash(_("%(child)s now depends on %(parent)s.", child=check.slug, parent=parent.slug), "ok")
    return redirect(target, 303)


@bp.route("/checks/<int:check_id>/parents/<int:parent_id>/delete", methods=["POST"])
@require_role(EDIT_ROLE)
def parent_remove(check_id: int, parent_id: int) -> Any:
    s = db_session()
    check = _check_or_404(check_id)
    parent = _check_or_404(parent_id)
    removed = s.execute(delete(CheckDependency).where(
        CheckDependency.child_id == check.id, CheckDependency.parent_id == parent.id)).rowcount
    if removed:
        audit.record(s, principal(), "check.parent_remove", "check", check.id,
                     summary=f"check {check.slug} no longer depends on {parent.slug}",
                     before={"parent": parent.slug})
        s.commit()
    flash(_("Dependency removed."), "ok")
    return redirect(f"{url_for('checks.check_page', check_id=check_id)}#dependencies", 303)


# ---- groups -------------------------------------------------------------------------------


@bp.route("/checks/groups", methods=["GET", "POST"])
@require_role(EDIT_ROLE)
def groups() -> Any:
    s = db_session()
    if request.method == "POST":
        path = request.form.get("path", "")
        try:
            path = normalise_group(path)
        except ValueError as exc:
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
            return redirect(url_for("checks_edit.groups"), 303)
        existed = s.scalar(select(CheckGroup.id).where(CheckGroup.path == path))
        group = ensure_group(s, path, request.form.get("description", "").strip())
        audit.record(s, principal(), "check_group.update" if existed else "check_group.create",
                     "check_group", group.id, summary=f"group {path} "
                     f"{'updated' if existed else 'created'}",
                     after={"path": path, "description": group.description})
        s.commit()
        flash(_("Group %(path)s saved.", path=path), "ok")
        return redirect(url_for("checks_edit.groups"), 303)
    counts = dict(s.execute(select(Check.group_id, func.count()).group_by(Check.group_id)).all())
    rows = s.scalars(select(CheckGroup).order_by(CheckGroup.path)).all()
    return render_template("checks/groups.html", groups=rows, counts=counts)


@bp.route("/checks/groups/<int:group_id>", methods=["GET"])
@require_role(EDIT_ROLE)
def group_page(group_id: int) -> Any:
    s = db_session()
    group = s.get(CheckGroup, group_id)
    if group is None:
        abort(404)
    now = utcnow()
    windows = s.scalars(select(MaintenanceWindowRow).where(
        MaintenanceWindowRow.group_id == group_id).order_by(MaintenanceWindowRow.id)).all()
    return render_template("checks/group.html", group=group, now=now,
                           windows=[(w, group.path, window_timing(w, now)) for w in windows])


@bp.route("/checks/groups/<int:group_id>/delete", methods=["POST"])
@require_role(EDIT_ROLE)
def group_delete(group_id: int) -> Any:
    s = db_session()
    group = s.get(CheckGroup, group_id)
    if group is None:
        abort(404)
    audit.record(s, principal(), "check_group.delete", "check_group", group.id,
                 summary=f"group {group.path} deleted (its checks keep running, ungrouped)",
                 before={"path": group.path})
    s.delete(group)
    s.commit()
    flash(_("Group %(path)s deleted.", path=group.path), "ok")
    return redirect(url_for("checks_edit.groups"), 303)


# ---- maintenance windows ------------------------------------------------------------------


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
            value = _int_or_text(value)
        data[name] = value
    return data


def _local_instant(name: str, value: str, zone: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FormError(f"{name} must be a date and time like 2026-05-01T22:00, "
                        f"got {value!r}") from None
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a malformed long key
            raise FormError(f"zone must be an IANA time zone like Europe/Kyiv, "
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


@bp.route("/checks/<int:check_id>/windows", methods=["POST"])
@require_role(EDIT_ROLE)
def check_window_add(check_id: int) -> Any:
    check = _check_or_404(check_id)
    return add_window({"check": check.slug, "check_id": check.id},
                       f"{url_for('checks.check_page', check_id=check_id)}#maintenance")


@bp.route("/checks/groups/<int:group_id>/windows", methods=["POST"])
@require_role(EDIT_ROLE)
def group_window_add(group_id: int) -> Any:
    group = db_session().get(CheckGroup, group_id)
    if group is None:
        abort(404)
    return add_window({"group": group.path, "group_id": group.id},
                       url_for("checks_edit.group_page", group_id=group_id))


@bp.route("/checks/windows/<int:window_id>/delete", methods=["POST"])
@require_role(EDIT_ROLE)
def window_delete(window_id: int) -> Any:
    s = db_session()
    row = s.get(MaintenanceWindowRow, window_id)
    if row is None:
        abort(404)
    back = (url_for("checks.check_page", check_id=row.check_id) + "#maintenance"
            if row.check_id else url_for("checks_edit.group_page", group_id=row.group_id)
            if row.group_id else url_for("checks_sites.site_maintenance",
                                         slug=_site_slug(row.site_id)))
    audit.record(s, principal(), "maintenance.delete", "maintenance_window", row.id,
                 summary=f"maintenance window {row.name or row.id} deleted",
                 before={"kind": row.kind, "zone": row.zone, **row.definition})
    s.delete(row)
    s.commit()
    flash(_("Maintenance window deleted."), "ok")
    return redirect(back, 303)
