"""Request timeline events: what happened to a request, by whom, when.

=====================  ===============================================================
kind                   data
=====================  ===============================================================
created                priority, line, assignee, channel
started                —
replied                text, first_response (bool) — a public reply, mailed to the requester
requester_replied      text
waiting                reason (waiting for the requester; SLA clocks pause)
resumed                by ("desk" or "requester")
resolved               note, incident_id (when the linked incident's resolution did it),
                       article_id (resolved with a knowledge-base article)
closed                 reason ("confirmed by the requester", "no answer for N days", ...)
reopened               reason
reassigned             from_line, to_line, from_assignee, to_assignee, reason, hand_back
priority_changed       from, to, reason
note                   text (internal Markdown, never mailed)
linked / unlinked      incident_id (previous)
incident_update        incident_id, text (the incident's public update, mailed)
sla_warning            clock ("first_response"/"resolve"), priority, elapsed_s, target_s
sla_breached           clock, priority, elapsed_s, target_s
=====================  ===============================================================
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class RequestStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


class EventKind(enum.StrEnum):
    CREATED = "created"
    STARTED = "started"
    REPLIED = "replied"
    REQUESTER_REPLIED = "requester_replied"
    WAITING = "waiting"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    REASSIGNED = "reassigned"
    PRIORITY_CHANGED = "priority_changed"
    NOTE = "note"
    LINKED = "linked"
    UNLINKED = "unlinked"
    INCIDENT_UPDATE = "incident_update"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"


# The status a request is in after an event of this kind.
STATUS_AFTER: dict[EventKind, RequestStatus] = {
    EventKind.CREATED: RequestStatus.NEW,
    EventKind.STARTED: RequestStatus.IN_PROGRESS,
    EventKind.WAITING: RequestStatus.WAITING,
    EventKind.RESUMED: RequestStatus.IN_PROGRESS,
    EventKind.RESOLVED: RequestStatus.RESOLVED,
    EventKind.CLOSED: RequestStatus.CLOSED,
    EventKind.REOPENED: RequestStatus.IN_PROGRESS,
}


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One timeline entry; ``at`` aware UTC."""

    kind: EventKind
    at: datetime
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]

    def status_after(self) -> RequestStatus | None:
        """The status this event puts the request in (``None``: no change). A first public
        reply moves a new request to in progress."""
        if self.kind is EventKind.REPLIED:
            return RequestStatus.IN_PROGRESS
        return STATUS_AFTER.get(self.kind)
