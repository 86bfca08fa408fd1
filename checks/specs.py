"""Strict reading of check specs from plain dicts (YAML config, the web UI, the API).

Every check type has a frozen ``Spec`` dataclass built by ``Spec.from_dict(d)``. Bad input raises
``SpecError`` naming the field, the value seen and what is allowed, e.g.
``timeout must be between 0.1 and 300 s, got 0``. The config loader prefixes the check name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from checks.nagios import NagiosRange, RangeError, parse_range

_MISSING: Any = object()


class SpecError(ValueError):
    """A check spec field holds a value that is not allowed.

    ``field`` is the dotted field name (``"conditions[1]"``), ``value`` what was given, ``rule``
    what is allowed, phrased to follow the field name ("must be at least 1").
    """

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        seen = "" if value is _MISSING else f", got {value!r}"
        super().__init__(f"{field} {rule}{seen}")


# ---------------------------------------------------------------------------------------------
# Durations: "300ms", "5s", "2m", "1h", "14d", "1h30m", or a bare number of seconds in specs.

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


def parse_duration(text: str) -> float:
    """Parse ``"300ms"``, ``"1h30m"``, ``"14d"`` into seconds; raise ValueError otherwise.

    A unit is mandatory here: "300" is ambiguous (Gatus reads it as ms, most configs as s).
    """
    cleaned = text.strip().replace(" ", "")
    if not cleaned or not _DURATION_WHOLE.fullmatch(cleaned):
        raise ValueError(
            f"{text!r} is not a duration; use a number with a unit ms, s, m, h or d, e.g. 300ms"
        )
    return sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(cleaned))


def format_duration(seconds: float) -> str:
    """Render seconds the way a person reads them: 42ms, 1.5s, 12m, 3.5h, 9.2d."""
    if math.isnan(seconds):
        return "NaN"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1:
        return f"{sign}{s * 1000:.0f}ms"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if s >= size:
            return f"{sign}{_trim(s / size)}{unit}"
    return f"{sign}{_trim(s)}s"


def _trim(number: float) -> str:
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


# ---------------------------------------------------------------------------------------------


class SpecReader:
    """Reads typed fields out of a dict once and rejects the fields nobody asked for.

    Usage: ``r = SpecReader(d, "http check")``; ``url = r.string("url")``; ...; ``r.finish()``.
    ``finish`` raises for unknown keys, which catches typos such as ``timout`` in YAML.
    """

    def __init__(self, data: Mapping[str, Any], kind: str) -> None:
        if not isinstance(data, Mapping):
            raise SpecError(kind, data, "must be a mapping of field names to values")
        self.data = data
        self.kind = kind
        self._seen: set[str] = set()

    def _get(self, name: str, default: Any) -> Any:
        self._seen.add(name)
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise SpecError(name, _MISSING, f"is required for a {self.kind}")
            return default
        return value

    def string(self, name: str, default: Any = _MISSING, *, choices: Iterable[str] = ()) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if not isinstance(value, str) or not value.strip():
            raise SpecError(name, value, "must be a non-empty text")
        allowed = tuple(choices)
        if allowed and value not in allowed:
            raise SpecError(name, value, f"must be one of {', '.join(allowed)}")
        return value

    def text(self, name: str, default: Any = _MISSING) -> Any:
        """Like ``string`` but allows empty text and keeps it verbatim (bodies, banners)."""
        value = self._get(name, default)
        if value is not default and not isinstance(value, str):
            raise SpecError(name, value, "must be text")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if not isinstance(value, bool):
            raise SpecError(name, value, "must be true or false")
        return value

    def integer(
        self, name: str, default: Any = _MISSING, *, minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(name, value, "must be a whole number")
        _check_bounds(name, value, minimum, maximum, "")
        return value

    def number(
        self, name: str, default: Any = _MISSING, *, minimum: float | None = None,
        maximum: float | None = None, unit: str = "",
    ) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise SpecError(name, value, "must be a number")
        _check_bounds(name, value, minimum, maximum, unit)
        return float(value)

    def duration(
        self, name: str, default: Any = _MISSING, *, minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        """A duration in seconds: a number (seconds) or text with a unit ("300ms", "2m")."""
        value = self._get(name, default)
        if value is default:
            return value
        if isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError:
                raise SpecError(
                    name, value, "must be a duration such as 500ms, 10s, 5m, 1h or 14d"
                ) from None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            raise SpecError(name, value, "must be a duration such as 500ms, 10s, 5m, 1h or 14d")
        if math.isnan(seconds):
            raise SpecError(name, value, "must be a duration")
        if minimum is not None and seconds < minimum:
            raise SpecError(name, value, f"must be at least {format_duration(minimum)}")
        if maximum is not None and seconds > maximum:
            raise SpecError(name, value, f"must be at most {format_duration(maximum)}")
        return seconds

    def string_list(self, name: str, default: Any = _MISSING, *, allow_empty: bool = True) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise SpecError(name, value, "must be a list of texts")
        if not allow_empty and not value:
            raise SpecError(name, value, "must not be empty")
        return tuple(value)

    def string_map(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if value is default:
            return value
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            raise SpecError(name, value, "must be a mapping of names to text values")
        return tuple((k, str(v)) for k, v in value.items())

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, default)

    def finish(self) -> None:
        unknown = sorted(str(k) for k in self.data if k not in self._seen)
        if unknown:
            raise SpecError(
                unknown[0], self.data[unknown[0]],
                f"is not a field of a {self.kind} (fields: {', '.join(sorted(self._seen))})",
            )


def _check_bounds(
    name: str, value: float, minimum: float | None, maximum: float | None, unit: str
) -> None:
    suffix = f" {unit}" if unit else ""
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise SpecError(name, value, f"must be between {minimum:g} and {maximum:g}{suffix}")
    if minimum is not None and value < minimum:
        raise SpecError(name, value, f"must be at least {minimum:g}{suffix}")
    if maximum is not None and value > maximum:
        raise SpecError(name, value, f"must be at most {maximum:g}{suffix}")


def check_http_url(name: str, value: str) -> str:
    """Accept only absolute http(s) URLs with a host; say which part is wrong otherwise."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on "host:99999" or "host:abc"
    except ValueError as exc:
        raise SpecError(name, value, f"must be a valid http:// or https:// URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise SpecError(name, value, "must start with http:// or https://")
    if not parts.hostname:
        raise SpecError(name, value, "must name a host, e.g. https://example.org/health")
    if port == 0:
        raise SpecError(name, value, "must use a port between 1 and 65535")
    if any(c.isspace() for c in value):
        raise SpecError(name, value, "must not contain spaces (encode them as %20)")
    return value


def check_host(name: str, value: str) -> str:
    """A host name or IP address literal (no scheme, no port, no spaces)."""
    if "://" in value or "/" in value or any(c.isspace() for c in value):
        raise SpecError(name, value, "must be a bare host name or IP address, e.g. 10.0.0.5")
    return value


def read_range(field: str, value: object) -> NagiosRange | None:
    """A Nagios threshold range from a spec field (``10``, ``10:``, ``~:10``, ``@10:20``)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{value:g}"
    try:
        return parse_range(value)  # type: ignore[arg-type]
    except RangeError:
        raise SpecError(field, value,
                        "must be a Nagios range such as 10, 10:, ~:10, 10:20 or @10:20") from None
