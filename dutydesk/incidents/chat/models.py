"""Tables of the chat integrations (migration 0025).

- ``chat_messages``: every chat message that paged an incident and can be edited later
  (Telegram chat + message id, Slack channel + ts, or an interaction's ``response_url``);
- ``chat_links``: a chat account (Telegram user id, Slack team:user, Mattermost user id)
  linked to one DutyDesk user; UNIQUE per (provider, external id);
- ``chat_link_codes``: one-time link codes (only their SHA-256 is stored), expiring, used once;
- ``chat_state``: small named values with a lease (the Telegram update offset and which worker
  polls), claimed with compare-and-set.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow

PROVIDERS = ("telegram", "slack", "mattermost")


class ChatMessage(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("provider", "chat_id", "message_id",
                                       name="uq_chat_messages_message"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    provider: Mapped[str] = mapped_column(String(12))
    chat_id: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(100))
    #: Slack/Mattermost: where the last interaction said the message can be replaced
    response_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    response_url_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatLink(Base):
    __tablename__ = "chat_links"
    __table_args__ = (UniqueConstraint("provider", "external_id", name="uq_chat_links_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(12))
    external_id: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200), default="")  # @username, for the profile
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatLinkCode(Base):
    __tablename__ = "chat_link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ChatState(Base):
    __tablename__ = "chat_state"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str | None] = mapped_column(String(120), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
