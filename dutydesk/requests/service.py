"""The requests area's public API: register a request, act on it, tie it to an incident.

Every function works inside the caller's transaction (nothing is committed here): the request,
its timeline, its audit entry and the mails it causes (through the outbox, each with an
idempotency key naming its reason) are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.config import Settings
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.notify.transports import message_id_digest
from dutydesk.core.security import Principal
from dutydesk.incidents.lifecycle import TransitionRefused
from dutydesk.incidents.lookup import incident_brief
from dutydesk.incidents.priority import Priority
from dutydesk.requests import mail
from dutydesk.requests.catalog.items import CatalogItem, field_values
from dutydesk.requests.due import refresh_due
from dutydesk.requests.events import EventKind, RequestEvent, RequestStatus
from dutydesk.requests.lifecycle import MAX_TEXT, Action, new_request
from dutydesk.requests.models import (
    CHANNELS,
    REQUEST_TYPES,
    IncidentFollower,
    RequestMailRef,
    ServiceRequest,
)
from dutydesk.requests.rules import RequestInputError, normalise_email, request_priority
from dutydesk.requests.sla import RequestSlaPolicy
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


def actor_label(actor: Actor) -> str:
    """The name an actor is recorded under."""
    return actor.label if isinstance(actor, Principal) else actor


_label = actor_label


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise RequestInputError(f"{name} must be text")
    if required and not text:
        raise RequestInputError(f"{name} is required")
    if len(text) > limit:
        raise RequestInputError(f"{name} is {len(text)} characters long; at most {limit}")
    return text


def create_request(
    session: Session, settings: Settings, actor: Actor, requester: Requester, *,
    service: Any, description: Any, now: datetime, subject: Any = "", category: Any = "",
    request_type: Any = "fault", channel: Any = "web", impact: Any = 3, urgency: Any = 2,
    incident_id: int | None = None, policy: RequestSlaPolicy | None = None,
    acknowledge: bool = True,
    catalog_item: CatalogItem | None = None, fields: Mapping[str, Any] | None = None,
) -> ServiceRequest:
    """Register a request; ``RequestInputError`` (nothing stored) when a field is unusable.

    Impact defaults to low (one person), urgency to medium; priority comes from the incidents'
    matrix. ``incident_id`` links it at intake (the incident must be open). The requester gets a
    mail with the number and their status link (unless ``acknowledge`` is False: the mail
    intake's limit of acknowledgements per sender and hour).

    With a ``catalog_item`` the request takes the item's service, type, default priority (over
    the matrix), line and SLA targets (over ``policy``), its slug as the category, and the
    values of its form fields from ``fields`` (``ValidationError`` when a required one is
    missing). Without one it is an "other" request (``catalog_item_id`` stays empty).
    """
    line = "first_line"
    item_fields: dict[str, str] | None = None
    if catalog_item is not None:
        service, request_type = catalog_item.service, catalog_item.request_type
        category = category or catalog_item.slug
        line = catalog_item.default_line
        policy = catalog_item.sla_policy(policy)
        item_fields = field_values(catalog_item, fields or {})
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
    if catalog_item is not None and catalog_item.default_priority:
        priority = Priority.parse(catalog_item.default_priority)
    if incident_id is not None:
        _open_incident(session, incident_id)
    policy = policy or RequestSlaPolicy()
    language = requester.language if requester.language in ("en", "ru", "uk") else "en"
    row = ServiceRequest(
        subject=title, description=text, requester_email=email, requester_name=name,
        requester_language=language, requester_user_id=requester.user_id,
        requester_person_id=requester.person_id, channel=channel, service=service_name,
        category=category_name, request_type=request_type, impact=int(impact),
        urgency=int(urgency), priority=str(priority), status="new", line=line,
        lines_seen=[line], incident_id=None, sla_targets=policy.as_minutes(),
        catalog_item_id=catalog_item.id if catalog_item else None, catalog_fields=item_fields,
        approval_state="pending" if catalog_item and catalog_item.approval_role else None,
        created_at=now, updated_at=now, version=1)
    session.add(row)
    session.flush()
    _state, events = new_request(priority=priority, actor=_label(actor), now=now,
                                 channel=channel, line=line)
    add_events(session, row.id, events)
    refresh_due(session, row, now)
    audit.record(session, actor, "request.create", "request", row.id,
                 summary=f"{row.number} {title}"[:200],
                 after={"service": service_name, "channel": channel, "priority": str(priority),
                        "catalog_item": catalog_item.key if catalog_item else "other"})
    link = mail.my_requests_url(settings.base_url, settings.secret_key, email)
    if acknowledge:  # an automatic answer (RFC 3834): robots must not answer it
        _mail(session, row, f"request:{row.id}:received",
              mail.received_mail(language, row.id, title, name, link), automatic=True)
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


def _mail(session: Session, row: ServiceRequest, key: str, message: mail.Mail, *,
          automatic: bool = False) -> None:
    options = {"headers": {"Auto-Submitted": "auto-replied"}} if automatic else None
    queued = enqueue(session, channel="email", target=row.requester_email,
                     subject=message.subject, body_text=message.text, idempotency_key=key,
                     source_type="request", source_id=row.id, options=options)
    if queued is not None:
        remember_ref(session, row.id, outgoing_ref(key))


def outgoing_ref(idempotency_key: str) -> str:
    """How a mail we send is known in ``request_mail_refs`` (its Message-ID's digest)."""
    return f"out:{message_id_digest(idempotency_key)}"


def remember_ref(session: Session, request_id: int, ref: str) -> None:
    """Note that Message-ID ``ref`` belongs to the request's conversation (once)."""
    ref = ref[:255]
    if session.scalar(select(RequestMailRef.id).where(RequestMailRef.ref == ref)) is None:
        session.add(RequestMailRef(ref=ref, request_id=request_id))


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
                           update_key: str, now: datetime, actor: Actor, *,
                           across_incidents: bool = False) -> int:
    """A public update on an incident, to every person affected: the requester of each open
    linked request (recorded on its timeline) and each follower, one mail per address per
    ``update_key`` however often it is called (a repeat adds nothing to the timelines either);
    ``across_incidents``: once per address and ``update_key`` whichever incident it is called
    for (an outage notice about several incidents). Returns the number of mails enqueued."""
    scope = "incidents" if across_incidents else f"incident:{incident_id}"
    text = _text(text, "update", MAX_TEXT, required=True)
    brief = incident_brief(session, incident_id)
    if brief is None:
        raise IncidentMissing(f"there is no incident #{incident_id}")
    sent = 0
    for row in linked_requests(session, incident_id):
        if row.status == RequestStatus.CLOSED:
            continue
        link = mail.my_requests_url(settings.base_url, settings.secret_key,
                                    row.requester_email)
        message = mail.incident_update_mail(row.requester_language, row.id, text, link)
        key = f"{scope}:update:{update_key}:to:{row.requester_email}"
        queued = _enqueue_once(session, row.requester_email, message, key, incident_id)
        if queued:
            add_events(session, row.id, [RequestEvent(
                EventKind.INCIDENT_UPDATE, now, _label(actor),
                {"incident_id": incident_id, "text": text})])
            remember_ref(session, row.id, outgoing_ref(key))
        sent += queued
    for follower in _followers(session, incident_id):
        message = mail.follower_mail(follower.language, brief.title, text, resolved=False)
        sent += _enqueue_once(session, follower.email, message,
                              f"{scope}:update:{update_key}:to:{follower.email}", incident_id)
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
