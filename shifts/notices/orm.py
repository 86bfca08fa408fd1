"""Outage notices and the status page: services, groups, notices, updates, subscribers.

Rows map to the pure value objects of :mod:`shifts.notices` (see ``shifts.notices.storage``);
the rules live there, not here. Public ids: a service is known by its ``slug`` (badge URLs,
the ``code`` of Statuspage's affected components), a notice by its integer id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow
from dutydesk.core.sites import site_column


class StatusServiceGroup(Base):
    """A heading on the status page ("Office", "Data center hall A")."""

    __tablename__ = "status_service_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatusService(Base):
    """A service employees understand. ``status`` is what a person set; ``mode`` auto makes the
    page follow the checks in ``check_ids`` (check ids as JSON until checks have storage)."""

    __tablename__ = "status_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("status_service_groups.id", ondelete="SET NULL"), index=True, default=None
    )
    description: Mapped[str] = mapped_column(String(1000), default="")
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(30), default="operational")
    mode: Mapped[str] = mapped_column(String(10), default="manual")
    check_ids: Mapped[list[Any]] = mapped_column(default=list)
    only_show_if_degraded: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    #: The data center that provides the service.
    site_id: Mapped[int] = site_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeRow(Base):
    """An outage notice (``incident``) or scheduled maintenance (``maintenance``).

    Maintenance fields (``scheduled_for`` …) are NULL for incidents. ``reminders_checked_at``
    is the worker's ``last_run`` for :func:`shifts.notices.maintenance.reminders_due`.
    """

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_kind_published", "kind", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(300))
    impact: Mapped[str] = mapped_column(String(12), default="none")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    expected_resolution_at: Mapped[datetime | None] = mapped_column(default=None)
    scheduled_for: Mapped[datetime | None] = mapped_column(default=None)
    scheduled_until: Mapped[datetime | None] = mapped_column(default=None)
    reminder_lead_minutes: Mapped[list[Any] | None] = mapped_column(default=None)
    auto_start: Mapped[bool] = mapped_column(default=True)
    auto_complete: Mapped[bool] = mapped_column(default=True)
    reminders_checked_at: Mapped[datetime | None] = mapped_column(default=None)


class NoticeUpdateRow(Base):
    """One entry of a notice's timeline (Markdown ``body``, sanitised when shown)."""

    __tablename__ = "notice_updates"
    __table_args__ = (UniqueConstraint("notice_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    automatic: Mapped[bool] = mapped_column(default=False)
    affected_changes: Mapped[list[Any]] = mapped_column(default=list)


class NoticeAffectedService(Base):
    """A service a notice is about, and its impact (a service status)."""

    __tablename__ = "notice_services"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("status_services.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    impact: Mapped[str] = mapped_column(String(30), default="major_outage")
    position: Mapped[int] = mapped_column(default=0)


class NoticeIncidentLink(Base):
    """A notice drafted from / about a DutyDesk incident (plain id until incidents have storage)."""

    __tablename__ = "notice_incident_links"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(primary_key=True, index=True)


class StatusSubscriber(Base):
    """An email address (double opt-in) or a webhook URL that hears about notices.

    ``service_ids`` NULL means every service. Email subscribers receive nothing until
    ``confirmed_at`` is set (confirm link carries a token whose SHA-256 is ``confirm_digest``).
    ``nonce`` goes into the signed unsubscribe token; a new nonce invalidates old links.
    """

    __tablename__ = "status_subscribers"
    __table_args__ = (UniqueConstraint("kind", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # email, webhook
    target: Mapped[str] = mapped_column(String(1000))
    service_ids: Mapped[list[Any] | None] = mapped_column(default=None)
    language: Mapped[str] = mapped_column(String(5), default="en")
    confirm_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    nonce: Mapped[str] = mapped_column(String(32))
    # Webhooks: the HMAC key of X-DutyDesk-Signature (shared with the receiver, like a
    # contact method's webhook secret). NULL for mail subscribers and webhooks from before it.
    secret: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(default=None)


class StatusPageGeneration(Base):
    """One row (id 1): bumped in every transaction that changes what the page shows, so each
    web process knows its snapshot is stale with one cheap primary-key read."""

    __tablename__ = "status_page_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
