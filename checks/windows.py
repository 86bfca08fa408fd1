"""Maintenance windows from plain data (YAML, web forms, database rows) and back.

``build_window(kind, definition, zone, name)`` validates and returns one of the window classes of
:mod:`checks.maintenance`; ``window_definition`` is its inverse, so a window stored in the database
and exported to YAML reads the same. Durations are seconds or "2h"-style strings; one-off start
and end are ISO 8601 instants with an offset ("2026-05-01T22:00:00+03:00").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from checks.maintenance import (
    CronWindow,
    MaintenanceError,
    MaintenanceWindow,
    MonthlyWindow,
    OneOffWindow,
    WeeklyWindow,
)
from checks.specs import parse_duration

KINDS = ("one_off", "weekly", "monthly", "cron")
#: What a window covers: one check, a group (and the groups below it), or a whole site.
TARGETS = ("check", "group", "site")
_FIELDS = {
    "one_off": {"start", "end"},
    "weekly": {"weekdays", "start_time", "duration"},
    "monthly": {"start_time", "duration", "day", "nth", "weekday"},
    "cron": {"expression", "duration"},
}


def _seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise MaintenanceError(f"duration: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MaintenanceError(f"duration must be seconds or a duration like '2h', got {value!r}")
    return float(value)


def _instant(name: str, value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise MaintenanceError(
                f"{name} must be an ISO 8601 time with offset like "
                f"'2026-05-01T22:00:00+03:00', got {value!r}"
            ) from None
    if moment.tzinfo is None:
        raise MaintenanceError(f"{name} must carry a UTC offset (e.g. +03:00), got {value!r}")
    return moment


def build_window(
    kind: str, definition: dict[str, Any], zone: str = "UTC", name: str = ""
) -> MaintenanceWindow:
    """Validate one window; raise ``MaintenanceError`` (a ValueError) naming the bad field."""
    if kind not in KINDS:
        raise MaintenanceError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(definition, dict):
        raise MaintenanceError(f"a {kind} window needs a mapping of fields, got {definition!r}")
    unknown = sorted(set(definition) - _FIELDS[kind])
    if unknown:
        allowed = ", ".join(sorted(_FIELDS[kind]))
        raise MaintenanceError(f"unknown field(s) {', '.join(unknown)} for a {kind} window; "
                               f"allowed: {allowed}")
    d = definition
    try:
        if kind == "one_off":
            return OneOffWindow(_instant("start", d.get("start")), _instant("end", d.get("end")),
                                name)
        if "duration" not in d:
            raise MaintenanceError(f"a {kind} window needs a duration (e.g. 2h)")
        duration = timedelta(seconds=_seconds(d["duration"]))
        if kind == "weekly":
            return WeeklyWindow(d.get("weekdays", ()), d.get("start_time"), duration, zone, name)
        if kind == "monthly":
            return MonthlyWindow(d.get("start_time"), duration, zone, day=d.get("day"),
                                 nth=d.get("nth"), weekday=d.get("weekday"), name=name)
        return CronWindow(str(d.get("expression", "")), duration, zone, name)
    except (TypeError, AttributeError) as exc:
        raise MaintenanceError(f"invalid {kind} window: {exc}") from None


def window_definition(window: MaintenanceWindow) -> dict[str, Any]:
    """The ``definition`` dict that :func:`build_window` turns back into ``window``."""
    if isinstance(window, OneOffWindow):
        return {"start": window.start.isoformat(), "end": window.end.isoformat()}
    seconds = window.duration.total_seconds()
    duration: float | int = int(seconds) if seconds.is_integer() else seconds
    if isinstance(window, WeeklyWindow):
        return {"weekdays": sorted(window.weekdays),
                "start_time": window.start_time.strftime("%H:%M"), "duration": duration}
    if isinstance(window, MonthlyWindow):
        out: dict[str, Any] = {"start_time": window.start_time.strftime("%H:%M"),
                               "duration": duration}
        if window.day is not None:
            out["day"] = window.day
        else:
            out["nth"], out["weekday"] = window.nth, window.weekday
        return out
    return {"expression": window.expression, "duration": duration}


class WindowIndex(NamedTuple):
    """Enabled windows by target: check id, group id (with the group parent map) and site id."""

    by_check: dict[int, list[MaintenanceWindow]]
    by_group: dict[int, list[MaintenanceWindow]]
    parents: dict[int, int | None]
    by_site: dict[int, list[MaintenanceWindow]] = {}


EMPTY_INDEX = WindowIndex({}, {}, {}, {})


def windows_for(index: WindowIndex, check_id: int, group_id: int | None,
                site_id: int | None = None) -> list[MaintenanceWindow]:
    """The maintenance windows of a check: its own, those of its group and the groups above,
    and those of its whole site. The one rule of "which windows cover this check", used by the
    engine and by the judging of remote probes' results."""
    found = list(index.by_check.get(check_id, ()))
    group, seen = group_id, set()
    while group is not None and group not in seen:
        seen.add(group)
        found.extend(index.by_group.get(group, ()))
        group = index.parents.get(group)
    if site_id is not None:
        found.extend(index.by_site.get(site_id, ()))
    return found
