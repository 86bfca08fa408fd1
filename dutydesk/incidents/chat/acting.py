"""A button press in a chat becomes an incident action by the linked DutyDesk person.

``press`` is the one entry for Telegram, Slack and Mattermost: it finds the person linked to
the chat account, checks they may act (``links.may_act``), and calls ``service.perform`` — the
same compare-and-set, lifecycle rules, audit entry and timeline event as the web — then the
caller commits. A refused action (already acknowledged by someone else, already resolved)
changes nothing and its reason is the answer, so of two concurrent acknowledgements from two
channels one wins and the other is told who acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.security import Principal
from dutydesk.incidents.chat.links import linked_user, may_act
from dutydesk.incidents.chat.render import CHAT_NAMES, Button
from dutydesk.incidents.lifecycle import Action, LifecycleError
from dutydesk.incidents.models import Incident
from dutydesk.incidents.store import IncidentNotFound


@dataclass(frozen=True, slots=True)
class Answer:
    """What the chat shows the person who pressed (``ok``: the action was done)."""

    ok: bool
    text: str
    incident: Incident | None = None
    linked: bool = True  # False: the chat account is linked to nobody


def not_linked_text(provider: str) -> str:
    if provider == "telegram":
        return ("Your Telegram account is not linked to DutyDesk. Get a link code on your "
                "DutyDesk profile (Notifications) and send /link CODE to this bot.")
    return (f"Your {CHAT_NAMES.get(provider, provider)} account is not linked to DutyDesk: "
            "nothing was done.")


def press(session: Session, settings: Settings, provider: str, external_id: str,
          button: Button, incident_id: int, now: datetime) -> Answer:
    """Do ``button`` on ``incident_id`` as the DutyDesk user linked to the chat account.

    Not committed: the caller commits when ``ok`` (and rolls back otherwise)."""
    user = linked_user(session, provider, str(external_id))
    if user is None:
        return Answer(False, not_linked_text(provider), linked=False)
    refused = may_act(user)
    if refused:
        return Answer(False, f"Not allowed: {refused}.")
    from dutydesk.core.models.accounts import Role
    from dutydesk.incidents import service

    who = Principal(kind="user", role=Role(user.role), label=user.email, user=user)
    fields: dict[str, str] = {}
    if button.action is Action.RESOLVE:
        fields["note"] = f"resolved from {CHAT_NAMES.get(provider, provider)}"
    elif button.action is Action.ESCALATE:
        fields["reason"] = f"escalated from {CHAT_NAMES.get(provider, provider)}"
    try:
        incident = service.perform(session, who, incident_id, button.action, now,
                                   settings=settings, **fields)
    except IncidentNotFound:
        return Answer(False, f"Incident #{incident_id} does not exist any more.")
    except LifecycleError as exc:
        current = session.get(Incident, incident_id, populate_existing=True)
        return Answer(False, f"#{incident_id}: {exc}.", current)
    done = {Action.ACKNOWLEDGE: "Acknowledged", Action.RESOLVE: "Resolved",
            Action.ESCALATE: "Escalated"}[button.action]
    return Answer(True, f"{done} #{incident_id} as {user.email}.", incident)
