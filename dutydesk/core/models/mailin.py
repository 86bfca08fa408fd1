"""The intake ledger: one row per inbound mail (by Message-ID), written in the same transaction
as whatever a handler made of it, so a mail is processed once even when the worker dies between
storing it and moving it out of the inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow

#: handled (a handler consumed it), ignored (automatic mail: bounce, auto-reply, our own),
#: unhandled (no handler wanted it), failed (a handler raised; retried a few times)
INTAKE_STATUSES = ("handled", "ignored", "unhandled", "failed")


class MailIntakeRow(Base):
    __tablename__ = "mail_intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(12))
    handler: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")
    attempts: Mapped[int] = mapped_column(default=1)
    from_email: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    size: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
