"""The notification outbox: every message to send, written in the same transaction as its cause.

A sender claims due rows (compare-and-set), delivers, and records each attempt. A process killed
mid-send leaves the row ``sending`` with an expired lease; it is claimed again (at-least-once), and
the receiver can drop the duplicate by its idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow

OUTBOX_STATES = ("pending", "sending", "sent", "failed")


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # email, webhook, slack, telegram
    target: Mapped[str] = mapped_column(String(1000))  # address, URL or chat id
    subject: Mapped[str] = mapped_column(String(500), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text, default=None)
    payload: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    options: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # e.g. signing secret
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    source_type: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(80))
    channel_ref: Mapped[str | None] = mapped_column(String(80), default=None)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    failure_scope: Mapped[str | None] = mapped_column(String(12), default=None)


class DeliveryAttempt(Base):
    """One try at delivering one outbox message, successful or not."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str] = mapped_column(String(1000), default="")
    permanent: Mapped[bool] = mapped_column(default=False)
