"""One validation layer for everything a person or a client sends: ids, pages, numbers, choices,
weekdays, dates and JSON bodies.

Every parser here is a small pure function ``(value, field, ...) -> clean value`` that raises
:class:`ValidationError` (``field`` names the input, ``message`` says what was expected and what
came) for anything it cannot accept. Nothing here touches the request or the database, so the same
rule serves the JSON API, the HTML forms and the CLI.

How the shell uses it (see ``dutydesk.errors``):

- A ``ValidationError`` that a view does not catch becomes a **400** — JSON
  ``{"error": "<field>: <message>", "detail": {"field": "<field>"}}`` for API clients, the error
  page for people — and the request's transaction is rolled back, so bad input changes nothing.
  Views that want to re-show a form with a flash message catch it themselves (``forms.py``).
- Path ids: the app's ``<int:...>`` URL converter is bounded to :data:`MAX_ID`, so
  ``/api/v1/users/99999999999999999999`` is a 404 like any other unknown id (never an overflow
  deep in the database driver). OpenAPI documents the same bounds (``dutydesk.openapi``).
- Pagination: ``dutydesk.pagination.parse_page_args`` raises ``PaginationError`` (a
  ``ValidationError``) for ``page``/``per_page`` that are not whole numbers in range.

Reuse, e.g. in a new API view::

    from dutydesk.core.validation import choice, json_object, record_id, whole_number
    data = json_object(request.get_json(silent=True))           # 400 unless a JSON object
    policy_id = record_id(data.get("policy_id"), "policy_id", optional=True)
    minutes = whole_number(data.get("minutes"), "minutes", minimum=1, maximum=MAX_MINUTES)
    day = choice(data.get("line"), "line", ("first_line", "second_line"))

and in a form view (``request.form`` gives strings; empty strings count as "not given")::

    position = whole_number(form.get("position"), "position", minimum=0, maximum=MAX_POSITION,
                            default=0)
    days = weekdays(form.getlist("weekdays"), "weekdays")
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from enum import Enum
from typing import Any, Final, TypeVar

from dutydesk.core.timeparse import parse_instant

E = TypeVar("E", bound=Enum)

#: Largest id a path or a body may name: our ids and counters are ``INTEGER`` columns, which
#: PostgreSQL stores in 32 bits (SQLite in 64); a larger id cannot exist on either backend.
MAX_ID: Final = 2**31 - 1
#: Largest whole number accepted anywhere unless a tighter ``maximum`` is given (same reason).
MAX_INT: Final = 2**31 - 1
#: Largest page number (beyond it the row offset would not fit a database integer anyway).
MAX_PAGE: Final = 1_000_000
#: Upper bound for durations typed in minutes (silences, maintenance): 10 years.
MAX_MINUTES: Final = 10 * 366 * 24 * 60
#: Largest display position / ordering number in lists people arrange by hand.
MAX_POSITION: Final = 1_000_000

WEEKDAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MISSING: Any = object()


class ValidationError(ValueError):
    """Input a person typed (or a client sent) is wrong; ``field`` names the input, the message
    says why. Raised by every parser here; ``dutydesk.errors`` answers it with a 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _given(value: Any) -> bool:
    return not (value is None or (isinstance(value, str) and not value.strip()))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def whole_number(
    value: Any,
    field: str,
    *,
    minimum: int | None = None,
    maximum: int | None = MAX_INT,
    default: Any = _MISSING,
) -> Any:
    """A whole number from JSON (``5``, ``5.0``) or a form (``" 5 "``) within the bounds.

    ``None``/empty returns ``default`` when one is given, else is refused. Booleans, fractions,
    exponent notation, NaN and infinities are refused; so is anything outside
    ``minimum..maximum`` (``maximum`` defaults to what an ``INTEGER`` column stores everywhere).
    """
    if not _given(value):
        if default is not _MISSING:
            return default
        raise ValidationError(field, "a whole number is required")
    if isinstance(value, bool):
        raise ValidationError(field, f"expected a whole number, got {_short(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValidationError(field, f"expected a whole number, got {_short(value)}")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not digits.isascii() or not digits.isdigit() or len(digits) > 30:
            raise ValidationError(field, f"expected a whole number, got {_short(value)}")
        number = int(text)
    else:
        raise ValidationError(field, f"expected a whole number, got {type(value).__name__}")
    _check_range(number, field, minimum, maximum)
    return number


def number(
    value: Any,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    default: Any = _MISSING,
) -> Any:
    """A finite number (``1.5``, ``"90"``) within the bounds; NaN, infinities and ``1e20`` beyond
    ``maximum`` are refused. ``None``/empty returns ``default`` when one is given."""
    if not _given(value):
        if default is not _MISSING:
            return default
        raise ValidationError(field, "a number is required")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(field, f"expected a number, got {type(value).__name__}")
    try:
        parsed = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise ValidationError(field, f"expected a number, got {_short(value)}") from None
    if not math.isfinite(parsed):
        raise ValidationError(field, f"expected a finite number, got {_short(value)}")
    _check_range(parsed, field, minimum, maximum)
    return int(parsed) if parsed.is_integer() and abs(parsed) < 2**53 else parsed


def _check_range(value: float, field: str, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise ValidationError(field, f"must be between {minimum} and {maximum}, got {value:g}")
    if minimum is not None and value < minimum:
        raise ValidationError(field, f"must be at least {minimum}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, f"must be at most {maximum}, got {value:g}")


def record_id(value: Any, field: str, *, optional: bool = False) -> Any:
    """The id of a stored row (1..:data:`MAX_ID`); ``None``/empty is ``None`` when ``optional``."""
    return whole_number(
        value, field, minimum=1, maximum=MAX_ID, **({"default": None} if optional else {})
    )


def choice(value: Any, field: str, options: Iterable[str] | type[E]) -> Any:
    """One of ``options`` (strings), or a member of an ``Enum`` class by value or name.

    Surrounding spaces are ignored; the refusal lists what is allowed."""
    if isinstance(options, type) and issubclass(options, Enum):
        if isinstance(value, options):
            return value
        text = value.strip() if isinstance(value, str) else value
        for member in options:
            if text == member.value or (isinstance(text, str) and text.upper() == member.name):
                return member
        allowed = [str(m.value) for m in options]
    else:
        allowed = list(options)
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and text in allowed:
            return text
    raise ValidationError(field, f"expected one of {', '.join(allowed)}; got {_short(value)}")


def weekday(value: Any, field: str = "weekday") -> int:
    """A weekday as 0 (Monday) .. 6 (Sunday), from ``0``..``6``, ``"sat"`` or ``"Saturday"``."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text[:3] in WEEKDAY_NAMES and (len(text) == 3 or _full_name(text)):
            return WEEKDAY_NAMES.index(text[:3])
    try:
        return whole_number(value, field, minimum=0, maximum=6)
    except ValidationError:
        raise ValidationError(
            field, f"expected a weekday (0=Monday..6=Sunday or mon..sun), got {_short(value)}"
        ) from None


def _full_name(text: str) -> bool:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return text in names


def weekdays(values: Any, field: str = "weekdays") -> list[int]:
    """Weekdays (see :func:`weekday`), sorted and without repeats; empty entries are refused."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValidationError(field, f"expected a list of weekdays, got {_short(values)}")
    return sorted({weekday(v, field) for v in values})


def iso_date(value: Any, field: str, *, optional: bool = False) -> date | None:
    """A calendar day ``YYYY-MM-DD``; ``None``/empty is ``None`` when ``optional``."""
    if not _given(value):
        if optional:
            return None
        raise ValidationError(field, "a date (YYYY-MM-DD) is required")
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(field, f"expected a date YYYY-MM-DD, got {_short(value)}") from None


def local_datetime(value: Any, field: str, *, optional: bool = False) -> datetime | None:
    """A wall-clock ``YYYY-MM-DDTHH:MM`` as typed into a form (naive: the caller knows the
    zone); an offset, if given, is kept. ``None``/empty is ``None`` when ``optional``."""
    if not _given(value):
        if optional:
            return None
        raise ValidationError(field, "a date and time (YYYY-MM-DDTHH:MM) is required")
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(
            field, f"expected a date and time YYYY-MM-DDTHH:MM, got {_short(value)}"
        ) from None


def clock_time(value: Any, field: str) -> time:
    """A time of day ``HH:MM`` (or ``HH:MM:SS``)."""
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(field, f"expected a time HH:MM, got {_short(value)}") from None


def instant(value: Any, field: str, *, optional: bool = False) -> datetime | None:
    """An ISO 8601 instant with an offset, as aware UTC (see ``dutydesk.core.timeparse``)."""
    if not _given(value):
        if optional:
            return None
        raise ValidationError(field, "a time (ISO 8601 with offset) is required")
    if not isinstance(value, str):
        raise ValidationError(field, f"expected an ISO 8601 time, got {type(value).__name__}")
    try:
        return parse_instant(value, field)
    except ValueError as exc:
        raise ValidationError(field, str(exc).removeprefix(f"{field}: ")) from None


def time_zone(value: Any, field: str, *, optional: bool = False) -> str | None:
    """An IANA zone name the tz database knows (``Europe/Kyiv``); malformed keys such as
    ``../etc/passwd`` or a 5,000-character name are refused, not looked up on disk."""
    if not _given(value):
        if optional:
            return None
        raise ValidationError(field, "a time zone such as Europe/Kyiv is required")
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or len(name) > 64:
        raise ValidationError(field, f"unknown time zone {_short(value)}")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(field, f"unknown time zone {_short(value)}") from None
    return name


def text(
    value: Any, field: str, *, required: bool = False, max_length: int = 10_000
) -> str:
    """A string, stripped; numbers are not silently turned into text."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(field, f"expected text, got {type(value).__name__}")
    cleaned = value.strip()
    if required and not cleaned:
        raise ValidationError(field, "is required")
    if len(cleaned) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters, got {len(cleaned)}")
    return cleaned


def nul_field(values: Any, name: str = "body") -> str | None:
    """The name of the first input holding a NUL character (which no person types and
    PostgreSQL cannot store), or ``None``. Walks strings, lists and mappings (keys included);
    form and query ``MultiDict`` values are given as ``{name: [values]}``."""
    if isinstance(values, str):
        return name if "\x00" in values else None
    if isinstance(values, Mapping):
        for key, value in values.items():
            inner = f"{key}" if name in ("body", "query", "form") else f"{name}.{key}"
            if isinstance(key, str) and "\x00" in key:
                return name
            found = nul_field(value, inner)
            if found:
                return found
    elif isinstance(values, list | tuple):
        for value in values:
            found = nul_field(value, name)
            if found:
                return found
    return None


def json_object(data: Any, *, required: Iterable[str] = (), empty_ok: bool = False) -> dict:
    """A request body that must be a JSON object (never an array, string or number).

    ``data`` is what ``request.get_json(silent=True)`` returned (``None`` when the body was not
    JSON); with ``empty_ok`` a missing body counts as ``{}``. Missing ``required`` keys are
    refused by name."""
    if data is None:
        if empty_ok:
            return {}
        raise ValidationError("body", "expected a JSON object with Content-Type: application/json")
    if not isinstance(data, Mapping):
        raise ValidationError("body", f"expected a JSON object, got {_json_kind(data)}")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValidationError("body", f"missing field(s): {', '.join(missing)}")
    return dict(data)


def _json_kind(data: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(data), type(data).__name__)
