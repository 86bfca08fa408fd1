"""The Telegram bot: pages carry Acknowledge / Resolve / Escalate buttons, a linked engineer acts
from the chat as themselves, and every chat that got the page sees the incident change.

Persona: Olena and Taras are engineers paged in their private Telegram chats (1111, 2222); the
Bot API is a local stand-in (``standins.BotApi``) speaking the documented shapes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.incidents import service
from dutydesk.incidents.chat import links
from dutydesk.incidents.chat.jobs import chat_jobs
from dutydesk.incidents.chat.models import ChatLink, ChatLinkCode
from dutydesk.incidents.chat.telegram import Poller
from dutydesk.incidents.models import ContactMethod, IncidentEventRow
from dutydesk.models import OutboxMessage, Role
from tests.dutydesk.chat.helpers import (
    chat_messages,
    deliver,
    incident,
    link_code,
    page_everybody,
)
from tests.dutydesk.chat.standins import BotApi

TOKEN = "7000000001:AAH-test_token-0123456789abcdef"
OLENA, TARAS = 1111, 2222


@pytest.fixture
def bot() -> Iterator[BotApi]:
    api = BotApi(TOKEN)
    yield api
    api.stop()


@pytest.fixture
def cfg(app: Any, bot: BotApi) -> Settings:
    settings = dataclasses.replace(app.extensions["dutydesk"].settings,
                                   telegram_bot_token=TOKEN, telegram_api_url=bot.url)
    app.extensions["dutydesk"].settings = settings
    return settings


@pytest.fixture
def poller(db: Database, cfg: Settings) -> Poller:
    return Poller(db, cfg, long_poll=0, name="test-poller")


@pytest.fixture
def team(db: Database, cfg: Settings, signed_in: Any) -> dict[str, Any]:
    """Olena and Taras, each with a Telegram contact method (their private chat)."""
    olena, taras = signed_in(Role.ENGINEER), signed_in(Role.ENGINEER)
    with db.session() as s:
        s.add(ContactMethod(user_id=olena.user.id, kind="telegram", target=str(OLENA)))
        s.add(ContactMethod(user_id=taras.user.id, kind="telegram", target=str(TARAS)))
        s.commit()
    return {"olena": olena, "taras": taras}


def linked(bot: BotApi, poller: Poller, client: Any, telegram_id: int) -> None:
    bot.say(telegram_id, f"/link {link_code(client)}")
    assert poller.poll_once() == 1


def page_message(bot: BotApi, chat: int) -> tuple[int, dict[str, Any]]:
    """The page in ``chat`` (the bot's other messages there carry no keyboard)."""
    [(key, message)] = [(k, m) for k, m in bot.chats.items()
                        if k[0] == chat and "reply_markup" in m]
    return key[1], message


def labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row]


def test_every_telegram_page_carries_the_three_buttons_and_is_remembered(
    db: Database, cfg: Settings, bot: BotApi, team: dict[str, Any]
) -> None:
    incident_id = page_everybody(db, cfg)
    for chat in (OLENA, TARAS):
        _message_id, message = page_message(bot, chat)
        assert labels(message) == ["Acknowledge", "Resolve", "Escalate"]
        assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == \
            f"dd:ack:{incident_id}"
    stored = {(m.chat_id, m.message_id) for m in chat_messages(db, incident_id)}
    assert stored == {(str(chat), str(page_message(bot, chat)[0])) for chat in (OLENA, TARAS)}


def test_a_link_code_links_the_telegram_account_once_and_adds_nothing_twice(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any]
) -> None:
    olena = team["olena"]
    code = link_code(olena)
    bot.say(OLENA, f"/start {code}")
    bot.say(3333, f"/link {code}", username="mallory")  # the same code again: used
    assert poller.poll_once() == 2
    replies = [m["text"] for m in bot.sent("sendMessage")]
    assert f"linked to {olena.user.email}" in replies[0]
    assert "already used or expired" in replies[1]
    with db.session() as s:
        rows = list(s.scalars(select(ChatLink)))
        assert [(r.external_id, r.user_id, r.label) for r in rows] == [
            (str(OLENA), olena.user.id, "@olena_k")]
        # the chat was her contact method already: not added twice
        assert len(list(s.scalars(select(ContactMethod).where(
            ContactMethod.user_id == olena.user.id)))) == 1
        assert all(len(r.code_hash) == 64 for r in s.scalars(select(ChatLinkCode)))


def test_an_expired_code_links_nobody(db: Database, cfg: Settings, team: dict[str, Any]) -> None:
    with db.session() as s:
        code = links.issue_code(s, team["olena"].user.id, utcnow() - timedelta(minutes=16))
        s.commit()
        with pytest.raises(links.LinkError, match="expired"):
            links.redeem_code(s, code, "telegram", str(OLENA), utcnow())


def test_a_press_by_an_unlinked_telegram_user_does_nothing_and_says_why(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any]
) -> None:
    incident_id = page_everybody(db, cfg)
    message_id, _message = page_message(bot, OLENA)
    bot.press(OLENA, OLENA, message_id, f"dd:ack:{incident_id}")
    poller.poll_once()
    [answer] = bot.sent("answerCallbackQuery")
    assert "not linked" in answer["text"] and answer["show_alert"] is True
    assert incident(db, incident_id).status == "triggered"


def test_a_viewer_linked_in_telegram_may_not_act(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any],
    signed_in: Any
) -> None:
    viewer = signed_in(Role.VIEWER)
    linked(bot, poller, viewer, 5555)
    incident_id = page_everybody(db, cfg)
    message_id, _message = page_message(bot, OLENA)
    bot.press(5555, OLENA, message_id, f"dd:ack:{incident_id}")
    poller.poll_once()
    assert "Not allowed" in bot.sent("answerCallbackQuery")[-1]["text"]
    assert incident(db, incident_id).status == "triggered"


def test_acknowledging_in_telegram_acts_as_the_linked_engineer_and_edits_every_chat(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any]
) -> None:
    olena = team["olena"].user
    linked(bot, poller, team["olena"], OLENA)
    incident_id = page_everybody(db, cfg)
    message_id, _message = page_message(bot, OLENA)
    bot.press(OLENA, OLENA, message_id, f"dd:ack:{incident_id}")
    assert poller.poll_once() == 1
    answer = bot.sent("answerCallbackQuery")[-1]
    assert answer["text"] == f"Acknowledged #{incident_id} as {olena.email}."
    assert incident(db, incident_id).acknowledged_by == olena.email
    with db.session() as s:
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "incident.acknowledge"))
        assert audit is not None and audit.actor_user_id == olena.id
        kinds = [(e.kind, e.actor) for e in s.scalars(select(IncidentEventRow).where(
            IncidentEventRow.incident_id == incident_id))]
        assert ("acknowledged", olena.email) in kinds
    deliver(db, cfg)
    for chat in (OLENA, TARAS):  # both chats show who has it; Acknowledge is gone
        _mid, message = page_message(bot, chat)
        assert f"ACKNOWLEDGED by {olena.email}" in message["text"]
        assert labels(message) == ["Resolve", "Escalate"]


def test_resolving_in_telegram_resolves_with_a_note_and_removes_the_buttons(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any]
) -> None:
    linked(bot, poller, team["taras"], TARAS)
    incident_id = page_everybody(db, cfg)
    message_id, _message = page_message(bot, TARAS)
    bot.press(TARAS, TARAS, message_id, f"dd:res:{incident_id}")
    poller.poll_once()
    row = incident(db, incident_id)
    assert row.status == "resolved" and row.resolution_note == "resolved from Telegram"
    deliver(db, cfg)
    _mid, message = page_message(bot, OLENA)
    assert "RESOLVED by" in message["text"] and labels(message) == []


def test_after_resolving_the_bot_asks_for_the_note_and_a_reply_becomes_it(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any]
) -> None:
    taras = team["taras"].user
    linked(bot, poller, team["taras"], TARAS)
    incident_id = page_everybody(db, cfg)
    message_id, _message = page_message(bot, TARAS)
    bot.press(TARAS, TARAS, message_id, f"dd:res:{incident_id}")
    poller.poll_once()
    prompt = bot.sent("sendMessage")[-1]
    assert prompt["reply_markup"]["force_reply"] is True
    [sent] = [m for m in bot.chats.values() if m["text"] == prompt["text"]]
    bot.say(OLENA, "I did it", reply_to=sent, username="olena_k")  # not linked: no note
    bot.say(TARAS, "Replaced the UPS A input fuse", reply_to=sent)
    bot.say(TARAS, "#1 resolved. Reply to this message", reply_to=bot.chats[
        (TARAS, message_id)])  # a reply to the page, not to the prompt: nothing
    poller.poll_once()
    answers = [m["text"] for m in bot.sent("sendMessage")[-2:]]
    assert answers == ["Not added: not linked.", f"Note added to #{incident_id} as {taras.email}."]
    with db.session() as s:
        notes = [(e.actor, e.data.get("text")) for e in s.scalars(select(IncidentEventRow).where(
            IncidentEventRow.incident_id == incident_id, IncidentEventRow.kind == "note"))]
    assert notes == [(taras.email, "Replaced the UPS A input fuse")]


def test_of_two_acknowledgements_from_two_channels_one_wins_and_the_other_is_told_who(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any]
) -> None:
    taras = team["taras"].user
    linked(bot, poller, team["olena"], OLENA)
    incident_id = page_everybody(db, cfg)
    message_id, _message = page_message(bot, OLENA)
    bot.press(OLENA, OLENA, message_id, f"dd:ack:{incident_id}")
    # Taras acknowledges on the web first; Olena's press arrives after
    with db.session() as s:
        who = service.Principal(kind="user", role=Role.ENGINEER, label=taras.email, user=taras)
        service.perform(s, who, incident_id, "acknowledge", utcnow(), settings=cfg)
        s.commit()
    poller.poll_once()
    answer = bot.sent("answerCallbackQuery")[-1]
    assert answer["show_alert"] is True and f"already acknowledged by {taras.email}" in \
        answer["text"]
    assert incident(db, incident_id).acknowledged_by == taras.email
    _mid, message = page_message(bot, OLENA)  # her stale message now shows who has it
    assert f"ACKNOWLEDGED by {taras.email}" in message["text"]


def test_an_edit_that_changes_nothing_counts_as_done(
    db: Database, cfg: Settings, bot: BotApi, poller: Poller, team: dict[str, Any]
) -> None:
    linked(bot, poller, team["olena"], OLENA)
    incident_id = page_everybody(db, cfg)
    message_id, _message = page_message(bot, OLENA)
    bot.press(OLENA, OLENA, message_id, f"dd:ack:{incident_id}")
    poller.poll_once()
    deliver(db, cfg)
    with db.session() as s:  # the same edit once more: Telegram says "not modified"
        edit = s.scalar(select(OutboxMessage).where(OutboxMessage.target == str(OLENA),
                                                    OutboxMessage.source_type
                                                    == "incident_chat_edit"))
        assert edit is not None and edit.status == "sent"
        edit.status, edit.attempts, edit.next_attempt_at = "pending", 0, utcnow()
        s.commit()
    deliver(db, cfg)
    with db.session() as s:
        assert s.get(OutboxMessage, edit.id).status == "sent"


def test_the_webhook_takes_only_updates_that_carry_the_secret_token(
    app: Any, db: Database, cfg: Settings, bot: BotApi, team: dict[str, Any]
) -> None:
    settings = dataclasses.replace(cfg, telegram_updates="webhook",
                                   telegram_webhook_secret="s3cret-Token_1")
    app.extensions["dutydesk"].settings = settings
    [job] = chat_jobs(settings, db)
    assert job.on_start is not None
    job.on_start()  # the worker registers the webhook with the secret token
    assert bot.webhook is not None and bot.webhook["secret_token"] == "s3cret-Token_1"
    assert bot.webhook["url"].endswith("/hooks/telegram")
    bot.webhook = None
    client = app.test_client()
    code = link_code(team["olena"])
    update = bot.say(OLENA, f"/link {code}")
    assert client.post("/hooks/telegram", json=update).status_code == 401
    assert client.post("/hooks/telegram", json=update, headers={
        "X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_0"}).status_code == 401
    assert bot.sent("sendMessage") == []
    ok = client.post("/hooks/telegram", json=update,
                     headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"})
    assert ok.status_code == 200
    assert "linked to" in bot.sent("sendMessage")[-1]["text"]
    bad = client.post("/hooks/telegram", data=b"[1, 2", content_type="application/json",
                      headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"})
    assert bad.status_code == 400


def test_the_webhook_is_not_there_when_polling(app: Any, cfg: Settings) -> None:
    assert app.test_client().post("/hooks/telegram", json={}).status_code == 404


def test_the_bot_token_never_reaches_the_log_or_the_delivery_record(
    db: Database, cfg: Settings, bot: BotApi, team: dict[str, Any],
    caplog: pytest.LogCaptureFixture
) -> None:
    dead = dataclasses.replace(cfg, telegram_api_url="http://127.0.0.1:9")  # nobody listens
    poller = Poller(db, dead, long_poll=0)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception) as raised:
        poller.poll_once()
    assert TOKEN not in str(raised.value)
    page_everybody(db, dead)
    with db.session() as s:
        errors = [m.last_error or "" for m in s.scalars(select(OutboxMessage))]
    assert errors and all(TOKEN not in e for e in errors)
    assert TOKEN not in caplog.text
