"""Acting on an incident from a page: the signed links and the mail replies share this.

``page_extras`` adds to one person's page what lets them act from it: the action links (in every
channel's text, and as ``actions`` in the webhook payload), and for mail a reply token in the
subject (``[#token]``) and in the Message-ID. ``act_with_claim`` carries out what a valid token
asks, once, as the person it was issued to: audited as them, on the incident's timeline as them
(``service.perform``), and the token's use stored in the same transaction so it never works
twice. What it refuses is told as an ``Outcome`` with a code the screens and the reply handler
word (never an exception for a person's mistake).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.models.accounts import Role, User
from dutydesk.core.security import Principal
from dutydesk.incidents.action_tokens import (
    LINK_ACTIONS,
    SNOOZE_MINUTES,
    ActionClaim,
    link_url,
    make_token,
    message_id,
    new_nonce,
)
from dutydesk.incidents.lifecycle import Action, InvalidAction, LifecycleError
from dutydesk.incidents.models import Incident, PageTokenUse
from dutydesk.incidents.store import IncidentNotFound

AfterResolve = Callable[[Session, Settings, int, datetime, Principal], Any]
#: Which lifecycle action each token action performs ("open" performs none).
LIFECYCLE = {
    "ack": Action.ACKNOWLEDGE,
    "resolve": Action.RESOLVE,
    "escalate": Action.ESCALATE,
    "snooze": Action.ACKNOWLEDGE,
}
LINK_LABELS = {
    "ack": "Acknowledge",
    "resolve": "Resolve",
    "escalate": "Escalate",
    "snooze": f"Snooze {SNOOZE_MINUTES} min",
    "open": "Open",
}


def link_max_age(settings: Settings) -> timedelta:
    return timedelta(hours=settings.page_link_hours)


def mail_host(settings: Settings) -> str:
    return settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "dutydesk"


@dataclass(frozen=True, slots=True)
class PageExtras:
    """What one person's page gets on top of the incident's message."""

    links: dict[str, str]
    reply_token: str
    text: str  # appended to the body of every channel
    mail_hint: str  # appended to a mail's body: how to act by replying
    subject_tag: str  # appended to a mail's subject: " [#token]"
    options: dict[str, Any]  # outbox options for a mail: its Message-ID (and Reply-To)


def page_extras(settings: Settings, incident_id: int, user_id: int, now: datetime,
                language: str | None = None) -> PageExtras:
    """Links and reply token for one page to ``user_id`` (one fresh nonce per page); the links
    open in the person's ``language`` when they chose one."""
    nonce = new_nonce()
    secret = settings.secret_key
    lang = f"?lang={language}" if language in ("en", "ru", "uk") else ""
    links = {
        action: link_url(settings.base_url,
                         make_token(secret, incident_id, user_id, action, nonce, now)) + lang
        for action in LINK_ACTIONS
    }
    reply = make_token(secret, incident_id, user_id, "reply", nonce, now)
    lines = [f"{LINK_LABELS[action]}: {url}" for action, url in links.items()]
    text = (
        "\nAct from here (links work once, for "
        f"{settings.page_link_hours} h; each asks you to confirm):\n" + "\n".join(lines) + "\n"
    )
    hint = "Or reply to this mail with: ack | resolve: <what you did> | esc\n"
    options: dict[str, Any] = {"message_id": message_id(reply, mail_host(settings))}
    if settings.page_reply_to:
        options["headers"] = {"Reply-To": settings.page_reply_to}
    return PageExtras(links, reply, text, hint, f" [#{reply}]", options)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What acting with a token came to.

    ``code``: ``done``; ``already_acknowledged`` / ``resolved`` (``by`` names who, ``at`` when);
    ``used`` (this link or reply already acted); ``not_allowed`` (the person may no longer act:
    deactivated, or not an engineer); ``not_found`` (the incident is gone); ``refused`` (the
    lifecycle said no: ``detail`` says why); ``needs_note`` (resolve without a note).
    """

    code: str
    incident_id: int
    action: str
    by: str | None = None
    at: datetime | None = None
    detail: str = ""

    @property
    def done(self) -> bool:
        return self.code == "done"


def person_for(session: Session, claim: ActionClaim) -> User | None:
    """The active engineer (or above) the token was issued to, else ``None``."""
    user = session.get(User, claim.user_id)
    if user is None or not user.active or not user.role.at_least(Role.ENGINEER):
        return None
    return user


def act_with_claim(
    session: Session,
    settings: Settings,
    claim: ActionClaim,
    action: str,
    *,
    via: str,
    now: datetime,
    note: str | None = None,
    after_resolve: AfterResolve | None = None,
) -> Outcome:
    """Do ``action`` (ack, resolve, escalate, snooze) on the claim's incident as its person.

    Once per token and action: the use is inserted in a savepoint together with the change, so
    of two concurrent uses one wins and the other reads ``used``; a refused action stores no
    use (the person may try again once the reason is gone). Not committed here.

    ``after_resolve(session, settings, incident_id, now, principal)``: what the caller's layer
    does when a person resolves (the shell resolves the incident's linked requests at once;
    without it the requests' job does it on its next run).
    """
    incident = session.get(Incident, claim.incident_id)
    if incident is None:
        return Outcome("not_found", claim.incident_id, action)
    user = person_for(session, claim)
    if user is None:
        return Outcome("not_allowed", claim.incident_id, action)
    if action not in LIFECYCLE:
        return Outcome("refused", claim.incident_id, action, detail=f"unknown action {action!r}")
    if action == "resolve" and not (note or "").strip():
        return Outcome("needs_note", claim.incident_id, action)
    if session.get(PageTokenUse, f"{claim.nonce}:{action}") is not None:
        return Outcome("used", claim.incident_id, action)
    from dutydesk.incidents import service

    who = Principal(kind="user", role=user.role, label=user.email, user=user)
    fields: dict[str, Any] = {}
    if action == "resolve":
        fields["note"] = (note or "").strip()[:20000]
    elif action == "escalate":
        fields["reason"] = "asked from the page" if via == "link" else "asked by mail reply"
    elif action == "snooze":
        fields["snooze_minutes"] = SNOOZE_MINUTES
    try:
        with session.begin_nested():
            session.add(PageTokenUse(key=f"{claim.nonce}:{action}", user_id=user.id,
                                     incident_id=incident.id, action=action, via=via,
                                     used_at=now))
            session.flush()
            service.perform(session, who, incident.id, LIFECYCLE[action], now,
                            settings=settings, via=via, **fields)
    except IntegrityError:
        return Outcome("used", claim.incident_id, action)
    except IncidentNotFound:
        return Outcome("not_found", claim.incident_id, action)
    except InvalidAction as exc:
        return Outcome("refused", claim.incident_id, action, detail=str(exc))
    except LifecycleError as exc:
        current = session.get(Incident, claim.incident_id, populate_existing=True)
        if current is not None and current.status == "acknowledged":
            return Outcome("already_acknowledged", claim.incident_id, action,
                           by=current.acknowledged_by, at=current.acknowledged_at)
        if current is not None and current.status == "resolved":
            return Outcome("resolved", claim.incident_id, action,
                           by=current.resolved_by, at=current.resolved_at)
        return Outcome("refused", claim.incident_id, action, detail=str(exc))
    if action == "resolve" and after_resolve is not None:
        after_resolve(session, settings, incident.id, now, who)  # e.g. its linked requests
    return Outcome("done", claim.incident_id, action)


def purge_token_uses(session: Session, settings: Settings, now: datetime) -> int:
    """Forget uses older than any token can live (a token that old is refused as expired)."""
    cutoff = now - link_max_age(settings) - timedelta(days=1)
    result = session.execute(delete(PageTokenUse).where(PageTokenUse.used_at < cutoff))
    return int(result.rowcount or 0)
