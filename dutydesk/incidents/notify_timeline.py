"""Incident timeline entries for notification delivery attempts.

``record_notification_attempt`` is the sender's ``on_recorded`` hook (wired in ``dutydesk.jobs``):
after each attempt to deliver an outbox message whose source is an incident, it adds a
``notification_sent`` or ``notification_failed`` event to that incident's timeline, in the same
transaction as the attempt record, so the timeline and the delivery log never disagree.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dutydesk.core.db import utcnow
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.transports import Outcome
from dutydesk.incidents.chat.refresh import remember_message
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.models import Incident
from dutydesk.incidents.store import add_events

ACTOR = "notify"


def notification_event(message: OutboxMessage, outcome: Outcome) -> IncidentEvent:
    """The timeline event for one delivery attempt of ``message`` (pure apart from the clock)."""
    return IncidentEvent(
        EventKind.NOTIFICATION_SENT if outcome.ok else EventKind.NOTIFICATION_FAILED,
        utcnow(),
        ACTOR,
        {
            "channel": message.channel,
            "target": message.target,
            "attempt": message.attempts,
            "detail": (outcome.detail or "")[:500],
        },
    )


def record_notification_attempt(
    session: Session, message: OutboxMessage, outcome: Outcome
) -> None:
    """Add the attempt to the incident's timeline; other sources and gone incidents are ignored.
    A delivered chat page with buttons is remembered so it can be edited (``chat.refresh``)."""
    if message.source_type != "incident" or not str(message.source_id).isdigit():
        return
    remember_message(session, message, outcome)
    incident_id = int(message.source_id)
    if session.get(Incident, incident_id) is None:
        return  # deleted meanwhile: nothing to annotate
    add_events(session, incident_id, [notification_event(message, outcome)])
