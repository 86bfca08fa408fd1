"""The plain record the incident figures are computed from.

An ``IncidentRecord`` is an incident's row fields plus its ``TimelineSummary``
(``dutydesk.incidents.summary``: first acknowledgement, final resolution, moves between the
lines, SLA clock outcomes). The loader reads the summary stored on resolved incidents and
replays the timeline of open ones, so both arrive here as the same value.

Definitions used by the figures:

- **MTTA** sample: first acknowledgement − opening, wall-clock time (pending included);
  incidents never acknowledged have none.
- **MTTR** sample: final resolution − opening, wall-clock time, for resolved incidents.
- Who **acknowledged** an incident: the first acknowledger; who **resolved** it: the person
  who resolved it last. Each incident counts once for each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dutydesk.incidents.summary import ClockOutcome, Outcome, TimelineSummary

__all__ = ["ClockOutcome", "IncidentRecord", "Outcome", "TimelineSummary"]


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One incident as the reports see it (times aware UTC; logins lower-case)."""

    id: int
    title: str
    source: str
    service: str | None
    priority: str
    status: str
    created_at: datetime
    lines_seen: tuple[str, ...] = ("first_line",)
    assignee: str | None = None
    summary: TimelineSummary = field(default_factory=TimelineSummary)

    @property
    def resolved(self) -> bool:
        return self.status == "resolved" and self.summary.resolved_at is not None

    @property
    def mtta_s(self) -> float | None:
        if self.summary.first_ack_at is None:
            return None
        return max(0.0, (self.summary.first_ack_at - self.created_at).total_seconds())

    @property
    def mttr_s(self) -> float | None:
        if not self.resolved or self.summary.resolved_at is None:
            return None
        return max(0.0, (self.summary.resolved_at - self.created_at).total_seconds())

    @property
    def ack(self) -> ClockOutcome | None:
        return self.summary.ack

    @property
    def resolve(self) -> ClockOutcome | None:
        return self.summary.resolve

    @property
    def acknowledged_by(self) -> str | None:
        return self.summary.first_ack_by

    @property
    def resolved_by(self) -> str | None:
        return self.summary.resolved_by if self.resolved else None

    def duration_s(self, now: datetime) -> float:
        """Open time: until the final resolution, or until ``now`` while still open."""
        end = self.summary.resolved_at if self.resolved and self.summary.resolved_at else now
        return max(0.0, (end - self.created_at).total_seconds())

    def involves(self, login: str) -> bool:
        """Did ``login`` acknowledge (first) or resolve it, or is it assigned to them?"""
        login = login.lower()
        return login in (self.acknowledged_by, self.resolved_by, (self.assignee or "").lower())
