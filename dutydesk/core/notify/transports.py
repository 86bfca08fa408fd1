"""Transports: deliver one outbox message over email, webhook, Slack/Mattermost or Telegram.

Each transport returns an ``Outcome``; failures carry a ``Failure`` classified by the pure rules
in ``dutydesk.core.notify.delivery`` (permanent or transient, and for what scope). Receivers can
recognise a redelivery: webhooks get an ``Idempotency-Key`` header, mails a stable Message-ID.
Webhooks with a secret are signed (``dutydesk.core.notify.signing``: timestamp + HMAC).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from dutydesk.core import netguard
from dutydesk.core.config import Settings
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.delivery import (
    Failure,
    FailureKind,
    FailureScope,
    classify_exception,
    classify_http_status,
    classify_telegram,
)
from dutydesk.core.notify.signing import signed_headers
from dutydesk.core.pinned_http import Response

USER_AGENT = "DutyDesk-Notifier/1"
# Headers an enqueued mail may carry in ``options["headers"]`` (RFC 2369 / RFC 8058 lists;
# RFC 3834 ``Auto-Submitted`` on automatic answers, so other robots do not answer them).
MAIL_HEADERS = frozenset({"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Reply-To",
                          "Auto-Submitted"})
# ``options["message_id"]``: a Message-ID the sender chose (a page names its reply token in it).
_OWN_MESSAGE_ID = re.compile(r"^<[A-Za-z0-9._+=-]{1,200}@[A-Za-z0-9.-]{1,200}>$")


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    detail: str
    failure: Failure | None = None
    #: What the receiver told us about the delivered message (Telegram: ``chat_id`` and
    #: ``message_id``; Slack's Web API: ``channel`` and ``ts``), so it can be edited later.
    data: dict[str, Any] | None = None


Transport = Callable[[OutboxMessage, Settings], Outcome]


def message_id_digest(idempotency_key: str) -> str:
    """The local part of the Message-ID a mail with this idempotency key is sent with (so a
    reply's In-Reply-To can be traced back to why we sent it)."""
    return hashlib.sha256(idempotency_key[:200].encode()).hexdigest()[:32]


def message_id_for(message: OutboxMessage, settings: Settings) -> str:
    digest = message_id_digest(message.idempotency_key)
    host = settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "dutydesk"
    return f"<{digest}@{host}>"


def send_email(message: OutboxMessage, settings: Settings) -> Outcome:
    if not settings.smtp_host:
        return Outcome(
            False,
            "no SMTP server configured",
            classify_exception(ConnectionRefusedError("DUTYDESK_SMTP_HOST is not set")),
        )
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.target
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    own_id = str((message.options or {}).get("message_id") or "")
    mail["Message-ID"] = own_id if _OWN_MESSAGE_ID.match(own_id) else message_id_for(message,
                                                                                      settings)
    mail["X-DutyDesk-Idempotency-Key"] = message.idempotency_key
    for name, value in ((message.options or {}).get("headers") or {}).items():
        if name in MAIL_HEADERS:  # only list headers a sender may set; never From/To/...
            mail[name] = value
    mail.set_content(message.body_text or message.subject)
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html")
    try:
        smtp_class = smtplib.SMTP_SSL if settings.smtp_security == "ssl" else smtplib.SMTP
        kwargs: dict[str, Any] = {"timeout": settings.smtp_timeout}
        if settings.smtp_security == "ssl":
            kwargs["context"] = ssl.create_default_context()
        with smtp_class(settings.smtp_host, settings.smtp_port, **kwargs) as smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        failure = classify_exception(exc)
        return Outcome(False, failure.reason, failure)
    return Outcome(True, f"accepted by {settings.smtp_host}:{settings.smtp_port}")


def _post_json(
    message: OutboxMessage,
    settings: Settings,
    url: str,
    body: dict[str, Any],
    extra_headers: dict[str, str] | None = None,
) -> tuple[Response | None, Outcome | None]:
    data = json.dumps(body, ensure_ascii=False, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": message.idempotency_key,
        **(extra_headers or {}),
    }
    secret = (message.options or {}).get("signing_secret")
    if secret:  # signed per attempt: a fresh timestamp, the same Idempotency-Key
        headers.update(signed_headers(secret, int(time.time()), data))
    try:
        return http_post(url, data, headers, settings.webhook_timeout,
                         settings.outbound_allow), None
    except netguard.OutboundRefused as exc:
        # the URL itself is the problem: retrying cannot help
        refused = Failure(FailureKind.PERMANENT, FailureScope.CHANNEL, f"refused: {exc.reason}")
        return None, Outcome(False, refused.reason, refused)
    except (http.client.HTTPException, OSError, ValueError) as exc:
        failure = classify_exception(exc)
        return None, Outcome(False, failure.reason, failure)


def http_post(url: str, data: bytes, headers: dict[str, str], timeout: float,
              allowed: Iterable[str] = ()) -> Response:
    """The one place an outgoing HTTP request leaves DutyDesk's notifier (webhooks, chat hooks,
    Telegram): through ``netguard``, which refuses internal addresses unless ``allowed`` lists
    them and connects to the address it vetted (no DNS rebinding), over kept-alive connections.
    Redirects are not followed. Raises ``netguard.OutboundRefused`` for a refused URL,
    ``OSError`` or ``http.client.HTTPException`` on a network failure."""
    return netguard.post(url, data=data, headers=headers, timeout=timeout, allowed=allowed)


def _retry_after(response: Response) -> Any:
    from datetime import timedelta

    value = response.headers.get("Retry-After", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None


def _http_outcome(response: Response) -> Outcome:
    if 200 <= response.status_code < 300:
        return Outcome(True, f"HTTP {response.status_code}")
    failure = classify_http_status(response.status_code, _retry_after(response))
    return Outcome(False, failure.reason, failure)


def send_webhook(message: OutboxMessage, settings: Settings) -> Outcome:
    body = message.payload or {"subject": message.subject, "text": message.body_text}
    response, error = _post_json(message, settings, message.target, body)
    return error or _http_outcome(response)  # type: ignore[arg-type]


def send_slack(message: OutboxMessage, settings: Settings) -> Outcome:
    """Slack and Mattermost. A URL target (incoming webhook, or an interaction's
    ``response_url``) gets ``{"text": ...}`` plus what ``options["slack"]`` adds (``blocks``,
    ``attachments``, ``replace_original``); any other target is a Slack channel id, posted with
    the bot token through the Web API (``chat.postMessage``, or ``chat.update`` when
    ``options["slack"]`` names the message ``ts``)."""
    text = f"*{message.subject}*\n{message.body_text}" if message.subject else message.body_text
    extra = dict((message.options or {}).get("slack") or {})
    if message.target.startswith(("http://", "https://")):
        extra.pop("ts", None)
        response, error = _post_json(message, settings, message.target, {"text": text, **extra})
        return error or _http_outcome(response)  # type: ignore[arg-type]
    return _slack_web_api(message, settings, text, extra)


_SLACK_CHANNEL_ERRORS = frozenset({"channel_not_found", "is_archived", "not_in_channel",
                                   "message_not_found", "cant_update_message"})
_SLACK_SERVER_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked",
                                  "account_inactive", "missing_scope", "token_expired"})


def _slack_web_api(message: OutboxMessage, settings: Settings, text: str,
                   extra: dict[str, Any]) -> Outcome:
    if not settings.slack_bot_token:
        failure = Failure(FailureKind.PERMANENT, FailureScope.SERVER,
                          "DUTYDESK_SLACK_BOT_TOKEN is not set (needed for a channel id target)")
        return Outcome(False, failure.reason, failure)
    ts = extra.pop("ts", None)
    method = "chat.update" if ts else "chat.postMessage"
    body: dict[str, Any] = {"channel": message.target, "text": text[:40000], **extra}
    if ts:
        body["ts"] = ts
    response, error = _post_json(
        message, settings, f"{settings.slack_api_url.rstrip('/')}/{method}", body,
        {"Authorization": f"Bearer {settings.slack_bot_token}",
         "Content-Type": "application/json; charset=utf-8"},
    )
    if error is not None:
        return _without(error, settings.slack_bot_token)
    assert response is not None
    if response.status_code != 200:
        return _http_outcome(response)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if answer.get("ok"):
        return Outcome(True, f"Slack {method} ok",
                       data={"channel": answer.get("channel") or message.target,
                             "ts": answer.get("ts") or ts})
    code = str(answer.get("error") or "unknown_error")
    if code in _SLACK_CHANNEL_ERRORS:
        scope = FailureScope.MESSAGE if ts else FailureScope.CHANNEL
        failure = Failure(FailureKind.PERMANENT, scope, f"Slack {method}: {code}")
    elif code in _SLACK_SERVER_ERRORS:
        failure = Failure(FailureKind.PERMANENT, FailureScope.SERVER,
                          f"Slack {method}: {code} (check the bot token)")
    elif code in ("ratelimited", "internal_error", "fatal_error", "service_unavailable"):
        failure = Failure(FailureKind.TRANSIENT, FailureScope.NONE, f"Slack {method}: {code}")
    else:
        failure = Failure(FailureKind.PERMANENT, FailureScope.MESSAGE, f"Slack {method}: {code}")
    return Outcome(False, failure.reason, failure)


def _without(outcome: Outcome, secret: str) -> Outcome:
    """``outcome`` with ``secret`` removed from its texts (errors may quote the URL)."""
    if not secret or secret not in outcome.detail + (outcome.failure.reason
                                                     if outcome.failure else ""):
        return outcome
    failure = outcome.failure
    if failure is not None:
        failure = Failure(failure.kind, failure.scope, failure.reason.replace(secret, "<token>"),
                          failure.retry_after)
    return Outcome(outcome.ok, outcome.detail.replace(secret, "<token>"), failure, outcome.data)


#: Telegram methods an outbox message may ask for (``options["telegram"]["method"]``).
TELEGRAM_METHODS = ("sendMessage", "editMessageText", "editMessageReplyMarkup")


def send_telegram(message: OutboxMessage, settings: Settings) -> Outcome:
    """``sendMessage`` to the chat id in ``target``; ``options["telegram"]`` may add a
    ``reply_markup`` (inline keyboard) or ask for ``editMessageText`` /
    ``editMessageReplyMarkup`` of ``message_id``. An edit that changes nothing ("message is not
    modified") counts as done. A sent message's ``chat_id`` and ``message_id`` come back in
    ``Outcome.data``."""
    if not settings.telegram_bot_token:
        failure = classify_telegram(401, "DUTYDESK_TELEGRAM_BOT_TOKEN is not set")
        return Outcome(False, failure.reason, failure)
    extra = dict((message.options or {}).get("telegram") or {})
    method = str(extra.pop("method", "sendMessage"))
    if method not in TELEGRAM_METHODS:
        failure = Failure(FailureKind.PERMANENT, FailureScope.MESSAGE,
                          f"unknown Telegram method {method!r}")
        return Outcome(False, failure.reason, failure)
    url = f"{settings.telegram_api_url}/bot{settings.telegram_bot_token}/{method}"
    text = f"{message.subject}\n\n{message.body_text}".strip()
    body: dict[str, Any] = {"chat_id": message.target}
    if method != "editMessageReplyMarkup":
        body["text"] = text[:4096]
    body.update(extra)
    response, error = _post_json(message, settings, url, body)
    if error is not None:  # the token is part of the URL: never in the attempt log
        return _without(error, settings.telegram_bot_token)
    assert response is not None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code == 200 and answer.get("ok"):
        result = answer.get("result")
        data = None
        if isinstance(result, dict) and "message_id" in result:
            data = {"chat_id": str((result.get("chat") or {}).get("id", message.target)),
                    "message_id": result["message_id"]}
        return Outcome(True, f"Telegram {method} accepted", data=data)
    description = str(answer.get("description") or response.reason)
    if method != "sendMessage" and "message is not modified" in description.lower():
        return Outcome(True, "Telegram: the message already shows this")
    retry = (answer.get("parameters") or {}).get("retry_after")
    failure = classify_telegram(
        int(answer.get("error_code") or response.status_code),
        description,
        retry if isinstance(retry, int) else None,
    )
    if method != "sendMessage" and failure.scope is FailureScope.CHANNEL:
        # an edit of a message that is gone says nothing about the chat: keep the channel
        failure = Failure(failure.kind, FailureScope.MESSAGE, failure.reason)
    return Outcome(False, failure.reason, failure)


TRANSPORTS: dict[str, Transport] = {
    "email": send_email,
    "webhook": send_webhook,
    "slack": send_slack,
    "telegram": send_telegram,
}
