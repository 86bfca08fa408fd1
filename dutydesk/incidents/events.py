"""Incident timeline events: the shared vocabulary of lifecycle, SLA clocks and escalation.

The timeline is the incident's history and the input of every time-based decision:
``sla_clock`` and ``escalation_due`` replay it up to ``now``. Each event has a kind, a time, an
actor (a login, or a system actor such as ``"alertmanager"``, ``"escalation"``, ``"sla"``) and a
small JSON-able ``data`` map. Which keys ``data`` holds per kind:

=========================  ======================================================================
kind                       data
=========================  ======================================================================
triggered                  priority ("P1".."P4"), line ("first_line"/"second_line"), assignee
alert                      dedup_key, status (a repeat alert attached; no state change)
acknowledged               snooze_minutes (optional: a snooze; triggered again after that long)
unacknowledged             reason (ack withdrawn, or the acknowledgement timeout re-triggered it)
pending                    reason
resumed                    status (what it returned to: "triggered" or "acknowledged")
resolved                   note (the resolution note)
reopened                   reason (may be empty); returned_after_s when the problem came back
                           after an automatic resolve (``dutydesk.incidents.returns``)
flapping                   state ("started"/"stopped"), status (the check's status then)
person_unreachable         person (login), targets (the step's targets): no working contact
                           method, skipped; the next step is paged at once
reassigned                 from_line, to_line, from_assignee, to_assignee, reason, hand_back (bool)
priority_changed           from, to ("P1".."P4"), reason
note                       text
escalated                  reason (a person asked to escalate now)
escalation_notified        cycle, position, step, round, targets (written after notifying a step)
escalation_policy_changed  from, to (policy names), from_id, to_id (``None``: the default),
                           reason (a person chose another policy, or the chosen one was deleted)
notification_sent          channel, target, attempt, detail (written by the outbox sender)
notification_failed        channel, target, attempt, detail (why it failed)
sla_warning                clock ("acknowledge"/"resolve"), priority, elapsed_s, target_s
sla_breached               clock, priority, elapsed_s, target_s
repaged                    people, count (keep paging: an unacknowledged P1/P2 paged again
                           after its policy's steps ran out)
=========================  ======================================================================

``dutydesk.incidents.timeline_text`` tells each kind as a sentence for the incident page.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from dutydesk.core.timeutil import TimestampError, ensure_utc


class TimelineError(ValueError):
    """A timeline event or sequence cannot be interpreted; the message says which and why."""


class IncidentStatus(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    PENDING = "pending"
    RESOLVED = "resolved"


class EventKind(enum.StrEnum):
    TRIGGERED = "triggered"
    ALERT = "alert"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    PENDING = "pending"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    REASSIGNED = "reassigned"
    PRIORITY_CHANGED = "priority_changed"
    NOTE = "note"
    ESCALATED = "escalated"
    ESCALATION_NOTIFIED = "escalation_notified"
    ESCALATION_POLICY_CHANGED = "escalation_policy_changed"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    FLAPPING = "flapping"
    PERSON_UNREACHABLE = "person_unreachable"
    REPAGED = "repaged"


#: ``unacknowledged.reason`` when the acknowledgement timeout re-triggered the incident.
ACK_TIMEOUT_REASON = "acknowledgement timeout"
#: ``unacknowledged.reason`` when a snooze (an acknowledgement for a while) ended.
SNOOZE_ENDED_REASON = "snooze ended"
#: ``escalation_policy_changed.from``/``to`` for "no policy of its own" (the default policy).
DEFAULT_POLICY_NAME = "default"


def policy_deleted_reason(name: str) -> str:
    """``escalation_policy_changed.reason`` when the incident's policy ``name`` was deleted."""
    return f"escalation policy {name!r} was deleted"


# The status an incident is in after an event of this kind (RESUMED reads data["status"]).
_STATUS_AFTER: dict[EventKind, IncidentStatus] = {
    EventKind.TRIGGERED: IncidentStatus.TRIGGERED,
    EventKind.ACKNOWLEDGED: IncidentStatus.ACKNOWLEDGED,
    EventKind.UNACKNOWLEDGED: IncidentStatus.TRIGGERED,
    EventKind.PENDING: IncidentStatus.PENDING,
    EventKind.RESOLVED: IncidentStatus.RESOLVED,
    EventKind.REOPENED: IncidentStatus.TRIGGERED,
}


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One timeline entry. ``at`` is aware UTC; ``data`` is read-only."""

    kind: EventKind
    at: datetime
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]  # holds a mapping: compare, never hash

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", EventKind(self.kind))
        except ValueError:
            allowed = ", ".join(kind.value for kind in EventKind)
            raise TimelineError(f"event kind must be one of {allowed}, got {self.kind!r}") from None
        try:
            object.__setattr__(self, "at", ensure_utc(self.at, f"{self.kind.value} event time"))
        except TimestampError as exc:
            raise TimelineError(str(exc)) from None
        if not isinstance(self.actor, str) or not self.actor.strip():
            raise TimelineError(f"{self.kind.value} event needs an actor (who or what did it)")
        if self.kind is EventKind.RESUMED and self.data.get("status") not in (
            IncidentStatus.TRIGGERED,
            IncidentStatus.ACKNOWLEDGED,
        ):
            raise TimelineError(
                "a resumed event must say which status it returned to "
                f"(data.status 'triggered' or 'acknowledged'), got {self.data.get('status')!r}"
            )
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def status_after(self) -> IncidentStatus | None:
        """The status this event puts the incident in, or ``None`` if it changes no status."""
        if self.kind is EventKind.RESUMED:
            return IncidentStatus(self.data["status"])
        return _STATUS_AFTER.get(self.kind)


def in_order(events: Iterable[IncidentEvent], now: datetime | None = None) -> list[IncidentEvent]:
    """Events sorted by time (stable: same-time events keep their recorded order).

    With ``now``, events after ``now`` are dropped, so every decision can be asked "as of" a
    past moment and a clock skew between workers cannot make the future count.
    """
    ordered = sorted(events, key=lambda event: event.at)
    if now is not None:
        ordered = [event for event in ordered if event.at <= now]
    return ordered


def replay_status(events: Sequence[IncidentEvent]) -> IncidentStatus | None:
    """The status after the last status-changing event, ``None`` before the first trigger."""
    status = None
    for event in in_order(events):
        status = event.status_after() or status
    return status
