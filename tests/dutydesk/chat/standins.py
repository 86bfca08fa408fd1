"""Local stand-ins for the chat services (the real ones are not reachable from tests).

``BotApi`` speaks the Telegram Bot API subset DutyDesk uses — getUpdates (offset, long-poll
timeout), sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery, setWebhook —
at ``/bot<token>/<method>``, answering with the documented shapes recorded in
``data/telegram_bot_api.json``. A wrong token gets 401 like the real API. Tests push updates
(``press``, ``say``) and read what the bot did (``calls``, ``chats``).

``SlackApi`` answers chat.postMessage / chat.update at ``/api/<method>`` (Bearer token checked)
and keeps what reached ``/response/<n>`` (interaction response URLs) and ``/hooks/<name>``
(incoming webhooks); ``users.info`` shows the addresses set in ``emails``.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

DATA = Path(__file__).parent / "data"
TELEGRAM = json.loads((DATA / "telegram_bot_api.json").read_text())
SLACK = json.loads((DATA / "slack_api.json").read_text())


class _Server:
    def _serve(self) -> str:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = owner.answer(self.path, dict(self.headers), raw)
                data = json.dumps(answer).encode() if not isinstance(answer, bytes) else answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BotApi(_Server):
    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 100
        self.next_message_id = 500
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.chats: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, message id) → message
        self.webhook: dict[str, Any] | None = None
        self.url = self._serve()

    # --- what the bot sees ------------------------------------------------------------------

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        prefix, _, method = path.lstrip("/").partition("/")
        if prefix != f"bot{self.token}":
            return 401, TELEGRAM["unauthorized"]
        body = json.loads(raw or b"{}")
        with self.lock:
            self.calls.append((method, body))
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return handler(body)

    def _getUpdates(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.webhook is not None:
            return 409, TELEGRAM["conflict"]
        deadline = time.monotonic() + min(float(body.get("timeout", 0)), 5.0)
        offset = int(body.get("offset", 0))
        with self.lock:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self.lock.wait(deadline - time.monotonic())
            return 200, {"ok": True, "result": list(self.updates)}

    def _sendMessage(self, body: dict[str, Any]) -> tuple[int, Any]:
        chat_id = int(body["chat_id"])
        if chat_id == 404:
            return 400, TELEGRAM["chat_not_found"]
        message = copy.deepcopy(TELEGRAM["message"])
        with self.lock:
            self.next_message_id += 1
            message.update(message_id=self.next_message_id, text=body.get("text", ""))
            message["chat"]["id"] = chat_id
            if body.get("reply_markup"):
                message["reply_markup"] = body["reply_markup"]
            self.chats[(chat_id, self.next_message_id)] = message
        return 200, {"ok": True, "result": message}

    def _edit(self, body: dict[str, Any], text: bool) -> tuple[int, Any]:
        key = (int(body["chat_id"]), int(body["message_id"]))
        with self.lock:
            message = self.chats.get(key)
            if message is None:
                return 400, TELEGRAM["message_not_found"]
            new_text = body.get("text", message["text"]) if text else message["text"]
            markup = body.get("reply_markup")
            if new_text == message["text"] and markup == message.get("reply_markup"):
                return 400, TELEGRAM["not_modified"]
            message["text"] = new_text
            message["reply_markup"] = markup
            message["edit_date"] = int(time.time())
        return 200, {"ok": True, "result": message}

    def _editMessageText(self, body: dict[str, Any]) -> tuple[int, Any]:
        return self._edit(body, text=True)

    def _editMessageReplyMarkup(self, body: dict[str, Any]) -> tuple[int, Any]:
        return self._edit(body, text=False)

    def _answerCallbackQuery(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, TELEGRAM["ok"]

    def _setWebhook(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.webhook = body
        return 200, TELEGRAM["set_webhook"]

    # --- what people do in Telegram ---------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.next_update_id += 1
            update["update_id"] = self.next_update_id
            self.updates.append(update)
            self.lock.notify_all()
        return update

    def say(self, user_id: int, text: str, *, chat_id: int | None = None,
            username: str = "olena_k", reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """A person writes ``text`` to the bot (in their private chat unless ``chat_id``),
        perhaps as a reply to one of the bot's messages (``reply_to``)."""
        update = copy.deepcopy(TELEGRAM["text_update"])
        message = update["message"]
        message["from"]["id"], message["from"]["username"] = user_id, username
        message["chat"]["id"] = chat_id or user_id
        message["chat"]["type"] = "private" if chat_id is None else "group"
        message["text"] = text
        message["message_id"] = self.next_message_id + 1000
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(reply_to)
        return self._push(update)

    def press(self, user_id: int, chat_id: int, message_id: int, data: str) -> dict[str, Any]:
        """A person presses an inline button of the bot's message."""
        update = copy.deepcopy(TELEGRAM["callback_update"])
        query = update["callback_query"]
        query["id"] = f"cbq-{self.next_update_id + 1}"
        query["from"]["id"] = user_id
        query["data"] = data
        query["message"] = copy.deepcopy(self.chats[(chat_id, message_id)])
        return self._push(update)

    def sent(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for name, body in self.calls if name == method]


class SlackApi(_Server):
    def __init__(self, bot_token: str) -> None:
        self.bot_token = bot_token
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.next_ts = 1796612400
        self.emails: dict[str, str] = {}  # Slack user id → the address users.info shows
        self.url = self._serve()

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            body: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        else:
            body = json.loads(raw or b"{}")
        with self.lock:
            self.calls.append((path, body, headers))
        if path.startswith("/api/"):
            if headers.get("Authorization") != f"Bearer {self.bot_token}":
                return 200, SLACK["invalid_auth"]
            if body.get("channel") == "C0GONE":
                return 200, SLACK["channel_not_found"]
            if path == "/api/chat.postMessage":
                with self.lock:
                    self.next_ts += 1
                    answer = copy.deepcopy(SLACK["post_message"])
                answer["channel"], answer["ts"] = body["channel"], f"{self.next_ts}.000100"
                answer["message"]["ts"] = answer["ts"]
                return 200, answer
            if path == "/api/users.info":
                email = self.emails.get(body.get("user", ""))
                if email is None:
                    return 200, {"ok": False, "error": "user_not_found"}
                answer = copy.deepcopy(SLACK["users_info"])
                answer["user"]["id"], answer["user"]["profile"]["email"] = body["user"], email
                return 200, answer
            if path == "/api/chat.update":
                answer = copy.deepcopy(SLACK["update"])
                answer.update(channel=body["channel"], ts=body["ts"], text=body.get("text", ""))
                return 200, answer
            return 200, {"ok": False, "error": "unknown_method"}
        return 200, b"ok"

    def at(self, prefix: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for path, body, _h in self.calls if path.startswith(prefix)]
