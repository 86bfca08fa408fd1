"""Requests from people: the request, its timeline, and the people who said "me too".

- ``service_requests.version`` grows by one on every change; writers update with
  ``WHERE id = :id AND version = :seen`` (compare-and-set) like incidents, so two engineers
  resolving the same request at once get one success and one clear conflict.
- ``incident_id`` links a request to the incident it is about (a mass incident); deleting the
  incident keeps the request (SET NULL).
- ``sla_targets`` is the SLA policy as it was when the request came in (minutes per priority),
  so a config change does not rewrite a running clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow

REQUEST_STATUSES = ("new", "in_progress", "waiting", "resolved", "closed")
CHANNELS = ("web", "email", "phone", "walk_in", "client_api")
REQUEST_TYPES = ("fault", "service_request", "question")


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_status_created", "status", "created_at"),
        Index("ix_service_requests_requester_email", "requester_email"),
        Index("ix_service_requests_status_due", "status", "sla_due_at"),
        Index("ix_service_requests_due_created", "sla_due_at", "created_at"),
        Index("ix_service_requests_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    requester_email: Mapped[str] = mapped_column(String(254))
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    requester_language: Mapped[str] = mapped_column(String(8), default="en")
    requester_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None)
    requester_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("visitor_authorised_persons.id", ondelete="SET NULL"), default=None)
    channel: Mapped[str] = mapped_column(String(12), default="web")
    service: Mapped[str] = mapped_column(String(200), index=True)
    category: Mapped[str] = mapped_column(String(100), default="")
    request_type: Mapped[str] = mapped_column(String(20), default="fault")
    impact: Mapped[int] = mapped_column(default=3)
    urgency: Mapped[int] = mapped_column(default=2)
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(12), default="new")
    line: Mapped[str] = mapped_column(String(12), default="first_line")
    lines_seen: Mapped[list[Any]] = mapped_column(default=list)
    assignee: Mapped[str | None] = mapped_column(String(200), default=None)
    responded: Mapped[bool] = mapped_column(default=False)
    waiting_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None, index=True)
    ping_pong_count: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0)
    sla_targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The catalog item asked for (``None``: "other", outside the catalog) and the values of its
    # form fields; items are retired, never deleted, so no foreign key is needed.
    catalog_item_id: Mapped[int | None] = mapped_column(default=None, index=True)
    catalog_fields: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # "pending" while the item's approver role has not decided, then "approved"/"rejected";
    # None when the item needs no approval.
    approval_state: Mapped[str | None] = mapped_column(String(10), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)
    # the most urgent running SLA clock's deadline (``dutydesk.requests.due``); NULL: none runs
    sla_due_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the timeline adds up to, stored when the request is resolved and cleared when it is
    # reopened (``dutydesk.requests.summary``); NULL while open: readers replay the timeline.
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_by: Mapped[str | None] = mapped_column(String(200), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(200), default=None)
    sla_response_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_response_target_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_response_breached: Mapped[bool | None] = mapped_column(default=None)
    sla_resolve_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_resolve_target_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    sla_resolve_breached: Mapped[bool | None] = mapped_column(default=None)

    @property
    def number(self) -> str:
        return f"REQ-{self.id}"


class RequestEventRow(Base):
    """One timeline entry (see ``dutydesk.requests.events`` for kinds and their data)."""

    __tablename__ = "request_events"
    __table_args__ = (Index("ix_request_events_request_at", "request_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IncidentFollower(Base):
    """Someone who said "me too, keep me informed" about an open incident instead of filing a
    request (a deflection): they get its public updates and its resolution, once each."""

    __tablename__ = "incident_followers"
    __table_args__ = (Index("uq_incident_followers", "incident_id", "email", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once the incident's resolution was mailed (the worker looks only at the others).
    told_resolved_at: Mapped[datetime | None] = mapped_column(default=None)


class RequestMailRef(Base):
    """A Message-ID that belongs to a request's conversation, so a reply's In-Reply-To or
    References finds its request: ``out:<digest>`` for the mails we sent (the digest part of the
    Message-ID the outbox gives them), the normalised Message-ID of each mail we took in."""

    __tablename__ = "request_mail_refs"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(255), unique=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RequestAttachment(Base):
    """A file on a request (from a mail or the web form). ``content_type`` is what the bytes
    are (sniffed), not what the sender claimed; the bytes are stored in the database (size
    limited, see ``dutydesk.requests.attachments``) so a backup holds the whole request."""

    __tablename__ = "request_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(12), default="web")  # web | email | api
    added_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeRelay(Base):
    """An outage-notice update already passed on to the people affected by its incidents
    (``dutydesk.requests.jobs.relay_notice_updates``): each update is relayed once."""

    __tablename__ = "request_notice_relays"

    notice_update_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    relayed_at: Mapped[datetime] = mapped_column(default=utcnow)
    mails: Mapped[int] = mapped_column(default=0)


RATINGS = ("good", "bad")


class RequestRating(Base):
    """The requester's one rating of a resolved request (good / bad, an optional comment),
    given once through the signed link in the resolution mail."""

    __tablename__ = "request_ratings"
    __table_args__ = (Index("uq_request_ratings_request", "request_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"))
    rating: Mapped[str] = mapped_column(String(4))
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime] = mapped_column(default=utcnow)
