"""Statuspage-compatible public JSON under ``/api/v2`` (no login), served from snapshots."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint

from dutydesk.context import settings
from dutydesk.openapi import operation
from dutydesk.web.status import page_model
from dutydesk.web.status_snapshot import serve
from shifts.notices import statuspage_json as sp

bp = Blueprint("status_api", __name__, url_prefix="/api/v2")


def _data() -> sp.PageData:
    model, notices = page_model()
    groups = [b.group for b in model.groups if b.group is not None]
    services = [ln.service for b in model.groups for ln in b.lines]
    base = settings().base_url.rstrip("/")
    changed = max((n.updated_at for n in notices if n.updated_at), default=None)
    info = sp.PageInfo(id="dutydesk", name="DutyDesk", url=f"{base}/status",
                       time_zone=settings().timezone, updated_at=changed or model.now)
    return sp.PageData(info, tuple(groups), tuple(services), tuple(notices), model.now,
                       {ln.service.id: ln.status for b in model.groups for ln in b.lines})


def _json(name: str, builder: Callable[[sp.PageData], dict[str, Any]]) -> Any:
    return serve(f"api:{name}", "any", "application/json",
                 lambda: json.dumps(builder(_data()), ensure_ascii=False).encode())


def _doc(summary: str) -> Callable[[Any], Any]:
    return operation(summary, tags=["status page"], auth=False,
                     responses={"200": "Statuspage v2 JSON", "304": "Not modified (ETag)"})


@bp.route("/status.json")
@_doc("Overall indicator and description")
def status() -> Any:
    return _json("status", sp.status_json)


@bp.route("/summary.json")
@_doc("Page, components, unresolved incidents, upcoming/active maintenance and status")
def summary() -> Any:
    return _json("summary", sp.summary_json)


@bp.route("/components.json")
@_doc("Services and groups as Statuspage components")
def components() -> Any:
    return _json("components", sp.components_json)


@bp.route("/incidents.json")
@_doc("The 50 most recent published incident notices")
def incidents() -> Any:
    return _json("incidents", sp.incidents_json)


@bp.route("/incidents/unresolved.json")
@_doc("Published incident notices that are not resolved")
def incidents_unresolved() -> Any:
    return _json("unresolved", sp.unresolved_incidents_json)


@bp.route("/scheduled-maintenances.json")
@_doc("The 50 most recent published maintenance notices")
def maintenances() -> Any:
    return _json("maintenances", sp.scheduled_maintenances_json)


@bp.route("/scheduled-maintenances/upcoming.json")
@_doc("Maintenance notices still scheduled")
def maintenances_upcoming() -> Any:
    return _json("upcoming", sp.upcoming_maintenances_json)


@bp.route("/scheduled-maintenances/active.json")
@_doc("Maintenance notices in progress or verifying")
def maintenances_active() -> Any:
    return _json("active", sp.active_maintenances_json)
