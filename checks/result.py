"""The value objects every probe returns and every judgement consumes.

A probe never raises for a failed target: it returns a ``Result`` whose status says what happened
and whose message says why, in words a duty engineer understands at 3 a.m.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Status(enum.IntEnum):
    """Nagios/Icinga service states; the integer is the plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name

    @classmethod
    def from_exit_code(cls, code: int) -> Status:
        """Map a plugin exit code to a status; anything outside 0..3 is UNKNOWN (Nagios rule)."""
        try:
            return cls(code)
        except ValueError:
            return cls.UNKNOWN

    @property
    def severity(self) -> int:
        """Order for "worst first" sorting: CRITICAL > WARNING > UNKNOWN > OK (as on the wall)."""
        return {Status.OK: 0, Status.UNKNOWN: 1, Status.WARNING: 2, Status.CRITICAL: 3}[self]


#: ``status.name`` by status without the enum property lookup (hot paths of the engine).
STATUS_NAME: dict[Status, str] = {status: status.name for status in Status}


@dataclass(frozen=True, slots=True)
class PerfDatum:
    """One perfdata item (plugin guidelines: 'label'=value[UOM];warn;crit;min;max)."""

    label: str
    value: float
    uom: str = ""
    warn: str | None = None
    crit: str | None = None
    min: float | None = None
    max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: every field as the plugin gave it (an unknown value "U" is None)."""
        return {"label": self.label, "value": None if math.isnan(self.value) else self.value,
                "uom": self.uom, "warn": self.warn, "crit": self.crit, "min": self.min,
                "max": self.max}


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one probe run.

    ``started_at`` is timezone-aware UTC; ``duration`` is in seconds; ``metrics`` holds named
    numeric observations (e.g. ``{"status_code": 200, "response_time": 0.042}``), and
    ``perfdata`` the parsed plugin performance data when the probe produced any, and
    ``long_output`` a plugin's long text (its output lines 2+).
    """

    status: Status
    message: str
    started_at: datetime
    duration: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    perfdata: tuple[PerfDatum, ...] = ()
    long_output: str = ""

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or self.started_at.utcoffset() is None:
            raise ValueError("Result.started_at must be timezone-aware (UTC), got a naive datetime")
        if self.duration < 0:
            raise ValueError(f"Result.duration must be >= 0 seconds, got {self.duration}")

    @property
    def ok(self) -> bool:
        return self.status is Status.OK
