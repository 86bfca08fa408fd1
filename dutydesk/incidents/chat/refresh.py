"""Every chat that got a page sees the incident change: its message is edited.

``refresh_messages`` is called in the transaction that changes the incident (a person's action
through ``service.perform``, an automatic resolve) and enqueues one outbox edit per stored chat
message: Telegram ``editMessageText`` with the new status line and the buttons left; Slack
``chat.update`` for messages the bot posted, or the interaction's ``response_url`` (valid 30
minutes) for messages posted by an incoming webhook. Idempotency keys name the message and the
incident's version, so the same change is never edited twice; an edit still waiting when a newer
one is enqueued is superseded (marked failed with that reason), so an old state never overwrites
a newer one after a retry.

``remember_message`` is the other half, called from the sender's record hook: a page that went
out with buttons is stored as (incident, chat, message id) from the receiver's answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.outbox import enqueue
from dutydesk.core.notify.transports import Outcome
from dutydesk.incidents.chat.models import ChatMessage
from dutydesk.incidents.chat.render import (
    headline,
    page_text,
    slack_blocks,
    status_line,
    telegram_keyboard,
)
from dutydesk.incidents.models import Incident
from dutydesk.incidents.priority import Priority

#: Slack lets a response_url be used for 30 minutes (and 5 times).
RESPONSE_URL_LIFETIME = timedelta(minutes=29)
EDIT_SOURCE = "incident_chat_edit"  # not "incident": edits are not pages on the timeline


def remember_message(session: Session, message: OutboxMessage, outcome: Outcome) -> None:
    """Store a delivered chat page (with buttons) of an incident so it can be edited later."""
    if not outcome.ok or not outcome.data or message.source_type != "incident":
        return
    if not (message.options or {}).get("chat_page") or not str(message.source_id).isdigit():
        return
    if message.channel == "telegram":
        provider, chat_id = "telegram", str(outcome.data.get("chat_id") or message.target)
        message_id = outcome.data.get("message_id")
    elif message.channel == "slack":
        provider, chat_id = "slack", str(outcome.data.get("channel") or message.target)
        message_id = outcome.data.get("ts")
    else:
        return
    if message_id in (None, ""):
        return
    incident_id = int(message.source_id)
    if session.get(Incident, incident_id) is None:
        return
    found = session.scalar(select(ChatMessage.id).where(
        ChatMessage.provider == provider, ChatMessage.chat_id == chat_id,
        ChatMessage.message_id == str(message_id)))
    if found is None:
        session.add(ChatMessage(incident_id=incident_id, provider=provider, chat_id=chat_id,
                                message_id=str(message_id)))


def note_message(session: Session, incident_id: int, provider: str, chat_id: str,
                 message_id: str, now: datetime, response_url: str | None = None) -> ChatMessage:
    """Remember a chat message someone pressed a button on (sent before we stored it, or
    forwarded), and for Slack/Mattermost where the interaction said it can be replaced."""
    row = session.scalar(select(ChatMessage).where(
        ChatMessage.provider == provider, ChatMessage.chat_id == chat_id,
        ChatMessage.message_id == message_id))
    if row is None:
        row = ChatMessage(incident_id=incident_id, provider=provider, chat_id=chat_id,
                          message_id=message_id, created_at=now)
        session.add(row)
    if response_url:
        row.response_url, row.response_url_at = response_url[:1000], now
    session.flush()
    return row


def edit_options(row: ChatMessage, incident: Incident, settings: Settings,
                 now: datetime) -> tuple[str, dict[str, Any]] | None:
    """(target, outbox options) of the edit that shows ``incident`` in ``row``, or ``None``
    when the message cannot be edited from here (pure)."""
    if row.provider == "telegram":
        return row.chat_id, {"telegram": {
            "method": "editMessageText", "message_id": int(row.message_id)
            if row.message_id.isdigit() else row.message_id,
            "reply_markup": telegram_keyboard(incident, settings.base_url)}}
    if row.provider != "slack":
        return None
    blocks = slack_blocks(incident, settings.base_url,
                          buttons=bool(settings.slack_signing_secret))
    fresh = row.response_url and row.response_url_at and (
        now - row.response_url_at < RESPONSE_URL_LIFETIME)
    if row.response_url and fresh:
        return row.response_url, {"slack": {"replace_original": True, "blocks": blocks}}
    if not row.chat_id.startswith(("http://", "https://")) and settings.slack_bot_token:
        return row.chat_id, {"slack": {"ts": row.message_id, "blocks": blocks}}
    return None


def refresh_messages(session: Session, settings: Settings, incident: Incident,
                     now: datetime) -> int:
    """Enqueue an edit of every chat message that paged ``incident``; returns edits enqueued."""
    rows = list(session.scalars(select(ChatMessage).where(ChatMessage.incident_id == incident.id)
                                .order_by(ChatMessage.id)))
    count = 0
    for row in rows:
        edit = edit_options(row, incident, settings, now)
        if edit is None:
            continue
        target, options = edit
        prefix = f"chat-edit:{row.id}:"
        session.execute(  # an older edit still waiting would show an older state: drop it
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like(prefix + "%"),
                   OutboxMessage.status == "pending")
            .values(status="failed", last_error="superseded by a newer edit")
            .execution_options(synchronize_session=False))
        channel = "telegram" if row.provider == "telegram" else "slack"
        body = page_text(incident, settings.base_url) if channel == "telegram" else (
            status_line(incident))
        message = enqueue(
            session,
            channel=channel,
            target=target,
            subject="" if channel == "telegram" else headline(incident),
            body_text=body,
            options=options,
            idempotency_key=f"{prefix}v{incident.version}",
            source_type=EDIT_SOURCE,
            source_id=incident.id,
            priority=int(Priority.parse(incident.priority)),
        )
        count += message is not None
    return count
