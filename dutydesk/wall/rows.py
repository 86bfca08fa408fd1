"""Plain inputs of the wall, decoupled from storage models so the decisions stay pure.

``sources`` fills these from whatever storage exists; tests build them directly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class WallInputError(ValueError):
    """A wall input is unusable; the message names the field and value."""


def ensure_aware(value: datetime | None, field: str) -> datetime | None:
    """Refuse naive datetimes: the wall compares everything against an aware UTC ``now``."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise WallInputError(f"{field} must be timezone-aware UTC, got naive {value!r}")
    return value


class CheckStatus(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"
    PENDING = "pending"  # never checked yet


# Worst first on the wall: CRITICAL, then WARNING, then UNKNOWN.
PROBLEM_RANK = {CheckStatus.CRITICAL: 0, CheckStatus.WARNING: 1, CheckStatus.UNKNOWN: 2}


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One check and its current state."""

    id: int
    name: str
    hall: str
    system: str
    service: str
    status: CheckStatus
    hard: bool = True
    attempt: int = 1
    max_attempts: int = 1
    flapping: bool = False
    reachable: bool = True
    in_maintenance: bool = False
    acknowledged: bool = False
    muted: bool = False  # the alert pipeline muted it (silence, parent down, ...)
    last_result_at: datetime | None = None
    since: datetime | None = None
    message: str = ""

    def __post_init__(self) -> None:
        ensure_aware(self.last_result_at, f"check {self.name!r} last_result_at")
        ensure_aware(self.since, f"check {self.name!r} since")

    @property
    def unhandled(self) -> bool:
        """Needs someone now: not acknowledged, not in maintenance, not muted, parent not down
        (a check behind a down parent is muted by the pipeline)."""
        return not (self.acknowledged or self.in_maintenance or self.muted or not self.reachable)


@dataclass(frozen=True, slots=True)
class SlaReading:
    """The SLA clock that matters now (acknowledge until acked, then resolve)."""

    clock: str  # "acknowledge" | "resolve"
    target: timedelta
    elapsed: timedelta
    running: bool
    stopped: bool = False


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: int
    title: str
    priority: str  # "P1".."P4"
    status: str  # triggered | acknowledged | pending
    opened_at: datetime
    service: str = ""
    acknowledged_by: str | None = None
    assignee: str | None = None
    sla: SlaReading | None = None
    flapping: bool = False  # its check is flapping: one incident, pages held
    returns_count: int = 0  # times the problem came back after an automatic resolve

    def __post_init__(self) -> None:
        ensure_aware(self.opened_at, f"incident {self.id} opened_at")
        if self.priority not in ("P1", "P2", "P3", "P4"):
            raise WallInputError(
                f"incident {self.id} priority must be one of P1..P4, got {self.priority!r}"
            )


@dataclass(frozen=True, slots=True)
class DutyRow:
    """Who is on duty on one line now; ``people`` empty means a gap nobody covers."""

    line: str  # "first_line" | "second_line" | ...
    people: tuple[str, ...]
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class VisitorRow:
    name: str
    company: str
    since: datetime
    areas: tuple[str, ...] = ()
    escort: str | None = None
    overstay_by: timedelta | None = None


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One open request the wall names: the most urgent by SLA time left."""

    number: str
    subject: str
    priority: str
    time_left: timedelta | None  # None: its clocks are paused (waiting for the requester)
    breached: bool = False


@dataclass(frozen=True, slots=True)
class RequestsSummary:
    """People's requests beside incidents: how many wait for the desk, the most urgent ones."""

    open: int
    waiting_for_requester: int
    urgent: tuple[RequestRow, ...] = ()


@dataclass(frozen=True, slots=True)
class MaintenanceRow:
    name: str
    until: datetime | None = None
    checks: int = 0


@dataclass(frozen=True, slots=True)
class Freshness:
    """Evidence that the wall's data is current."""

    newest_result_at: datetime | None
    heartbeat_at: datetime | None
    poller_offline: bool = False
    poller_reason: str = ""
    has_checks: bool = True
    scheduler_expected: bool = True

    def __post_init__(self) -> None:
        ensure_aware(self.newest_result_at, "newest_result_at")
        ensure_aware(self.heartbeat_at, "heartbeat_at")


@dataclass(frozen=True, slots=True)
class WallLimits:
    """Thresholds of the wall (seconds) and how many tiles one group shows before "+N more"."""

    max_result_age: float = 300.0
    max_heartbeat_age: float = 60.0
    tiles_per_group: int = 12
    sla_warn_at: float = 0.75

    def __post_init__(self) -> None:
        for name in ("max_result_age", "max_heartbeat_age"):
            if getattr(self, name) <= 0:
                raise WallInputError(f"{name} must be positive seconds, got {getattr(self, name)}")
        if self.tiles_per_group < 1:
            raise WallInputError(f"tiles_per_group must be at least 1, got {self.tiles_per_group}")
        if not 0 < self.sla_warn_at < 1:
            raise WallInputError(f"sla_warn_at must be between 0 and 1, got {self.sla_warn_at}")
