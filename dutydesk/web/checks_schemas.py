"""JSON schemas of the checks API's answers, shown in the OpenAPI document (and held to it by
the schemathesis run in ``tests/dutydesk/test_api_fuzz.py``)."""

from __future__ import annotations

from typing import Any

from checks.result import Status

NULLABLE_INSTANT = {"type": ["string", "null"], "format": "date-time"}

LOCATION: dict[str, Any] = {
    "type": "object", "required": ["name", "status", "message", "at"],
    "description": "What one of the check's locations saw last.",
    "properties": {
        "name": {"type": "string", "description": "'centre' (the central workers) or "
                                                  "'SITE/PROBE', e.g. kyiv-dc2/probe-a"},
        "status": {"type": ["string", "null"], "enum": [s.name for s in Status] + [None],
                   "description": "its last status; null: nothing seen from it yet"},
        "message": {"type": "string"},
        "at": {**NULLABLE_INSTANT, "description": "when it saw it (UTC); null: never"},
    },
}

STATE: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "The judged state; null until the engine has created it.",
    "properties": {
        "status": {"type": "string", "description": "OK, WARNING, CRITICAL, UNKNOWN, "
                                                    "UNREACHABLE or PENDING"},
        "state_type": {"type": "string", "description": "SOFT (still retrying) or HARD"},
        "attempt": {"type": "integer"}, "flapping": {"type": "boolean"},
        "in_maintenance": {"type": "boolean"},
        "last_status": {"type": ["string", "null"]},
        "last_message": {"type": ["string", "null"]},
        "last_duration": {"type": ["number", "null"]},
        "long_output": {"type": "string"}, "perfdata": {"type": "array"},
        "last_result_at": NULLABLE_INSTANT,
        "next_due_at": {"type": "string", "format": "date-time"},
    },
}

CHECK: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "type", "site", "enabled", "min_locations_down", "state"],
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "display_name": {"type": "string"}, "type": {"type": "string"},
        "group": {"type": ["string", "null"], "description": "group path, e.g. Hall A / UPS"},
        "site": {"type": ["string", "null"],
                 "description": "slug of the check's site (data center), e.g. kyiv-dc2"},
        "enabled": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "labels": {"type": "object"}, "service": {"type": "string"},
        "impact": {"type": "integer"}, "urgency": {"type": "integer"},
        "interval": {"type": "number", "description": "seconds"},
        "max_attempts": {"type": "integer"},
        "min_locations_down": {"type": "integer", "minimum": 1,
                               "description": "k: judged down only when at least k of its "
                                              "locations with fresh results see it down"},
        "state": STATE,
    },
}

CHECK_ONE: dict[str, Any] = {
    **CHECK, "required": [*CHECK["required"], "locations"],
    "properties": {**CHECK["properties"], "locations": {
        "type": "array", "items": LOCATION,
        "description": "each location (centre, probes) and what it saw last; [] when the "
                       "central workers alone run the check"}},
}

CHECK_PAGE: dict[str, Any] = {
    "type": "object", "required": ["items", "page", "per_page", "total", "pages"],
    "properties": {"items": {"type": "array", "items": CHECK},
                   "page": {"type": "integer"}, "per_page": {"type": "integer"},
                   "total": {"type": "integer"}, "pages": {"type": "integer"}},
}
