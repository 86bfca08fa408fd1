"""Checks as code: parse and validate a YAML file of groups, checks and maintenance windows.

Format::

    groups:                      # optional; groups named by checks are created implicitly
      - path: Hall A / UPS       # " / " separates hall and system; parents are implied
        description: UPS room
    checks:
      - name: ups-a              # unique slug: letters, digits, '-', '_', '.'
        type: http               # a type of checks.probes.CHECK_TYPES
        spec: {url: "http://10.0.0.5/status", headers: {Authorization: "Bearer ${UPS_TOKEN}"}}
        group: Hall A / UPS
        site: kyiv-dc2           # the data center (a site slug); left out: the default site
        interval: 30s            # policy: interval, retry_interval, max_attempts, flap_*
        timeout: 10s             # hard limit of one run (default 30 s)
        parents: [core-sw-1]     # dependencies
        parent_up_states: [OK, WARNING]  # parents count as up in these states (the default)
        tags: [power]; labels: {rack: A1}; service: Power; impact: 1; urgency: 2
        enabled: true; guard_reference: false; display_name: UPS A; heartbeat_key: ...
    maintenance:
      - name: patch night
        check: ups-a             # or group: Hall A, or site: kyiv-dc2 (every check of it)
        kind: weekly             # one_off, weekly, monthly, cron (see checks.windows)
        zone: Europe/Kyiv
        weekdays: [sun]; start_time: "02:00"; duration: 2h

``${NAME}`` is replaced by the environment variable NAME (``$${`` for a literal ``${``). Every
problem is collected and reported as ``file:line check 'name': reason``; a file with any error
yields no config at all, so nothing is applied partially.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from checks.dependencies import parse_up_states
from checks.maintenance import MaintenanceError
from checks.policy import CheckPolicy
from checks.probes import build_spec
from checks.specs import parse_duration
from checks.windows import KINDS, build_window
from dutydesk.core.site_registry import check_slug

SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ENV = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CHECK_FIELDS = {
    "name", "display_name", "type", "spec", "group", "interval", "retry_interval",
    "max_attempts", "timeout", "flap_detection", "flap_low_threshold", "flap_high_threshold",
    "flap_history_states", "enabled", "tags", "labels", "service", "impact", "urgency",
    "guard_reference", "heartbeat_key", "parents", "parent_up_states", "site", "locations",
    "min_locations_down",
}
#: A location in ``locations``: ``centre`` (the central workers) or ``SITE/PROBE``.
LOCATION = re.compile(r"^(centre|[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_.-]{0,63})$")
POLICY_FIELDS = ("interval", "retry_interval", "max_attempts", "flap_detection",
                 "flap_low_threshold", "flap_high_threshold", "flap_history_states")


class ChecksConfigError(ValueError):
    """The config has errors; ``errors`` lists every one as 'file:line context: reason'."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


class _Map(dict):
    """A YAML mapping that remembers its line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = key_node.start_mark.line + 1
    return out


def _string(loader: _Loader, node: yaml.ScalarNode) -> str:
    text = loader.construct_scalar(node)
    line = node.start_mark.line + 1

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group(1)
        value = os.environ.get(name)
        if value is None:
            loader.env_errors.append((line, f"environment variable {name} is not set"))
            return ""
        return value

    return _ENV.sub(repl, str(text))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor("tag:yaml.org,2002:str", _string)


@dataclass(frozen=True)
class GroupConfig:
    path: str
    description: str = ""


@dataclass(frozen=True)
class CheckConfig:
    """One validated check; ``values`` are the ``checks`` table columns it sets."""

    name: str
    values: dict[str, Any]
    group: str | None
    parents: tuple[str, ...]
    heartbeat_key: str | None
    line: int = 0
    #: The site's slug; None: the default site.
    site: str | None = None
    #: ``centre`` and/or ``SITE/PROBE`` names; None: the file leaves the locations as they are.
    locations: tuple[str, ...] | None = None


@dataclass(frozen=True)
class WindowConfig:
    name: str
    kind: str
    definition: dict[str, Any]
    zone: str
    check: str | None
    group: str | None
    site: str | None = None
    line: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        if self.site:
            return ("site", self.site, self.name)
        return ("check" if self.check else "group", self.check or self.group or "", self.name)


@dataclass(frozen=True)
class ChecksConfig:
    groups: tuple[GroupConfig, ...] = ()
    checks: tuple[CheckConfig, ...] = ()
    windows: tuple[WindowConfig, ...] = ()
    all_groups: tuple[str, ...] = field(default=())  # declared + implied, parents first
    source: str = "checks.yaml"  # the file's name, for errors found when applying


def group_paths(path: str) -> list[str]:
    """"Hall A / UPS" -> ["Hall A", "Hall A / UPS"] (each ancestor, then the group)."""
    parts = [p.strip() for p in path.split("/")]
    return [" / ".join(parts[: i + 1]) for i in range(len(parts))]


def normalise_group(path: object) -> str:
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"group must be a name like 'Hall A / UPS', got {path!r}")
    parts = [p.strip() for p in path.split("/")]
    if any(not p for p in parts):
        raise ValueError(f"group {path!r} has an empty part between '/'")
    return " / ".join(parts)


def _seconds(name: str, value: object) -> object:
    """Durations may be written "30s"/"2m"; numbers pass through for the policy to judge."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return value


def validate_check(data: dict[str, Any]) -> CheckConfig:
    """Validate one check entry (YAML or a web form, same rules); raise ValueError with the
    first problem, phrased "field ... got value"."""
    unknown = sorted(set(data) - CHECK_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(sorted(CHECK_FIELDS))}")
    name = data.get("name")
    if not isinstance(name, str) or not SLUG.match(name):
        raise ValueError("name must be 1-100 letters, digits, '-', '_' or '.', starting with a "
                         f"letter or digit, got {name!r}")
    type_name = data.get("type")
    spec = data.get("spec", {})
    if not isinstance(spec, dict):
        raise ValueError(f"spec must be a mapping of the {type_name} check's fields, got {spec!r}")
    build_spec(str(type_name), dict(spec))  # SpecError names the field
    policy_args = {k: _seconds(k, data[k]) if k in ("interval", "retry_interval") else data[k]
                   for k in POLICY_FIELDS if k in data}
    policy = CheckPolicy(**policy_args)
    timeout = _seconds("timeout", data.get("timeout", 30.0))
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
        0.5 <= timeout <= 3600
    ):
        raise ValueError(f"timeout must be between 0.5 s and 3600 s, got {data.get('timeout')!r}")
    values: dict[str, Any] = {
        "slug": name,
        "display_name": str(data.get("display_name") or name),
        "type": str(type_name),
        "spec": _plain(spec),
        "interval": policy.interval,
        "retry_interval": policy.retry_interval if "retry_interval" in data else None,
        "max_attempts": policy.max_attempts,
        "timeout": float(timeout),
        "flap_detection": policy.flap_detection,
        "flap_low_threshold": policy.flap_low_threshold,
        "flap_high_threshold": policy.flap_high_threshold,
        "flap_history_states": policy.flap_history_states,
        "enabled": _bool("enabled", data.get("enabled", True)),
        "guard_reference": _bool("guard_reference", data.get("guard_reference", False)),
        "tags": _strings("tags", data.get("tags", [])),
        "labels": _labels(data.get("labels", {})),
        "service": str(data.get("service", "") or ""),
        "impact": _level("impact", data.get("impact", 2)),
        "urgency": _level("urgency", data.get("urgency", 2)),
        # None keeps the default (OK, WARNING), so a file without the field exports unchanged.
        "parent_up_states": (None if data.get("parent_up_states") is None
                             else list(parse_up_states(data["parent_up_states"]))),
    }
    group = normalise_group(data["group"]) if data.get("group") else None
    parents = tuple(_strings("parents", data.get("parents", [])))
    if name in parents:
        raise ValueError(f"parents must not contain the check itself ({name!r})")
    key = data.get("heartbeat_key")
    if key is not None and (not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]{8,64}",
                                                                          key)):
        raise ValueError("heartbeat_key must be 8-64 letters, digits, '-' or '_', got "
                         f"{key!r}")
    line = getattr(data, "line", 0)
    locations = _locations(data)
    if locations is not None:
        values["min_locations_down"] = _min_down(data.get("min_locations_down", 1),
                                                 len(locations))
    elif "min_locations_down" in data:
        raise ValueError("min_locations_down needs locations (e.g. [centre, kyiv-dc2/probe-a])")
    site = _site(data.get("site"))
    return CheckConfig(name, values, group, parents, key, line, site, locations)


def _locations(data: Any) -> tuple[str, ...] | None:
    """``locations``: a non-empty list of ``centre`` / ``SITE/PROBE``, each once."""
    if "locations" not in data:
        return None
    found = data["locations"]
    if not isinstance(found, list) or not found:
        raise ValueError("locations must be a non-empty list like [centre, kyiv-dc2/probe-a]")
    for item in found:
        if not isinstance(item, str) or not LOCATION.match(item):
            raise ValueError(f"location {item!r} must be 'centre' or SITE/PROBE "
                             "(e.g. kyiv-dc2/probe-a)")
    if len(set(found)) != len(found):
        raise ValueError("a location appears twice in locations")
    return tuple(found)


def _min_down(value: Any, n: int) -> int:
    if type(value) is not int or not 1 <= value <= n:
        raise ValueError(f"min_locations_down must be 1..{n} (the number of locations), "
                         f"got {value!r}")
    return value


def _site(value: object) -> str | None:
    """A site slug's form (whether the site exists is known when applying)."""
    if value is None or value == "":
        return None
    return check_slug(value)  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _strings(name: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name} must be a list of names, got {value!r}")
    return list(value)


def _labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"labels must be a mapping of name: value, got {value!r}")
    return {k: str(v) for k, v in value.items()}


def _level(name: str, value: object) -> int:
    if isinstance(value, bool) or value not in (1, 2, 3):
        raise ValueError(f"{name} must be 1 (high), 2 or 3 (low), got {value!r}")
    return int(value)  # type: ignore[arg-type]


def validate_window(data: dict[str, Any]) -> WindowConfig:
    fields = dict(data)
    name = str(fields.pop("name", "") or "")
    kind = fields.pop("kind", None)
    zone = str(fields.pop("zone", "UTC"))
    check, group = fields.pop("check", None), fields.pop("group", None)
    site = _site(fields.pop("site", None))
    if [bool(check), bool(group), bool(site)].count(True) != 1:
        raise ValueError("a maintenance window needs exactly one of check, group or site")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    build_window(kind, fields, zone, name)
    return WindowConfig(name, kind, _plain(fields), zone, check,
                        normalise_group(group) if group else None, site,
                        getattr(data, "line", 0))


def parse_config(text: str, filename: str = "checks.yaml") -> ChecksConfig:
    """Parse and validate; raise ChecksConfigError listing every problem."""
    loader = _Loader(text)
    loader.env_errors = []  # type: ignore[attr-defined]
    try:
        raw = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise ChecksConfigError(
            [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from None
    finally:
        loader.dispose()
    errors = [f"{filename}:{line}: {msg}" for line, msg in loader.env_errors]  # type: ignore
    if raw is None:
        raw = _Map()
    if not isinstance(raw, dict):
        raise ChecksConfigError([f"{filename}:1: expected a mapping with groups, checks, "
                                 f"maintenance; got {type(raw).__name__}"])
    for key in sorted(set(raw) - {"groups", "checks", "maintenance"}):
        errors.append(f"{filename}:{raw.key_lines.get(key, 1)}: unknown section {key!r}; "
                      "allowed: groups, checks, maintenance")

    def entries(section: str) -> list[Any]:
        value = raw.get(section) or []
        if not isinstance(value, list):
            errors.append(f"{filename}:{raw.key_lines.get(section, 1)}: {section} must be a "
                          "list")
            return []
        return value

    def where(entry: Any, field_name: str | None = None) -> int:
        lines = getattr(entry, "key_lines", {})
        if field_name:
            head = field_name.split(".")[0].split("[")[0]
            if head in lines:
                return lines[head]
            spec_lines = getattr(entry.get("spec") if isinstance(entry, dict) else None,
                                 "key_lines", {})
            if head in spec_lines:
                return spec_lines[head]
        return getattr(entry, "line", 0)

    groups: list[GroupConfig] = []
    for entry in entries("groups"):
        try:
            if not isinstance(entry, dict):
                raise ValueError(f"a group must be a mapping with path, got {entry!r}")
            groups.append(GroupConfig(normalise_group(entry.get("path")),
                                      str(entry.get("description", "") or "")))
        except ValueError as exc:
            errors.append(f"{filename}:{where(entry)}: group: {exc}")

    checks: list[CheckConfig] = []
    seen: dict[str, int] = {}
    for entry in entries("checks"):
        label = f"check {entry.get('name')!r}" if isinstance(entry, dict) else "check"
        try:
            if not isinstance(entry, dict):
                raise ValueError(f"a check must be a mapping, got {entry!r}")
            check = validate_check(entry)
        except (ValueError, MaintenanceError) as exc:
            errors.append(f"{filename}:{where(entry, _field_of(exc))} {label}: {exc}")
            continue
        if check.name in seen:
            errors.append(f"{filename}:{check.line} {label}: name already used on line "
                          f"{seen[check.name]}")
        seen[check.name] = check.line
        checks.append(check)
    for check in checks:
        for parent in check.parents:
            if parent not in seen:
                errors.append(f"{filename}:{check.line} check {check.name!r}: parent "
                              f"{parent!r} is not a check in this file")

    windows: list[WindowConfig] = []
    for entry in entries("maintenance"):
        try:
            if not isinstance(entry, dict):
                raise ValueError(f"a maintenance window must be a mapping, got {entry!r}")
            window = validate_window(entry)
            if window.check and window.check not in seen:
                raise ValueError(f"check {window.check!r} is not a check in this file")
            windows.append(window)
        except ValueError as exc:
            errors.append(f"{filename}:{where(entry)} maintenance "
                          f"{entry.get('name', '') if isinstance(entry, dict) else ''!r}: {exc}")

    if errors:
        raise ChecksConfigError(errors)
    declared = [g.path for g in groups]
    implied = [c.group for c in checks if c.group] + [w.group for w in windows if w.group]
    all_groups: list[str] = []
    for path in declared + implied:
        for step in group_paths(path):
            if step not in all_groups:
                all_groups.append(step)
    return ChecksConfig(tuple(groups), tuple(checks), tuple(windows), tuple(all_groups),
                        filename)


def _field_of(exc: Exception) -> str | None:
    if hasattr(exc, "field"):
        return str(exc.field)
    text = str(exc)
    return text.split(" ", 1)[0].rstrip(":") if text else None


def load_config(path: str | Path) -> ChecksConfig:
    """Read and parse a YAML file; raise ChecksConfigError (also for an unreadable file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChecksConfigError([f"{p}: cannot read: {exc.strerror}"]) from None
    return parse_config(text, p.name)
