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
# Headers an enqueued mail may carry in ``options["headers"]`` (RFC 2369 / RFC 8058 lists).
MAIL_HEADERS = frozenset({"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"})


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    detail: str
    failure: Failure | None = None


Transport = Callable[[OutboxMessage, Settings], Outcome]


def message_id_for(message: OutboxMessage, settings: Settings) -> str:
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
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
    mail["Message-ID"] = message_id_for(message, settings)
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
    """Slack and Mattermost incoming webhooks both take ``{"text": ...}`` (Markdown-ish)."""
    text = f"*{message.subject}*\n{message.body_text}" if message.subject else message.body_text
    response, error = _post_json(message, settings, message.target, {"text": text})
    return error or _http_outcome(response)  # type: ignore[arg-type]


def send_telegram(message: OutboxMessage, settings: Settings) -> Outcome:
    if not settings.telegram_bot_token:
        failure = classify_telegram(401, "DUTYDESK_TELEGRAM_BOT_TOKEN is not set")
        return Outcome(False, failure.reason, failure)
    url = f"{settings.telegram_api_url}/bot{settings.telegram_bot_token}/sendMessage"
    text = f"{message.subject}\n\n{message.body_text}".strip()
    response, error = _post_json(
        message, settings, url, {"chat_id": message.target, "text": text[:4096]}
    )
    if error is not None:
        return error
    assert response is not None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code == 200 and answer.get("ok"):
        return Outcome(True, "Telegram accepted")
    retry = (answer.get("parameters") or {}).get("retry_after")
    failure = classify_telegram(
        int(answer.get("error_code") or response.status_code),
        str(answer.get("description") or response.reason),
        retry if isinstance(retry, int) else None,
    )
    return Outcome(False, failure.reason, failure)


TRANSPORTS: dict[str, Transport] = {
    "email": send_email,
    "webhook": send_webhook,
    "slack": send_slack,
    "telegram": send_telegram,
}
