"""A strict parser for classic 5-field cron expressions, used by recurring maintenance windows.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), day of week
(0-7 or sun-sat; 0 and 7 are Sunday). Each field is a comma list of ``*``, ``N``, ``A-B``, with an
optional ``/STEP`` (``*/15``, ``8-18/2``, ``5/10`` = from 5 to the end in steps of 10).
Shortcuts: ``@hourly``, ``@daily`` (``@midnight``), ``@weekly``, ``@monthly``, ``@yearly``
(``@annually``).

As in Vixie cron, when both day of month and day of week are restricted (neither is ``*``), a day
matches if *either* matches ("0 3 1 * mon" = the 1st of the month and every Monday).

The expression only describes wall-clock times; which time zone they are in, and what happens
at DST changes, is up to the caller (see :mod:`checks.maintenance`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, time

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_SHORTCUTS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# (name, low, high, names) per field position.
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _WEEKDAYS),
)
# Longest month length per month (February may have 29 days).
_MAX_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


class CronError(ValueError):
    """An invalid cron expression; the message quotes the expression and names the field."""


def _value(text: str, field: str, low: int, high: int, names: dict[str, int], expr: str) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        allowed = f"{low}-{high}" + (" or a name like " + next(iter(names)) if names else "")
        raise CronError(f"cron expression {expr!r}: {field} value {text!r} is not {allowed}")
    number = int(text)
    if not low <= number <= high:
        raise CronError(
            f"cron expression {expr!r}: {field} value {number} is out of range {low}-{high}"
        )
    return number


def _parse_field(text: str, index: int, expr: str) -> frozenset[int]:
    field, low, high, names = _FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"cron expression {expr!r}: {field} has an empty list item")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(
                    f"cron expression {expr!r}: {field} step {step_text!r} must be a whole "
                    f"number of at least 1"
                )
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _value(first, field, low, high, names, expr)
            end = _value(last, field, low, high, names, expr)
            if start > end:
                raise CronError(
                    f"cron expression {expr!r}: {field} range {base!r} runs backwards"
                )
        else:
            start = _value(base, field, low, high, names, expr)
            end = high if slash else start  # "5/10" means 5, 15, 25, ... up to the maximum
        values.update(range(start, end + 1, step))
    if field == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)  # 7 is another name for Sunday
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed cron expression. Build it with :meth:`parse`; ``weekdays`` use cron numbering
    (0 = Sunday)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse and validate; raise :class:`CronError` naming the bad field and value."""
        if not isinstance(text, str):
            raise CronError(f"cron expression must be text, got {text!r}")
        expr = " ".join(text.split())
        if expr.startswith("@"):
            if expr.lower() not in _SHORTCUTS:
                known = ", ".join(sorted(_SHORTCUTS))
                raise CronError(f"cron expression {expr!r}: unknown shortcut (known: {known})")
            expanded = _SHORTCUTS[expr.lower()]
        else:
            expanded = expr
        parts = expanded.split(" ") if expanded else []
        if len(parts) != 5:
            raise CronError(
                f"cron expression {expr!r} must have 5 fields (minute hour day-of-month month "
                f"day-of-week), got {len(parts)}"
            )
        fields = [_parse_field(part, i, expr) for i, part in enumerate(parts)]
        parsed = cls(
            text=expr,
            minutes=fields[0],
            hours=fields[1],
            days=fields[2],
            months=fields[3],
            weekdays=fields[4],
            days_restricted=not parts[2].startswith("*"),
            weekdays_restricted=not parts[4].startswith("*"),
        )
        if parsed.days_restricted and not parsed.weekdays_restricted:
            possible = any(d <= _MAX_DAYS[m] for m in parsed.months for d in parsed.days)
            if not possible:
                raise CronError(
                    f"cron expression {expr!r} never matches: no chosen month has that day"
                )
        return parsed

    def matches_date(self, day: date) -> bool:
        """Whether the expression fires on this calendar date (at some time)."""
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.weekday() + 1) % 7 in self.weekdays  # Python Monday=0 -> cron 1
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def times_on(self, day: date) -> list[time]:
        """The wall-clock times this expression fires on ``day``, earliest first."""
        if not self.matches_date(day):
            return []
        return [time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]
