"""Outbox delivery decisions: is a failure permanent or transient, and when to try again.

The sender (shell) tries to deliver one outbox message, and on failure asks two pure questions:

1. *What kind of failure is this?* ``classify_smtp_reply``, ``classify_http_status``,
   ``classify_telegram`` and ``classify_exception`` answer with a ``Failure``: transient
   (worth retrying) or permanent, and for a permanent one its **scope**:

   - ``message``: this message cannot be delivered (too large, refused payload); drop it, keep
     the channel;
   - ``channel``: the contact method is dead (mailbox unknown, webhook URL gone, Telegram bot
     blocked by the user); disable it and tell an admin;
   - ``server``: our own transport is misconfigured (SMTP authentication, TLS certificate,
     Telegram bot token); keep users' channels, tell an admin.

2. *What now?* ``decide(policy, attempts_made, failure, now, random_value)`` returns a
   ``RetryDecision``: retry at a time computed with exponential backoff and jitter, or give up
   (permanent, or out of attempts), with whether to disable the channel and alert an admin.

Jitter is injected (``random_value`` in [0, 1)) so the decision is deterministic in tests.

Classification rules:

================  =====================================================  ==========  ========
transport         reply                                                  kind        scope
================  =====================================================  ==========  ========
SMTP              4xx (421, 450, 451, 452 ...)                           transient
SMTP              550, 551, 553, or enhanced status 5.1.x / 5.2.1        permanent   channel
SMTP              530, 534, 535, 538, or enhanced status 5.7.8 / 5.7.0   permanent   server
SMTP              552, 554 and other 5xx                                 permanent   message
HTTP              408 Request Timeout, 429 Too Many Requests             transient
HTTP              5xx                                                    transient
HTTP              400, 413, 415, 422 (the receiver refused this payload)  permanent   message
HTTP              other 4xx (401, 403, 404, 410 ...), 3xx (not followed)  permanent   channel
Telegram          403 (bot blocked/kicked, user deactivated)             permanent   channel
Telegram          400 "chat not found" / "user not found"                permanent   channel
Telegram          other 400 (message too long, bad markup)               permanent   message
Telegram          401, 404 (bad bot token)                               permanent   server
Telegram          429 (honours ``retry_after``), 5xx                     transient
network           timeout, connection refused/reset, DNS failure         transient
network           TLS certificate verification failure                   permanent   server
================  =====================================================  ==========  ========
"""

from __future__ import annotations

import enum
import re
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta

from dutydesk.core.timeutil import ensure_utc


class DeliveryPolicyError(ValueError):
    """A retry policy or decision input is invalid."""


class FailureKind(enum.StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class FailureScope(enum.StrEnum):
    NONE = "none"  # transient failures have no scope
    MESSAGE = "message"
    CHANNEL = "channel"
    SERVER = "server"


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified delivery failure; ``reason`` is shown in the attempt log."""

    kind: FailureKind
    scope: FailureScope
    reason: str
    retry_after: timedelta | None = None

    @property
    def permanent(self) -> bool:
        return self.kind is FailureKind.PERMANENT


def _transient(reason: str, retry_after: timedelta | None = None) -> Failure:
    return Failure(FailureKind.TRANSIENT, FailureScope.NONE, reason, retry_after)


def _permanent(scope: FailureScope, reason: str) -> Failure:
    return Failure(FailureKind.PERMANENT, scope, reason)


# --- classification -----------------------------------------------------------------------------

_ENHANCED_STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_RECIPIENT_CODES = frozenset({550, 551, 553})
_SMTP_AUTH_CODES = frozenset({530, 534, 535, 538})


def classify_smtp_reply(code: int, message: str = "") -> Failure:
    """Classify an SMTP error reply (``code`` 400..599, ``message`` the server's text)."""
    if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
        raise DeliveryPolicyError(f"SMTP error reply code must be 400..599, got {code!r}")
    text = f"SMTP {code} {message}".strip()
    if code < 500:
        return _transient(text)
    enhanced = _ENHANCED_STATUS_RE.search(message or "")
    if enhanced and enhanced.group(1) == "5":
        subject, detail = enhanced.group(2), enhanced.group(3)
        if subject == "1" or (subject, detail) == ("2", "1"):  # bad/disabled mailbox
            return _permanent(FailureScope.CHANNEL, text)
        if (subject, detail) in (("7", "8"), ("7", "0"), ("7", "9"), ("7", "11")):  # auth
            return _permanent(FailureScope.SERVER, text)
    if code in _SMTP_RECIPIENT_CODES:
        return _permanent(FailureScope.CHANNEL, text)
    if code in _SMTP_AUTH_CODES:
        return _permanent(FailureScope.SERVER, text)
    return _permanent(FailureScope.MESSAGE, text)


_HTTP_MESSAGE_CODES = frozenset({400, 413, 415, 422})


def classify_http_status(status: int, retry_after: timedelta | None = None) -> Failure:
    """Classify a non-2xx HTTP answer from a webhook / Slack / Mattermost receiver.

    ``retry_after`` is the parsed ``Retry-After`` header, honoured for 429 and 5xx.
    """
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise DeliveryPolicyError(f"HTTP status must be 100..599, got {status!r}")
    if 200 <= status < 300:
        raise DeliveryPolicyError(f"HTTP {status} is a success, not a failure")
    text = f"HTTP {status}"
    if status in (408, 429):
        return _transient(text, retry_after)
    if status >= 500:
        return _transient(text, retry_after)
    if status in _HTTP_MESSAGE_CODES:
        return _permanent(FailureScope.MESSAGE, f"{text}: the receiver refused this message")
    if status < 400:
        return _permanent(
            FailureScope.CHANNEL, f"{text}: redirects are not followed; update the URL"
        )
    return _permanent(FailureScope.CHANNEL, text)


def classify_telegram(
    error_code: int, description: str = "", retry_after_seconds: int | None = None
) -> Failure:
    """Classify a Telegram Bot API error (``{"ok": false, "error_code", "description",
    "parameters": {"retry_after"}}``)."""
    if isinstance(error_code, bool) or not isinstance(error_code, int):
        raise DeliveryPolicyError(f"Telegram error_code must be an integer, got {error_code!r}")
    text = f"Telegram {error_code}: {description}".rstrip(": ")
    lowered = (description or "").lower()
    if error_code == 429:
        delay = timedelta(seconds=retry_after_seconds) if retry_after_seconds else None
        return _transient(text, delay)
    if error_code >= 500:
        return _transient(text)
    if error_code == 403:
        return _permanent(FailureScope.CHANNEL, text)
    if error_code in (401, 404):
        return _permanent(FailureScope.SERVER, f"{text} (check the bot token)")
    if error_code == 400 and ("chat not found" in lowered or "user not found" in lowered):
        return _permanent(FailureScope.CHANNEL, text)
    if 400 <= error_code < 500:
        return _permanent(FailureScope.MESSAGE, text)
    raise DeliveryPolicyError(f"Telegram error_code must be 400..599, got {error_code}")


def classify_exception(error: BaseException) -> Failure:
    """Classify an exception raised while delivering (SMTP, HTTP client, socket).

    Walks the exception's cause chain (HTTP clients wrap socket and TLS errors). SMTP replies
    inside ``smtplib`` exceptions (``smtp_code``/``smtp_error``, or ``recipients`` for a refused
    recipient list) are classified like ``classify_smtp_reply``. Anything unrecognised is
    treated as transient: the attempt limit bounds the retries.
    """
    for item in _chain(error):
        code = getattr(item, "smtp_code", None)
        if isinstance(code, int) and 400 <= code <= 599:
            failure = classify_smtp_reply(code, _smtp_text(getattr(item, "smtp_error", b"")))
            if failure.permanent and hasattr(item, "sender"):
                # SMTPSenderRefused: our From address is refused, not the user's mailbox.
                return _permanent(FailureScope.SERVER, f"sender refused: {failure.reason}")
            return failure
        recipients = getattr(item, "recipients", None)
        if isinstance(recipients, dict) and recipients:
            # SMTPRecipientsRefused: {address: (code, message)}; the worst reply decides.
            failures = [
                classify_smtp_reply(reply[0], _smtp_text(reply[1]))
                for reply in recipients.values()
                if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[0], int)
            ]
            permanent = [f for f in failures if f.permanent]
            if permanent or failures:
                return (permanent or failures)[0]
        if isinstance(item, ssl.SSLCertVerificationError):
            return _permanent(FailureScope.SERVER, f"TLS certificate not trusted: {item}")
        if isinstance(item, TimeoutError):  # socket.timeout is an alias of it
            return _transient(f"timed out: {item}".rstrip(": "))
        if isinstance(item, socket.gaierror):
            return _transient(f"name resolution failed: {item}")
        if isinstance(item, ConnectionError):
            return _transient(f"connection failed: {item}")
    if isinstance(error, OSError):
        return _transient(f"network error: {error}")
    return _transient(f"unexpected error {type(error).__name__}: {error}")


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(seen) < 20:
        item = pending.pop(0)
        if any(item is known for known in seen):
            continue
        seen.append(item)
        # urllib3/requests keep the underlying error in args or .reason as well as __cause__.
        for linked in (item.__cause__, item.__context__, getattr(item, "reason", None), *item.args):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return seen


def _smtp_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value or "")


# --- retry decision -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base_delay × multiplier^(attempt-1)``, capped at ``max_delay``.

    ``jitter`` (0..1) is the share of each delay that is randomised: with 0.5 the delay falls in
    [50 %, 100 %] of the exponential value, which spreads retries from many workers.
    ``max_attempts`` counts every attempt, the first included.
    """

    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise DeliveryPolicyError(f"max_attempts must be an integer, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise DeliveryPolicyError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay <= timedelta(0):
            raise DeliveryPolicyError(f"base_delay must be positive, got {self.base_delay}")
        if self.max_delay < self.base_delay:
            raise DeliveryPolicyError(
                f"max_delay ({self.max_delay}) must be at least base_delay ({self.base_delay})"
            )
        if self.multiplier < 1:
            raise DeliveryPolicyError(f"multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise DeliveryPolicyError(f"jitter must be between 0 and 1, got {self.jitter}")


def backoff_delay(policy: RetryPolicy, attempts_made: int, random_value: float) -> timedelta:
    """Delay before the next attempt after ``attempts_made`` attempts (>= 1).

    ``random_value`` in [0, 1): 0 gives the full exponential delay, values towards 1 shorten it
    by up to ``jitter`` of it.
    """
    if isinstance(attempts_made, bool) or not isinstance(attempts_made, int) or attempts_made < 1:
        raise DeliveryPolicyError(f"attempts_made must be >= 1, got {attempts_made!r}")
    if not 0 <= random_value < 1:
        raise DeliveryPolicyError(f"random_value must be in [0, 1), got {random_value!r}")
    exponent = attempts_made - 1
    cap_seconds = policy.max_delay.total_seconds()
    raw = policy.base_delay.total_seconds()
    # Multiply step by step and stop at the cap: no overflow for absurd attempt numbers.
    for _ in range(exponent):
        raw *= policy.multiplier
        if raw >= cap_seconds:
            break
    raw = min(raw, cap_seconds)
    return timedelta(seconds=raw * (1 - policy.jitter * random_value))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """``retry`` with ``retry_at``, or give up; plus what else to do about it."""

    retry: bool
    retry_at: datetime | None
    reason: str
    disable_channel: bool
    alert_admin: bool


def decide(
    policy: RetryPolicy,
    attempts_made: int,
    failure: Failure,
    now: datetime,
    random_value: float,
) -> RetryDecision:
    """What to do after attempt number ``attempts_made`` failed with ``failure``.

    Permanent → give up now (disable the channel for ``channel`` scope; always alert an admin).
    Transient → retry after the backoff delay (at least the server's ``retry_after``), unless
    ``max_attempts`` is used up, then give up and alert an admin.
    """
    now = ensure_utc(now, "now")
    if failure.permanent:
        return RetryDecision(
            retry=False,
            retry_at=None,
            reason=f"permanent failure ({failure.scope.value}): {failure.reason}",
            disable_channel=failure.scope is FailureScope.CHANNEL,
            alert_admin=True,
        )
    if attempts_made >= policy.max_attempts:
        return RetryDecision(
            retry=False,
            retry_at=None,
            reason=f"gave up after {attempts_made} attempts; last error: {failure.reason}",
            disable_channel=False,
            alert_admin=True,
        )
    delay = backoff_delay(policy, attempts_made, random_value)
    if failure.retry_after is not None and failure.retry_after > delay:
        delay = failure.retry_after
    return RetryDecision(
        retry=True,
        retry_at=now + delay,
        reason=f"transient failure, attempt {attempts_made} of {policy.max_attempts}: "
        f"{failure.reason}",
        disable_channel=False,
        alert_admin=False,
    )
