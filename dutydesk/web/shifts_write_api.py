"""Changing schedules over the JSON API: schedules, their layers (rotations), overrides, swaps.

The same ``shifts.service`` functions the screens call do the work, so the API and the editor
accept and refuse exactly the same input with the same message. Roles follow the screens: shift
leads and admins write schedules, layers and overrides and decide swaps; engineers read swaps,
offer their own shifts and take others' offers. Answers: 400 for a body that is not the
documented shape, 422 when the core refuses the values, 409 when they clash with what is stored
(a taken name, a swap already decided), 404 for what does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.openapi import operation, query_param
from dutydesk.web import api as core_api
from dutydesk.web.shifts_api import schedule_as_dict
from dutydesk.web.shifts_schemas import (
    OVERRIDE,
    OVERRIDE_IN,
    OVERRIDE_LINK,
    ROTATION,
    ROTATION_IN,
    ROTATION_LINK,
    SCHEDULE,
    SCHEDULE_IN,
    SCHEDULE_LINK,
    SWAP,
    SWAP_IN,
    SWAP_LINK,
    SWAP_TAKE_IN,
    check_shape,
    created,
    json_response,
    refusals,
)
from shifts import service
from shifts.errors import ShiftConfigError
from shifts.models import ShiftOverrideRow, ShiftRotationRow, ShiftSwapRow

bp = Blueprint("shifts_write_api", __name__, url_prefix="/api/v1")
bp.before_request(core_api._csrf_for_cookie_sessions)

STATUS = {"invalid": 422, "conflict": 409, "not_found": 404}


def _refused(exc: ShiftConfigError) -> ApiError:
    """The core's refusal as an API error (UTC and ids: machines read this)."""
    db_session().rollback()
    return ApiError(STATUS.get(exc.kind, 422), str(exc))


def _body(schema: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    data = core_api.json_body()
    problem = check_shape(data, schema, partial=partial)
    if problem:
        raise ApiError(400, problem)
    return data


def _schedule(schedule_id: int) -> Any:
    from shifts.models import ShiftScheduleRow

    key = service.stored_id(schedule_id)
    row = db_session().get(ShiftScheduleRow, key) if key else None
    if row is None:
        raise ApiError(404, f"schedule {schedule_id} does not exist")
    return row


def _instant(value: str, field: str) -> datetime:
    from dutydesk.web.shifts import instant_field

    try:
        return instant_field(value, field)
    except ShiftConfigError as exc:
        raise ApiError(400, str(exc)) from None


def rotation_as_dict(r: ShiftRotationRow) -> dict[str, Any]:
    return {"id": r.id, "schedule_id": r.schedule_id, "name": r.name, "position": r.position,
            "participants": [int(p) for p in r.participants or []], "pattern": r.pattern,
            "pattern_params": r.pattern_params or {}, "handoff_time": r.handoff_time,
            "start_date": r.start_date.isoformat(), "restrictions": r.restrictions or [],
            "ends_at": r.ends_at.isoformat() if r.ends_at else None}


def override_as_dict(o: ShiftOverrideRow) -> dict[str, Any]:
    return {"id": o.id, "schedule_id": o.schedule_id, "kind": o.kind, "person_id": o.person_id,
            "replaces_id": o.replaces_id, "starts_at": o.starts_at.isoformat(),
            "ends_at": o.ends_at.isoformat(), "note": o.note or "", "swap_id": o.swap_id}


def swap_as_dict(sw: ShiftSwapRow) -> dict[str, Any]:
    return {"id": sw.id, "schedule_id": sw.schedule_id, "offered_by": sw.offered_by_id,
            "taken_by": sw.taken_by_id, "approver_id": sw.approver_id, "status": sw.status,
            "shifts": [{"start": a, "end": b} for a, b in sw.shifts or []],
            "note": sw.note or "",
            "created_at": sw.created_at.isoformat(),
            "decided_at": sw.decided_at.isoformat() if sw.decided_at else None}


# ------------------------------------------------------------------------------ schedules


@bp.post("/schedules")
@operation("Create a duty schedule", tags=["shifts"], request_body=SCHEDULE_IN,
           responses={"201": created(
               "The new schedule", SCHEDULE,
               ReadSchedule=("read_schedule.get", SCHEDULE_LINK),
               UpdateSchedule=("update_schedule.patch", SCHEDULE_LINK),
               AddRotation=("create_rotation.post", SCHEDULE_LINK),
               AddOverride=("create_override.post", SCHEDULE_LINK),
               DeleteSchedule=("delete_schedule.delete", SCHEDULE_LINK)),
               **refusals("409", "422")})
@require_role(Role.SHIFT_LEAD)
def create_schedule() -> Any:
    data = _body({**SCHEDULE_IN, "required": ["name", "line", "time_zone"]})
    s = db_session()
    try:
        row = service.create_schedule(s, principal(), name=data["name"], line=data["line"],
                                      time_zone=data["time_zone"],
                                      self_service=bool(data.get("self_service", False)),
                                      site=data.get("site"))
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(schedule_as_dict(row)), 201


@bp.get("/schedules/<int:schedule_id>")
@operation("One duty schedule with its rotations", tags=["shifts"],
           responses={"200": json_response("The schedule", SCHEDULE), **refusals("404")})
@require_role(Role.VIEWER)
def read_schedule(schedule_id: int) -> Any:
    return jsonify(schedule_as_dict(_schedule(schedule_id)))


@bp.patch("/schedules/<int:schedule_id>")
@operation("Change a schedule's name, line, time zone, site or self-service swaps",
           tags=["shifts"],
           request_body=SCHEDULE_IN,
           responses={"200": json_response("The changed schedule", SCHEDULE),
                      **refusals("404", "409", "422")})
@require_role(Role.SHIFT_LEAD)
def update_schedule(schedule_id: int) -> Any:
    data = _body(SCHEDULE_IN, partial=True)
    row = _schedule(schedule_id)
    s = db_session()
    try:
        service.update_schedule(
            s, principal(), row.id, name=data.get("name", row.name),
            line=data.get("line", row.line), time_zone=data.get("time_zone", row.time_zone),
            self_service=bool(data.get("self_service", row.self_service)), now=utcnow(),
            site=data.get("site"))
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(schedule_as_dict(row))


@bp.delete("/schedules/<int:schedule_id>")
@operation("Delete a schedule with its rotations, overrides and swaps", tags=["shifts"],
           responses={"204": "Deleted", **refusals("404")})
@require_role(Role.SHIFT_LEAD)
def delete_schedule(schedule_id: int) -> Any:
    s = db_session()
    try:
        service.delete_schedule(s, principal(), _schedule(schedule_id).id)
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return "", 204


@bp.post("/schedules/<int:schedule_id>/publish")
@operation("Publish a schedule (its participants are told by mail)", tags=["shifts"],
           responses={"200": json_response("The published schedule", SCHEDULE),
                      **refusals("404")})
@require_role(Role.SHIFT_LEAD)
def publish_schedule(schedule_id: int) -> Any:
    row = _schedule(schedule_id)
    s = db_session()
    service.publish(s, principal(), row.id, utcnow())
    s.commit()
    return jsonify(schedule_as_dict(row))


# ------------------------------------------------------------------------------ rotations


def _rotation_fields(data: dict[str, Any]) -> dict[str, Any]:
    try:
        return service.rotation_fields(data)
    except ShiftConfigError as exc:
        raise _refused(exc) from None


@bp.post("/schedules/<int:schedule_id>/rotations")
@operation("Add a rotation (layer) on top of a schedule", tags=["shifts"],
           request_body=ROTATION_IN,
           responses={"201": created(
               "The new rotation", ROTATION,
               ReadRotation=("read_rotation.get", ROTATION_LINK),
               UpdateRotation=("update_rotation.put", ROTATION_LINK),
               DeleteRotation=("delete_rotation.delete", ROTATION_LINK)),
               **refusals("404", "422")})
@require_role(Role.SHIFT_LEAD)
def create_rotation(schedule_id: int) -> Any:
    data = _body({**ROTATION_IN, "required": ["name", "participants", "start_date"]})
    row = _schedule(schedule_id)
    s = db_session()
    try:
        rotation = service.add_rotation(s, principal(), row.id, _rotation_fields(data), utcnow())
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(rotation_as_dict(rotation)), 201


def _rotation(schedule_id: int, rotation_id: int) -> ShiftRotationRow:
    row = _schedule(schedule_id)
    key = service.stored_id(rotation_id)
    rotation = db_session().get(ShiftRotationRow, key) if key else None
    if rotation is None or rotation.schedule_id != row.id:
        raise ApiError(404, f"rotation {rotation_id} is not in schedule {schedule_id}")
    return rotation


@bp.get("/schedules/<int:schedule_id>/rotations/<int:rotation_id>")
@operation("One rotation (layer) of a schedule", tags=["shifts"],
           responses={"200": json_response("The rotation", ROTATION), **refusals("404")})
@require_role(Role.VIEWER)
def read_rotation(schedule_id: int, rotation_id: int) -> Any:
    return jsonify(rotation_as_dict(_rotation(schedule_id, rotation_id)))


@bp.put("/schedules/<int:schedule_id>/rotations/<int:rotation_id>")
@operation("Replace a rotation's settings (it keeps its place among the layers)",
           tags=["shifts"], request_body=ROTATION_IN,
           responses={"200": json_response("The changed rotation", ROTATION),
                      **refusals("404", "422")})
@require_role(Role.SHIFT_LEAD)
def update_rotation(schedule_id: int, rotation_id: int) -> Any:
    data = _body({**ROTATION_IN, "required": ["name", "participants", "start_date"]})
    rotation = _rotation(schedule_id, rotation_id)
    s = db_session()
    try:
        service.update_rotation(s, principal(), rotation.schedule_id, rotation.id,
                                _rotation_fields(data), utcnow())
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(rotation_as_dict(rotation))


@bp.delete("/schedules/<int:schedule_id>/rotations/<int:rotation_id>")
@operation("Remove a rotation (layer) from a schedule", tags=["shifts"],
           responses={"204": "Removed", **refusals("404")})
@require_role(Role.SHIFT_LEAD)
def delete_rotation(schedule_id: int, rotation_id: int) -> Any:
    rotation = _rotation(schedule_id, rotation_id)
    s = db_session()
    service.delete_rotation(s, principal(), rotation.schedule_id, rotation.id, utcnow())
    s.commit()
    return "", 204


# ------------------------------------------------------------------------------ overrides


@bp.get("/schedules/<int:schedule_id>/overrides")
@operation("A schedule's overrides that end after `after` (default now)", tags=["shifts"],
           parameters=[query_param("after", {"type": "string", "format": "date-time"},
                                    "ISO 8601 instant with offset")],
           responses={"200": json_response("Overrides, earliest first", {
               "type": "object", "required": ["items"],
               "properties": {"items": {"type": "array", "items": OVERRIDE}}}),
               **refusals("404")})
@require_role(Role.VIEWER)
def list_overrides(schedule_id: int) -> Any:
    from flask import request

    row = _schedule(schedule_id)
    raw = request.args.get("after")
    after = _instant(raw, "after") if raw else utcnow()
    items = db_session().scalars(select(ShiftOverrideRow).where(
        ShiftOverrideRow.schedule_id == row.id, ShiftOverrideRow.ends_at > after)
        .order_by(ShiftOverrideRow.starts_at, ShiftOverrideRow.id))
    return jsonify({"items": [override_as_dict(o) for o in items]})


@bp.post("/schedules/<int:schedule_id>/overrides")
@operation("Add an override (add, remove or replace someone for a time range)",
           tags=["shifts"], request_body=OVERRIDE_IN,
           responses={"201": created(
               "The new override", OVERRIDE,
               ReadOverride=("read_override.get", OVERRIDE_LINK),
               DeleteOverride=("delete_override.delete", OVERRIDE_LINK)),
               **refusals("404", "422")})
@require_role(Role.SHIFT_LEAD)
def create_override(schedule_id: int) -> Any:
    data = _body({**OVERRIDE_IN, "required": ["kind", "person_id", "starts_at", "ends_at"]})
    row = _schedule(schedule_id)
    s = db_session()
    try:
        override = service.add_override(
            s, principal(), row.id, kind=data["kind"], person_id=data["person_id"],
            starts_at=_instant(data["starts_at"], "starts_at"),
            ends_at=_instant(data["ends_at"], "ends_at"),
            replaces_id=data.get("replaces_id"), note=data.get("note", ""), now=utcnow())
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(override_as_dict(override)), 201


def _override(schedule_id: int, override_id: int) -> ShiftOverrideRow:
    row = _schedule(schedule_id)
    key = service.stored_id(override_id)
    override = db_session().get(ShiftOverrideRow, key) if key else None
    if override is None or override.schedule_id != row.id:
        raise ApiError(404, f"override {override_id} is not in schedule {schedule_id}")
    return override


@bp.get("/schedules/<int:schedule_id>/overrides/<int:override_id>")
@operation("One override", tags=["shifts"],
           responses={"200": json_response("The override", OVERRIDE), **refusals("404")})
@require_role(Role.VIEWER)
def read_override(schedule_id: int, override_id: int) -> Any:
    return jsonify(override_as_dict(_override(schedule_id, override_id)))


@bp.delete("/schedules/<int:schedule_id>/overrides/<int:override_id>")
@operation("Remove an override", tags=["shifts"],
           responses={"204": "Removed", **refusals("404")})
@require_role(Role.SHIFT_LEAD)
def delete_override(schedule_id: int, override_id: int) -> Any:
    override = _override(schedule_id, override_id)
    s = db_session()
    service.delete_override(s, principal(), override.schedule_id, override.id, utcnow())
    s.commit()
    return "", 204


# ---------------------------------------------------------------------------------- swaps


@bp.get("/swaps")
@operation("Swap requests, newest first (the last 200)", tags=["shifts"],
           responses={"200": json_response("Swaps", {
               "type": "object", "required": ["items"],
               "properties": {"items": {"type": "array", "items": SWAP}}})})
@require_role(Role.ENGINEER)
def list_swaps() -> Any:
    items = db_session().scalars(select(ShiftSwapRow).order_by(
        ShiftSwapRow.created_at.desc(), ShiftSwapRow.id.desc()).limit(200))
    return jsonify({"items": [swap_as_dict(sw) for sw in items]})


def _person(data: dict[str, Any], field: str) -> int:
    """Whose swap: the signed-in person; a shift lead (or a lead's token) may name someone."""
    who = principal()
    named = data.get(field)
    if named is not None and named != who.user_id:
        if not who.can(Role.SHIFT_LEAD):
            raise ApiError(403, f"only a shift lead may set {field} to someone else")
        return int(named)
    if who.user_id is None:
        raise ApiError(400, f"a token is nobody's: give {field} (a user id)")
    return who.user_id


@bp.post("/swaps")
@operation("Offer shifts for a swap (your own; a shift lead may offer for someone)",
           tags=["shifts"], request_body=SWAP_IN,
           responses={"201": created(
               "The new offer", SWAP, ReadSwap=("read_swap.get", SWAP_LINK),
               TakeSwap=("take_swap.post", SWAP_LINK),
               RejectSwap=("reject_swap.post", SWAP_LINK)),
               **refusals("404", "422")})
@require_role(Role.ENGINEER)
def offer_swap() -> Any:
    data = _body({**SWAP_IN, "required": ["schedule_id", "shifts"]})
    offered_by = _person(data, "offered_by")
    ranges = [(_instant(item["start"], "start"), _instant(item["end"], "end"))
              for item in data["shifts"]]
    s = db_session()
    try:
        swap = service.offer_swap(s, principal(), data["schedule_id"], offered_by, ranges,
                                  data.get("note", ""), utcnow())
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(swap_as_dict(swap)), 201


def _swap(swap_id: int) -> ShiftSwapRow:
    key = service.stored_id(swap_id)
    swap = db_session().get(ShiftSwapRow, key) if key else None
    if swap is None:
        raise ApiError(404, f"swap {swap_id} does not exist")
    return swap


@bp.get("/swaps/<int:swap_id>")
@operation("One swap request", tags=["shifts"],
           responses={"200": json_response("The swap", SWAP), **refusals("404")})
@require_role(Role.ENGINEER)
def read_swap(swap_id: int) -> Any:
    return jsonify(swap_as_dict(_swap(swap_id)))


@bp.post("/swaps/<int:swap_id>/take")
@operation("Take an offered swap (approved at once on self-service schedules)",
           tags=["shifts"], request_body=SWAP_TAKE_IN,
           responses={"200": json_response("The swap", SWAP), **refusals("404", "409", "422")})
@require_role(Role.ENGINEER)
def take_swap(swap_id: int) -> Any:
    from flask import request

    data = _body(SWAP_TAKE_IN) if request.get_data() else {}
    taker = _person(data, "taken_by")
    swap = _swap(swap_id)
    s = db_session()
    try:
        service.take_swap(s, principal(), swap.id, taker, utcnow())
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(swap_as_dict(swap))


def _decide(swap_id: int, approve: bool) -> Any:
    swap = _swap(swap_id)
    s = db_session()
    try:
        service.decide_swap(s, principal(), swap.id, approve, utcnow())
    except ShiftConfigError as exc:
        raise _refused(exc) from None
    s.commit()
    return jsonify(swap_as_dict(swap))


@bp.post("/swaps/<int:swap_id>/approve")
@operation("Approve a taken swap (the overrides that make it happen are stored)",
           tags=["shifts"], responses={"200": json_response("The approved swap", SWAP),
                                       **refusals("404", "409", "422")})
@require_role(Role.SHIFT_LEAD)
def approve_swap(swap_id: int) -> Any:
    return _decide(swap_id, True)


@bp.post("/swaps/<int:swap_id>/reject")
@operation("Reject an offered or taken swap", tags=["shifts"],
           responses={"200": json_response("The rejected swap", SWAP),
                      **refusals("404", "409")})
@require_role(Role.SHIFT_LEAD)
def reject_swap(swap_id: int) -> Any:
    return _decide(swap_id, False)


__all__ = ["bp", "override_as_dict", "rotation_as_dict", "swap_as_dict"]
