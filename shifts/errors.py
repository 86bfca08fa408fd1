"""Exceptions for bad shift input.

Every error is a ``ValueError`` subclass whose message names the field, the value and what is
allowed, so the shift-lead UI can show it ("rotation 'Night crew' has no participants").
Nothing is saved when one is raised: the value objects validate themselves on construction.

A message that mentions instants or people keeps them as *parts* (``{start}``, ``{giver}``) so a
screen can say them the way its reader does — in the reader's zone, by name — with
``error.render(zone, names)``; ``str(error)`` is the same text in UTC with ids, for logs and
machine clients. ``kind`` says what went wrong for a transport to pick its status: ``invalid``
(the input itself), ``conflict`` (the input clashes with stored state), ``not_found``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar


def format_instant(moment: datetime, zone: tzinfo = UTC) -> str:
    """``2026-03-04 10:00 EET``: an aware instant as a reader in ``zone`` reads it."""
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "UTC")


def format_person(person: Any, names: Mapping[Any, str] | None = None) -> str:
    """A person's display name when ``names`` knows them, else the id as the core shows it."""
    if names:
        for key in (person, _as_int(person)):
            if key is not None and key in names:
                return names[key]
    return repr(person)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ShiftConfigError(ValueError):
    """Base class: a schedule, rotation, pattern, override or swap is not valid."""

    kind: ClassVar[str] = "invalid"

    def __init__(
        self,
        message: str,
        *,
        instants: Mapping[str, datetime] | None = None,
        people: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = message
        self.instants = dict(instants or {})
        self.people = dict(people or {})
        super().__init__(self.render())

    def render(self, zone: tzinfo = UTC, names: Mapping[Any, str] | None = None) -> str:
        """The message with its instants in ``zone`` and its people named from ``names``."""
        text = self.template
        for key, moment in self.instants.items():
            text = text.replace("{" + key + "}", format_instant(moment, zone))
        for key, person in self.people.items():
            text = text.replace("{" + key + "}", format_person(person, names))
        return text

    @classmethod
    def wrap(cls, error: ValueError) -> ShiftConfigError:
        """``error`` re-raised as this class, keeping its parts (instants, people)."""
        if isinstance(error, ShiftConfigError):
            return cls(error.template, instants=error.instants, people=error.people)
        return cls(str(error))


class TimeZoneError(ShiftConfigError):
    """An IANA time zone name that the tz database does not know."""


class PatternError(ShiftConfigError):
    """A shift pattern that cannot be worked (zero length, slots out of order, …)."""


class RotationError(ShiftConfigError):
    """A rotation (layer) that cannot be resolved (no participants, bad restriction, …)."""


class OverrideError(ShiftConfigError):
    """An override with an empty or reversed time range, or a nonsensical kind/person mix."""


class SwapError(ShiftConfigError):
    """A swap that cannot happen (same person twice, offered shift not theirs, …)."""


class SwapStateError(SwapError):
    """A swap that is not in the state the action needs (already approved, not taken yet)."""

    kind = "conflict"


class ScheduleError(ShiftConfigError):
    """A schedule with an unknown line, a missing name or conflicting layers."""


class ScheduleConflict(ShiftConfigError):
    """The input is well formed but clashes with what is stored (a name already taken)."""

    kind = "conflict"


class NotFound(ShiftConfigError):
    """A schedule, rotation, override or swap that does not exist (or not where it was asked)."""

    kind = "not_found"
