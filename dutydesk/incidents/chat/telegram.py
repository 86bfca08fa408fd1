"""The Telegram bot: button presses and link codes, heard by long polling or by webhook.

``handle_update`` turns one Bot API ``Update`` into what it changes (in the caller's session) and
the replies to send once that is committed (``Reply``: answerCallbackQuery, sendMessage,
editMessageText). Both ways of hearing updates use it:

- **long polling** (``Poller``, a worker thread): ``getUpdates`` with the stored offset and a
  long-poll timeout; each update is handled and the offset advanced in one transaction, so a
  crash replays at most the update in hand (and a replayed press is refused harmlessly: "already
  acknowledged by you"). One worker polls at a time (a lease in ``chat_state``, compare-and-set),
  since Telegram allows one ``getUpdates`` consumer per bot;
- **webhook** (``/hooks/telegram`` in the web shell): ``set_webhook`` registers
  ``<base_url>/hooks/telegram`` with a ``secret_token``; the endpoint compares the
  ``X-Telegram-Bot-Api-Secret-Token`` header in constant time (``secret_ok``).

Calls to the Bot API go through ``netguard`` (``transports.http_post``); the bot token is part of
every URL, so it is removed from anything logged or shown.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.core import netguard
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.transports import USER_AGENT, http_post
from dutydesk.incidents.chat.acting import Answer, press
from dutydesk.incidents.chat.links import LinkError, linked_user, may_act, redeem_code
from dutydesk.incidents.chat.models import ChatLink, ChatState
from dutydesk.incidents.chat.refresh import note_message
from dutydesk.incidents.chat.render import page_text, parse_callback, telegram_keyboard
from dutydesk.incidents.lifecycle import Action, LifecycleError
from dutydesk.incidents.models import ContactMethod
from dutydesk.incidents.store import IncidentNotFound

log = logging.getLogger("dutydesk.incidents.chat.telegram")

ALLOWED_UPDATES = ["message", "callback_query"]
OFFSET_KEY = "telegram_offset"
POLLER_KEY = "telegram_poller"
LONG_POLL_SECONDS = 20
POLLER_LEASE = timedelta(seconds=LONG_POLL_SECONDS * 3)
NOTE_PROMPT = ("#{id} resolved. Reply to this message with what was done: it is added to the "
               "incident as your note.")
_PROMPT = re.compile(r"^#(\d{1,12}) resolved\. Reply to this message")
HELP = ("DutyDesk bot. Link your Telegram account: get a code on your DutyDesk profile "
        "(Notifications) and send /link CODE here. Then the buttons on incident pages act as you. "
        "/unlink removes the link.")


class TelegramError(RuntimeError):
    """A Bot API call failed; the message never contains the bot token."""


@dataclass(frozen=True, slots=True)
class Reply:
    method: str
    body: dict[str, Any]


def redact(text: str, settings: Settings) -> str:
    token = settings.telegram_bot_token
    return text.replace(token, "<bot token>") if token else text


def api_call(settings: Settings, method: str, body: dict[str, Any],
             timeout: float | None = None) -> Any:
    """Call ``method`` with a JSON body; the ``result`` or ``TelegramError``."""
    url = f"{settings.telegram_api_url.rstrip('/')}/bot{settings.telegram_bot_token}/{method}"
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    try:
        response = http_post(url, data, headers, timeout or settings.webhook_timeout,
                             settings.outbound_allow)
        answer = response.json()
    except netguard.OutboundRefused as exc:
        raise TelegramError(f"{method}: refused: {exc.reason}") from None
    except (requests.RequestException, OSError, ValueError) as exc:
        raise TelegramError(redact(f"{method}: {type(exc).__name__}: {exc}", settings)) from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        description = answer.get("description") if isinstance(answer, dict) else None
        raise TelegramError(redact(f"{method}: {description or response.status_code}", settings))
    return answer.get("result")


def secret_ok(settings: Settings, header: str | None) -> bool:
    """The webhook's ``X-Telegram-Bot-Api-Secret-Token`` matches (constant time)."""
    expected = settings.telegram_webhook_secret
    return bool(expected) and hmac.compare_digest(expected.encode(), (header or "").encode())


def set_webhook(settings: Settings) -> None:
    """Register ``<base_url>/hooks/telegram`` with the secret token (worker start, webhook mode)."""
    api_call(settings, "setWebhook", {
        "url": f"{settings.base_url.rstrip('/')}/hooks/telegram",
        "secret_token": settings.telegram_webhook_secret,
        "allowed_updates": ALLOWED_UPDATES,
    })


# --- handling one update ------------------------------------------------------------------------


def _command(text: str) -> tuple[str, str]:
    """``"/link@DutyBot ABCD-EFGH"`` → ``("/link", "ABCD-EFGH")``."""
    head, _, rest = (text or "").strip().partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


def handle_update(session: Session, settings: Settings, update_: dict[str, Any],
                  now: datetime) -> list[Reply]:
    """What one update changes (in ``session``, not committed) and the replies to send after
    the commit. Unknown kinds of update are ignored."""
    if isinstance(update_.get("callback_query"), dict):
        return _callback(session, settings, update_["callback_query"], now)
    if isinstance(update_.get("message"), dict):
        return _message(session, settings, update_["message"], now)
    return []


def _callback(session: Session, settings: Settings, query: dict[str, Any],
              now: datetime) -> list[Reply]:
    query_id = str(query.get("id", ""))
    sender = (query.get("from") or {}).get("id")
    parsed = parse_callback(str(query.get("data") or ""))
    if parsed is None or sender is None:
        return [_answer(query_id, "This button is not one of DutyDesk's.", alert=True)]
    button, incident_id = parsed
    answer: Answer = press(session, settings, "telegram", str(sender), button, incident_id, now)
    replies = [_answer(query_id, answer.text, alert=not answer.ok)]
    message = query.get("message") or {}
    chat_id = (message.get("chat") or {}).get("id")
    message_id = message.get("message_id")
    if answer.ok and chat_id is not None and message_id is not None:
        # a press on a message we did not store (sent before, forwarded) is edited from now on
        note_message(session, incident_id, "telegram", str(chat_id), str(message_id), now)
    if answer.ok and chat_id is not None and button.action is Action.RESOLVE:
        replies.append(Reply("sendMessage", {  # the note can follow: reply to this message
            "chat_id": chat_id, "text": NOTE_PROMPT.format(id=incident_id),
            "reply_markup": {"force_reply": True,
                             "input_field_placeholder": "What was done?"}}))
    elif not answer.ok and answer.incident is not None and chat_id is not None \
            and message_id is not None:
        # the message was stale (changed elsewhere): show where the incident stands now
        replies.append(Reply("editMessageText", {
            "chat_id": chat_id, "message_id": message_id,
            "text": page_text(answer.incident, settings.base_url),
            "reply_markup": telegram_keyboard(answer.incident, settings.base_url)}))
    return replies


def _answer(query_id: str, text: str, *, alert: bool) -> Reply:
    return Reply("answerCallbackQuery",
                 {"callback_query_id": query_id, "text": text[:200], "show_alert": alert})


def _message(session: Session, settings: Settings, message: dict[str, Any],
             now: datetime) -> list[Reply]:
    chat = message.get("chat") or {}
    sender = message.get("from") or {}
    chat_id, sender_id = chat.get("id"), sender.get("id")
    if chat_id is None or sender_id is None:
        return []
    prompt = _note_prompt(settings, message.get("reply_to_message"))
    if prompt is not None and str(message.get("text") or "").strip():
        return _add_note(session, settings, prompt, str(sender_id), chat_id,
                         str(message["text"]).strip(), now)
    command, argument = _command(str(message.get("text") or ""))
    if not command.startswith("/"):
        return []

    def say(text: str) -> list[Reply]:
        return [Reply("sendMessage", {"chat_id": chat_id, "text": text})]

    if command in ("/start", "/link"):
        if not argument:
            return say(HELP)
        label = "@" + sender["username"] if sender.get("username") else str(
            sender.get("first_name") or sender_id)
        try:
            linked = redeem_code(session, argument, "telegram", str(sender_id), now, label=label)
        except LinkError as exc:
            return say(f"Not linked: {exc}.")
        text = f"Done: this Telegram account is now linked to {linked.user.email}."
        if chat.get("type") == "private" and _add_chat_method(session, linked.user.id,
                                                              str(chat_id)):
            text += (" This chat was added to your contact methods, so pages can reach you "
                     "here; set rules for it on your DutyDesk profile.")
        return say(text)
    if command == "/unlink":
        user = linked_user(session, "telegram", str(sender_id))
        if user is None:
            return say("This Telegram account is not linked to DutyDesk.")
        row = session.scalar(select(ChatLink).where(ChatLink.provider == "telegram",
                                                    ChatLink.external_id == str(sender_id)))
        if row is not None:
            session.delete(row)
        return say(f"Unlinked from {user.email}. Buttons pressed here no longer act.")
    if command in ("/help", "/whoami"):
        user = linked_user(session, "telegram", str(sender_id))
        return say(HELP + (f"\nLinked to: {user.email}." if user else "\nNot linked yet."))
    return []


def _note_prompt(settings: Settings, replied: Any) -> int | None:
    """The incident id when ``replied`` is our own "reply with a note" prompt (sent by this
    bot: its user id is the token's first part), else ``None``."""
    if not isinstance(replied, dict):
        return None
    bot_id = settings.telegram_bot_token.split(":", 1)[0]
    if str((replied.get("from") or {}).get("id")) != bot_id:
        return None
    match = _PROMPT.match(str(replied.get("text") or ""))
    return int(match.group(1)) if match else None


def _add_note(session: Session, settings: Settings, incident_id: int, sender_id: str,
              chat_id: Any, text: str, now: datetime) -> list[Reply]:
    """A reply to the prompt becomes the linked person's note on the incident."""
    from dutydesk.core.models.accounts import Role
    from dutydesk.core.security import Principal
    from dutydesk.incidents import service

    def say(reply: str) -> list[Reply]:
        return [Reply("sendMessage", {"chat_id": chat_id, "text": reply})]

    user = linked_user(session, "telegram", sender_id)
    refused = may_act(user) if user is not None else "not linked"
    if user is None or refused:
        return say(f"Not added: {refused}.")
    who = Principal(kind="user", role=Role(user.role), label=user.email, user=user)
    try:
        service.perform(session, who, incident_id, Action.NOTE, now, settings=settings,
                        text=text[:4000])
    except (IncidentNotFound, LifecycleError) as exc:
        return say(f"Not added: {exc}.")
    return say(f"Note added to #{incident_id} as {user.email}.")


def _add_chat_method(session: Session, user_id: int, chat_id: str) -> bool:
    exists = session.scalar(select(ContactMethod.id).where(
        ContactMethod.user_id == user_id, ContactMethod.kind == "telegram",
        ContactMethod.target == chat_id))
    if exists is not None:
        return False
    session.add(ContactMethod(user_id=user_id, kind="telegram", target=chat_id, enabled=True))
    return True


def send_replies(settings: Settings, replies: list[Reply]) -> int:
    """Send the replies (after the commit); failures are logged, never raised. Returns sent."""
    sent = 0
    for reply in replies:
        try:
            api_call(settings, reply.method, reply.body)
            sent += 1
        except TelegramError as exc:
            log.warning("telegram reply failed: %s", exc)
    return sent


def process_update(db: Database, settings: Settings, update_: dict[str, Any],
                   now: datetime | None = None, *, offset: bool = False) -> list[Reply]:
    """Handle one update in its own transaction (with ``offset``: advance the stored polling
    offset in the same transaction) and return the replies to send. A handler bug is logged
    and the update skipped, so one bad update never blocks the ones behind it."""
    now = now or utcnow()
    update_id = update_.get("update_id")
    try:
        with db.session() as s:
            replies = handle_update(s, settings, update_, now)
            if offset and isinstance(update_id, int):
                _store(s, OFFSET_KEY, str(update_id + 1))
            s.commit()
        return replies
    except Exception:
        log.exception("telegram update %s could not be handled; skipped", update_id)
        if offset and isinstance(update_id, int):
            with db.session() as s:
                _store(s, OFFSET_KEY, str(update_id + 1))
                s.commit()
        return []


# --- long polling -------------------------------------------------------------------------------


def _store(session: Session, key: str, value: str) -> None:
    row = session.get(ChatState, key)
    if row is None:
        session.add(ChatState(key=key, value=value))
    else:
        row.value = value
    session.flush()


def stored_offset(session: Session) -> int:
    row = session.get(ChatState, OFFSET_KEY)
    return int(row.value) if row is not None and row.value.lstrip("-").isdigit() else 0


def claim_poller(session: Session, owner: str, now: datetime) -> bool:
    """Compare-and-set the polling lease: ours when free, expired or already ours."""
    result = session.execute(
        update(ChatState)
        .where(ChatState.key == POLLER_KEY,
               (ChatState.owner == owner) | ChatState.lease_until.is_(None)
               | (ChatState.lease_until < now))
        .values(owner=owner, lease_until=now + POLLER_LEASE)
        .execution_options(synchronize_session=False))
    if result.rowcount == 1:
        session.commit()
        return True
    if session.get(ChatState, POLLER_KEY) is not None:
        session.rollback()
        return False
    try:
        session.add(ChatState(key=POLLER_KEY, value="", owner=owner,
                              lease_until=now + POLLER_LEASE))
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


class Poller:
    """Long-polls ``getUpdates`` in a daemon thread while the worker runs (``start``/``stop``)."""

    def __init__(self, db: Database, settings: Settings, *, name: str | None = None,
                 long_poll: int = LONG_POLL_SECONDS,
                 clock: Callable[[], datetime] = utcnow) -> None:
        from dutydesk.core.notify.dispatcher import sender_name

        self.db, self.settings, self.long_poll, self.clock = db, settings, long_poll, clock
        self.name = name or sender_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """One ``getUpdates`` round (when this process holds the lease); returns updates
        handled."""
        with self.db.session() as s:
            if not claim_poller(s, self.name, self.clock()):
                return 0
            offset = stored_offset(s)
        updates = api_call(self.settings, "getUpdates",
                           {"offset": offset, "timeout": self.long_poll,
                            "allowed_updates": ALLOWED_UPDATES},
                           timeout=self.long_poll + self.settings.webhook_timeout)
        handled = 0
        for item in updates or []:
            if not isinstance(item, dict) or not isinstance(item.get("update_id"), int):
                continue
            send_replies(self.settings, process_update(self.db, self.settings, item,
                                                       self.clock(), offset=True))
            handled += 1
        return handled

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if self.poll_once() == 0 and self.long_poll == 0:
                    self._stop.wait(1.0)
                failures = 0
            except Exception as exc:  # the API or the database away: back off and try again
                failures += 1
                log.warning("telegram polling failed: %s", redact(str(exc), self.settings))
                self._stop.wait(min(60.0, 2.0 ** min(failures, 6)))

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="telegram-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling; a long poll in flight ends by itself (daemon thread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self.db.session() as s:  # hand the lease on at once
            s.execute(update(ChatState).where(ChatState.key == POLLER_KEY,
                                              ChatState.owner == self.name)
                      .values(owner=None, lease_until=None))
            s.commit()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

