"""The requests area's public API: register a request, act on it, tie it to an incident.

Every function works inside the caller's transaction (nothing is committed here): the request,
its timeline, its audit entry and the mails it causes (through the outbox, each with an
idempotency key naming its reason) are stored together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.config import Settings
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.security import Principal
from dutydesk.incidents.lifecycle import TransitionRefused
from dutydesk.incidents.lookup import incident_brief
from dutydesk.requests import mail
from dutydesk.requests.events import EventKind, RequestEvent, RequestStatus
from dutydesk.requests.lifecycle import MAX_TEXT, Action, new_request
from dutydesk.requests.models import (
    CHANNELS,
    REQUEST_TYPES,
    IncidentFollower,
    ServiceRequest,
)
from dutydesk.requests.rules import RequestInputError, normalise_email, request_priority
from dutydesk.requests.sla import RequestSlaError, RequestSlaPolicy
from dutydesk.requests.store import act, add_events

Actor = Principal | str


class IncidentMissing(LookupError):
    """The incident a request should be linked to does not exist (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks: an address always; a user id when signed in, an authorised person of a
    data-center client when they come from the visitor log."""

    email: str
    name: str = ""
    language: str = "en"
    user_id: int | None = None
    person_id: int | None = None


def _label(actor: Actor) -> str:
    return actor.label if isinstance(actor, Principal) else actor


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise RequestInputError(f"{name} must be text")
    if required and not text:
        raise RequestInputError(f"{name} is required")
    if len(text) > limit:
        raise RequestInputError(f"{name} is {len(text)} characters long; at most {limit}")
    return text


def policy_of(row: ServiceRequest) -> RequestSlaPolicy:
    """The SLA policy stored on the request when it came in (defaults for older rows)."""
    if not row.sla_targets:
        return RequestSlaPolicy()
    try:
        return RequestSlaPolicy.from_minutes(row.sla_targets)
    except RequestSlaError:
        return RequestSlaPolicy()


def create_request(
    session: Session, settings: Settings, actor: Actor, requester: Requester, *,
    service: Any, description: Any, now: datetime, subject: Any = "", category: Any = "",
    request_type: Any = "fault", channel: Any = "web", impact: Any = 3, urgency: Any = 2,
    incident_id: int | None = None, policy: RequestSlaPolicy | None = None,
) -> ServiceRequest:
    """Register a request; ``RequestInputError`` (nothing stored) when a field is unusable.

    Impact defaults to low (one person), urgency to medium; priority comes from the incidents'
    matrix. ``incident_id`` links it at intake (the incident must be open). The requester gets a
    mail with the number and their status link.
    """
    email = normalise_email(requester.email)
    name = _text(requester.name, "name", 200)
    service_name = _text(service, "service", 200, required=True)
    text = _text(description, "description", MAX_TEXT, required=True)
    title = _text(subject, "subject", 300) or text.splitlines()[0][:300]
    category_name = _text(category, "category", 100)
    if channel not in CHANNELS:
        raise RequestInputError(f"channel must be one of {', '.join(CHANNELS)}")
    if request_type not in REQUEST_TYPES:
        raise RequestInputError(f"type must be one of {', '.join(REQUEST_TYPES)}")
    priority = request_priority(impact, urgency)
    if incident_id is not None:
        _open_incident(session, incident_id)
    policy = policy or RequestSlaPolicy()
    language = requester.language if requester.language in ("en", "ru", "uk") else "en"
    row = ServiceRequest(
        subject=title, description=text, requester_email=email, requester_name=name,
        requester_language=language, requester_user_id=requester.user_id,
        requester_person_id=requester.person_id, channel=channel, service=service_name,
        category=category_name, request_type=request_type, impact=int(impact),
        urgency=int(urgency), priority=str(priority), status="new", line="first_line",
        lines_seen=["first_line"], incident_id=None, sla_targets=policy.as_minutes(),
        created_at=now, updated_at=now, version=1)
    session.add(row)
    session.flush()
    _state, events = new_request(priority=priority, actor=_label(actor), now=now,
                                 channel=channel)
    add_events(session, row.id, events)
    audit.record(session, actor, "request.create", "request", row.id,
                 summary=f"{row.number} {title}"[:200],
                 after={"service": service_name, "channel": channel, "priority": str(priority)})
    link = mail.my_requests_url(settings.base_url, settings.secret_key, email)
    _mail(session, row, f"request:{row.id}:received",
          mail.received_mail(language, row.id, title, name, link))
    if incident_id is not None:
        row, _ = act(session, row.id, Action.LINK, _label(actor), now, incident_id=incident_id)
    return row


def perform(session: Session, settings: Settings, actor: Actor, request_id: int,
            action: Action | str, now: datetime, *, expected_version: int | None = None,
            **fields: Any) -> ServiceRequest:
    """Someone acts on a request: lifecycle + compare-and-set + audit + the requester's mail."""
    try:
        action = Action(action)
    except ValueError:
        raise RequestInputError(f"unknown action {action!r}") from None
    if action is Action.LINK:
        fields["incident_id"] = _open_incident(session, fields.get("incident_id")).id
    row, events = act(session, request_id, action, _label(actor), now,
                      expected_version=expected_version, **fields)
    audit.record(session, actor, f"request.{action.value}", "request", row.id,
                 summary=f"{action.value} {row.number}",
                 after={"status": row.status, **{k: v for k, v in fields.items()
                                                 if k not in ("text", "note") and v}})
    _mail_for(session, settings, row, action, events)
    return row


def _mail_for(session: Session, settings: Settings, row: ServiceRequest, action: Action,
              events: list[RequestEvent]) -> None:
    link = mail.my_requests_url(settings.base_url, settings.secret_key, row.requester_email)
    key = f"request:{row.id}:v{row.version}:{action.value}"
    if action is Action.REPLY:
        text = events[0].data["text"]
        _mail(session, row, key, mail.reply_mail(row.requester_language, row.id, row.subject,
                                                  text, link))
    elif action is Action.RESOLVE:
        note = events[0].data["note"]
        rate = mail.rating_urls(settings.base_url, settings.secret_key, row.id,
                                row.requester_email)
        _mail(session, row, key, mail.resolved_mail(row.requester_language, row.id,
                                                     row.subject, note, link, rate))


def _mail(session: Session, row: ServiceRequest, key: str, message: mail.Mail) -> None:
    enqueue(session, channel="email", target=row.requester_email, subject=message.subject,
            body_text=message.text, idempotency_key=key, source_type="request",
            source_id=row.id)


def _open_incident(session: Session, incident_id: Any) -> Any:
    try:
        number = int(str(incident_id).strip().lstrip("#"))
    except ValueError:
        raise RequestInputError(f"incident must be an incident number, got {incident_id!r}"
                                ) from None
    brief = incident_brief(session, number)
    if brief is None:
        raise IncidentMissing(f"there is no incident #{number}")
    if not brief.is_open:
        raise TransitionRefused(f"incident #{number} is already resolved", "incident_resolved")
    return brief


# --- mass incidents ------------------------------------------------------------------------


def linked_requests(session: Session, incident_id: int) -> list[ServiceRequest]:
    """The requests linked to ``incident_id``, oldest first (the "people affected")."""
    return list(session.scalars(select(ServiceRequest)
                                .where(ServiceRequest.incident_id == incident_id)
                                .order_by(ServiceRequest.created_at, ServiceRequest.id)))


def affected_count(session: Session, incident_id: int) -> int:
    """How many different people are affected: requesters of linked requests and followers."""
    emails = set(session.scalars(select(ServiceRequest.requester_email)
                                 .where(ServiceRequest.incident_id == incident_id)))
    emails |= set(session.scalars(select(IncidentFollower.email)
                                  .where(IncidentFollower.incident_id == incident_id)))
    return len(emails)


def follow_incident(session: Session, incident_id: int, requester: Requester,
                    now: datetime) -> bool:
    """"Me too, keep me informed": ``requester`` follows the open incident instead of filing a
    request (a deflection). Returns False when they already follow it (counted once)."""
    brief = _open_incident(session, incident_id)
    email = normalise_email(requester.email)
    if session.scalar(select(IncidentFollower.id).where(
            IncidentFollower.incident_id == brief.id, IncidentFollower.email == email)):
        return False
    session.add(IncidentFollower(incident_id=brief.id, email=email,
                                 name=_text(requester.name, "name", 200),
                                 language=requester.language if requester.language in
                                 ("en", "ru", "uk") else "en", created_at=now))
    audit.record(session, email, "request.follow_incident", "incident", brief.id,
                 summary=f"{email} follows incident #{brief.id}")
    session.flush()
    return True


def deflection_count(session: Session, since: datetime | None = None) -> int:
    """People who followed an incident instead of filing a request (since ``since``)."""
    query = select(func.count(IncidentFollower.id))
    if since is not None:
        query = query.where(IncidentFollower.created_at >= since)
    return int(session.scalar(query) or 0)


def notify_incident_update(session: Session, settings: Settings, incident_id: int, text: str,
                           update_key: str, now: datetime, actor: Actor) -> int:
    """A public update on an incident, to every person affected: the requester of each open
    linked request (recorded on its timeline) and each follower, one mail per address per
    ``update_key`` however often it is called. Returns the number of mails enqueued."""
    text = _text(text, "update", MAX_TEXT, required=True)
    brief = incident_brief(session, incident_id)
    if brief is None:
        raise IncidentMissing(f"there is no incident #{incident_id}")
    sent = 0
    for row in linked_requests(session, incident_id):
        if row.status == RequestStatus.CLOSED:
            continue
        add_events(session, row.id, [RequestEvent(
            EventKind.INCIDENT_UPDATE, now, _label(actor),
            {"incident_id": incident_id, "text": text})])
        link = mail.my_requests_url(settings.base_url, settings.secret_key,
                                    row.requester_email)
        message = mail.incident_update_mail(row.requester_language, row.id, text, link)
        sent += _enqueue_once(session, row.requester_email, message,
                              f"incident:{incident_id}:update:{update_key}:to:"
                              f"{row.requester_email}", incident_id)
    for follower in _followers(session, incident_id):
        message = mail.follower_mail(follower.language, brief.title, text, resolved=False)
        sent += _enqueue_once(session, follower.email, message,
                              f"incident:{incident_id}:update:{update_key}:to:"
                              f"{follower.email}", incident_id)
    audit.record(session, actor, "incident.public_update", "incident", incident_id,
                 summary=f"update to {sent} people affected by incident #{incident_id}")
    return sent


def resolve_linked(session: Session, settings: Settings, incident_id: int, now: datetime,
                   actor: Actor = "incident") -> int:
    """The incident is resolved: resolve its open linked requests with its resolution text
    (mailed to each requester) and tell its followers. Returns the requests resolved."""
    brief = incident_brief(session, incident_id)
    if brief is None or brief.is_open:
        return 0
    note = brief.resolution_note or brief.title
    done = 0
    for row in linked_requests(session, incident_id):
        if row.status in (RequestStatus.RESOLVED, RequestStatus.CLOSED):
            continue
        perform(session, settings, actor, row.id, Action.RESOLVE, now, note=note,
                incident_id=incident_id)
        done += 1
    for follower in _followers(session, incident_id):
        if follower.told_resolved_at is not None:
            continue
        message = mail.follower_mail(follower.language, brief.title, note, resolved=True)
        _enqueue_once(session, follower.email, message,
                      f"incident:{incident_id}:resolved:to:{follower.email}", incident_id)
        follower.told_resolved_at = now
    return done


def _followers(session: Session, incident_id: int) -> list[IncidentFollower]:
    return list(session.scalars(select(IncidentFollower)
                                .where(IncidentFollower.incident_id == incident_id)
                                .order_by(IncidentFollower.id)))


def _enqueue_once(session: Session, email: str, message: mail.Mail, key: str,
                  incident_id: int) -> int:
    queued = enqueue(session, channel="email", target=email, subject=message.subject,
                     body_text=message.text, idempotency_key=key[:200],
                     source_type="incident_requesters", source_id=incident_id)
    return 1 if queued is not None else 0
