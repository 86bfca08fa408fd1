"""Exceptions for bad shift input.

Every error is a ``ValueError`` subclass whose message names the field, the value and what is
allowed, so the shift-lead UI can show it verbatim ("rotation 'Night crew' has no participants").
Nothing is saved when one is raised: the value objects validate themselves on construction.
"""

from __future__ import annotations


class ShiftConfigError(ValueError):
    """Base class: a schedule, rotation, pattern, override or swap is not valid."""


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


class ScheduleError(ShiftConfigError):
    """A schedule with an unknown line, a missing name or conflicting layers."""
