"""The plain record the request figures are computed from, and the rules that read it.

A ``RequestRecord`` is a request's row fields, its ``RequestSummary``
(``dutydesk.requests.summary``: first response, final resolution, SLA clock outcomes; stored on
resolved requests, replayed for open ones) and its rating, if any.

Definitions used by the figures:

- **Response time**: the desk's first public reply (or the resolution, if that came first)
  − arrival, wall-clock; none while unanswered.
- **Resolution time**: final resolution − arrival, wall-clock, for resolved (or closed)
  requests.
- **First-contact resolution**: resolved by the first line without a hand-off — resolved or
  closed, and never on the second line (``lines_seen`` is the first line only).
- **Engineer** of a request: who resolved it; while unresolved, its assignee.
- **"Other"**: a request outside the catalog — for now one without a category (``is_other``:
  the one place to change when requests carry catalog items).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dutydesk.requests.summary import RequestSummary

RESOLVED_STATUSES = ("resolved", "closed")


def is_other(record: RequestRecord) -> bool:
    """Is the request outside the catalog ("other")? It was not written for a catalog item
    (``service_requests.catalog_item_id`` empty; issue 17's catalog)."""
    return record.catalog_item_id is None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the reports see it (times aware UTC; logins lower-case)."""

    id: int
    subject: str
    service: str
    created_at: datetime
    category: str = ""
    channel: str = "web"
    priority: str = "P4"
    status: str = "new"
    line: str = "first_line"
    lines_seen: tuple[str, ...] = ("first_line",)
    assignee: str | None = None
    incident_id: int | None = None
    ping_pong_count: int = 0
    reopen_count: int = 0
    summary: RequestSummary = field(default_factory=RequestSummary)
    rating: str | None = None  # "good" / "bad"
    rating_comment: str = ""
    rated_at: datetime | None = None
    catalog_item_id: int | None = None  # None: "other" (outside the catalog)

    # Derived once (a month is ~10,000 records and every figure reads these).
    resolved: bool = field(init=False)
    response_s: float | None = field(init=False)
    resolution_s: float | None = field(init=False)

    def __post_init__(self) -> None:
        summary = self.summary
        resolved = self.status in RESOLVED_STATUSES and summary.resolved_at is not None
        done = summary.resolved_at if resolved else None
        first = summary.first_response_at
        answered = min(first, done) if first and done else first or done
        set_ = object.__setattr__
        set_(self, "resolved", resolved)
        set_(self, "response_s", None if answered is None else
             max(0.0, (answered - self.created_at).total_seconds()))
        set_(self, "resolution_s", None if done is None else
             max(0.0, (done - self.created_at).total_seconds()))

    @property
    def ever_resolved(self) -> bool:
        """Resolved now, or resolved once and reopened since."""
        return self.resolved or self.reopen_count > 0

    @property
    def first_contact(self) -> bool:
        return self.resolved and tuple(self.lines_seen) == ("first_line",)

    @property
    def engineer(self) -> str:
        """Who resolved it (``""``: nobody yet and unassigned)."""
        if self.resolved and self.summary.resolved_by:
            return self.summary.resolved_by
        return (self.assignee or "").lower()

    def involves(self, login: str) -> bool:
        """Did ``login`` answer it first or resolve it, or is it assigned to them?"""
        login = login.lower()
        return login in (self.summary.first_response_by, self.summary.resolved_by,
                         (self.assignee or "").lower())
