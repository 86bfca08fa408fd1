"""JSON schemas of the shifts write API, used twice: shown in the OpenAPI document and checked
against each request body (``check_shape``), so what we document is what we accept."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from shifts.schedule import Line, OverrideKind
from shifts.storage import PATTERN_CHOICES

MAX_ID = 2**31 - 1
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
INSTANT = {"type": "string", "format": "date-time", "maxLength": 40}
NULLABLE_INSTANT = {"type": ["string", "null"], "format": "date-time"}
TEXT = {"type": "string", "maxLength": 500}
WEEKDAY = {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 6},
                     {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat",
                                                 "sun"]}]}
CLOCK = {"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$"}
RESTRICTION = {
    "type": "object", "additionalProperties": False, "required": ["weekdays"],
    "properties": {"weekdays": {"type": "array", "items": WEEKDAY, "minItems": 1,
                                "maxItems": 7},
                   "start": CLOCK, "end": CLOCK},
}

SCHEDULE_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "line": {"type": "string", "enum": [line.value for line in Line]},
        "time_zone": {"type": "string", "minLength": 1, "maxLength": 64,
                      "description": "IANA zone such as Europe/Kyiv"},
        "self_service": {"type": "boolean"},
        "site": {"type": "string", "minLength": 1, "maxLength": 64,
                 "description": "slug of the site whose duty it covers; default: the default "
                                "site (on create), unchanged (on update)"},
    },
}
ROTATION_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "participants": {"type": "array", "items": ID, "maxItems": 100,
                         "description": "user ids in rotation order"},
        "pattern": {"type": "string", "enum": list(PATTERN_CHOICES)},
        "pattern_params": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "hours": {"type": "number"}, "days": {"type": "integer"},
                "weeks": {"type": "integer"}, "day_hours": {"type": "number"},
                "name": {"type": "string", "maxLength": 60},
                "day_crews": {"type": "array", "items": {"type": "integer", "minimum": 0},
                              "maxItems": 366},
                "night_crews": {"type": "array", "items": {"type": "integer", "minimum": 0},
                                "maxItems": 366},
            },
        },
        "handoff_time": CLOCK,
        "start_date": {"type": "string", "format": "date", "maxLength": 10},
        "restrictions": {"type": "array", "items": RESTRICTION, "maxItems": 20},
    },
}
OVERRIDE_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "kind": {"type": "string", "enum": [kind.value for kind in OverrideKind]},
        "person_id": ID, "replaces_id": {"oneOf": [ID, {"type": "null"}]},
        "starts_at": INSTANT, "ends_at": INSTANT, "note": TEXT,
    },
}
RANGE = {"type": "object", "additionalProperties": False, "required": ["start", "end"],
         "properties": {"start": INSTANT, "end": INSTANT}}
SWAP_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {"schedule_id": ID, "shifts": {"type": "array", "items": RANGE,
                                                 "minItems": 1, "maxItems": 31},
                   "note": TEXT, "offered_by": ID},
}
SWAP_TAKE_IN: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "properties": {"taken_by": ID},
}

ROTATION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "schedule_id", "name", "position", "participants", "pattern",
                 "pattern_params", "handoff_time", "start_date", "restrictions", "ends_at"],
    "properties": {
        "id": {"type": "integer"}, "schedule_id": {"type": "integer"},
        "name": {"type": "string"}, "position": {"type": "integer"},
        "participants": {"type": "array", "items": {"type": "integer"}},
        "pattern": {"type": "string"}, "pattern_params": {"type": "object"},
        "handoff_time": {"type": "string"}, "start_date": {"type": "string", "format": "date"},
        "restrictions": {"type": "array"}, "ends_at": NULLABLE_INSTANT,
    },
}
SCHEDULE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "line", "time_zone", "self_service", "published_at",
                 "site", "rotations"],
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "line": {"type": "string"},
        "site": {"type": "string", "description": "slug of the schedule's site"},
        "time_zone": {"type": "string"}, "self_service": {"type": "boolean"},
        "published_at": NULLABLE_INSTANT,
        "rotations": {"type": "array", "items": {"type": "object"}},
    },
}
OVERRIDE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "schedule_id", "kind", "person_id", "replaces_id", "starts_at",
                 "ends_at", "note", "swap_id"],
    "properties": {
        "id": {"type": "integer"}, "schedule_id": {"type": "integer"},
        "kind": {"type": "string"}, "person_id": {"type": "integer"},
        "replaces_id": {"type": ["integer", "null"]}, "starts_at": INSTANT, "ends_at": INSTANT,
        "note": {"type": "string"}, "swap_id": {"type": ["integer", "null"]},
    },
}
SWAP: dict[str, Any] = {
    "type": "object",
    "required": ["id", "schedule_id", "offered_by", "taken_by", "approver_id", "status",
                 "shifts", "note", "created_at", "decided_at"],
    "properties": {
        "id": {"type": "integer"}, "schedule_id": {"type": "integer"},
        "offered_by": {"type": "integer"}, "taken_by": {"type": ["integer", "null"]},
        "approver_id": {"type": ["integer", "null"]},
        "status": {"type": "string", "enum": ["offered", "taken", "approved", "rejected"]},
        "shifts": {"type": "array", "items": {
            "type": "object", "required": ["start", "end"],
            "properties": {"start": {"type": "string"}, "end": {"type": "string"}}}},
        "note": {"type": "string"}, "created_at": INSTANT, "decided_at": NULLABLE_INSTANT,
    },
}

ERROR_REF = {"$ref": "#/components/schemas/Error"}
REFUSALS = {
    "404": "No such schedule, rotation, override or swap",
    "409": "Clashes with what is stored (name taken, swap already decided)",
    "422": "The values were refused (the message says which and why)",
}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def links(**operations: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links from a created item to what can be done with it next (stateful fuzzers
    chain create → read → update → delete with them): name=(endpoint.method, parameters)."""
    return {name: {"operationId": f"shifts_write_api.{op}", "parameters": params}
            for name, (op, params) in operations.items()}


def created(description: str, schema: dict[str, Any], **operations: Any) -> dict[str, Any]:
    """A 201 (or 200) answer with the item's schema and its links."""
    return {**json_response(description, schema), "links": links(**operations)}


SCHEDULE_LINK = {"schedule_id": "$response.body#/id"}
ROTATION_LINK = {"schedule_id": "$response.body#/schedule_id",
                 "rotation_id": "$response.body#/id"}
OVERRIDE_LINK = {"schedule_id": "$response.body#/schedule_id",
                 "override_id": "$response.body#/id"}
SWAP_LINK = {"swap_id": "$response.body#/id"}


def refusals(*codes: str) -> dict[str, Any]:
    """Error responses (``{"error": ...}``) for the given status codes."""
    return {code: json_response(REFUSALS[code], ERROR_REF) for code in codes}


def check_shape(data: Any, schema: dict[str, Any], *, partial: bool = False) -> str | None:
    """The first way ``data`` breaks ``schema`` as one sentence, or ``None`` if it fits.

    ``partial`` (PATCH) drops ``required``: only the fields given are checked."""
    if partial:
        schema = {key: value for key, value in schema.items() if key != "required"}
    error = next(iter(sorted(Draft202012Validator(schema).iter_errors(data),
                             key=lambda e: list(e.path))), None)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.path) or "body"
    return f"{where}: {error.message}"
