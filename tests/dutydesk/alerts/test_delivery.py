"""Outbox delivery decisions: error classification and retry with backoff and injected jitter."""

from __future__ import annotations

import smtplib
import socket
import ssl
from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.core.notify.delivery import (
    DeliveryPolicyError,
    Failure,
    FailureKind,
    FailureScope,
    RetryPolicy,
    backoff_delay,
    classify_exception,
    classify_http_status,
    classify_smtp_reply,
    classify_telegram,
    decide,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T, P = FailureKind.TRANSIENT, FailureKind.PERMANENT
NONE, MESSAGE, CHANNEL, SERVER = (
    FailureScope.NONE,
    FailureScope.MESSAGE,
    FailureScope.CHANNEL,
    FailureScope.SERVER,
)


@pytest.mark.parametrize(
    ("code", "message", "kind", "scope"),
    [
        pytest.param(421, "Service not available", T, NONE, id="421-server-busy"),
        pytest.param(450, "4.2.1 Mailbox busy", T, NONE, id="450-mailbox-busy"),
        pytest.param(451, "4.7.1 Greylisted, try later", T, NONE, id="451-greylisting"),
        pytest.param(452, "Too many recipients", T, NONE, id="452-insufficient-storage"),
        pytest.param(550, "5.1.1 User unknown", P, CHANNEL, id="550-unknown-mailbox"),
        pytest.param(551, "User not local", P, CHANNEL, id="551-not-local"),
        pytest.param(553, "Mailbox name not allowed", P, CHANNEL, id="553-bad-name"),
        pytest.param(554, "5.1.2 Bad destination system", P, CHANNEL, id="554-enhanced-5-1-x"),
        pytest.param(
            535, "5.7.8 Authentication credentials invalid", P, SERVER, id="535-auth-failed"
        ),
        pytest.param(530, "Must issue a STARTTLS command first", P, SERVER, id="530-need-tls"),
        pytest.param(552, "Message size exceeds fixed limit", P, MESSAGE, id="552-too-big"),
        pytest.param(554, "5.7.1 Message rejected as spam", P, MESSAGE, id="554-spam"),
    ],
)
def test_smtp_replies(code, message, kind, scope):
    failure = classify_smtp_reply(code, message)
    assert (failure.kind, failure.scope) == (kind, scope)
    assert str(code) in failure.reason and message in failure.reason


@pytest.mark.parametrize(
    ("status", "kind", "scope"),
    [
        pytest.param(408, T, NONE, id="408-request-timeout-is-transient"),
        pytest.param(429, T, NONE, id="429-rate-limited-is-transient"),
        pytest.param(500, T, NONE, id="500"),
        pytest.param(502, T, NONE, id="502-bad-gateway"),
        pytest.param(503, T, NONE, id="503-unavailable"),
        pytest.param(400, P, MESSAGE, id="400-payload-refused"),
        pytest.param(413, P, MESSAGE, id="413-payload-too-large"),
        pytest.param(422, P, MESSAGE, id="422-unprocessable"),
        pytest.param(401, P, CHANNEL, id="401-bad-credentials"),
        pytest.param(403, P, CHANNEL, id="403-forbidden"),
        pytest.param(404, P, CHANNEL, id="404-webhook-gone"),
        pytest.param(410, P, CHANNEL, id="410-slack-channel-archived"),
        pytest.param(301, P, CHANNEL, id="301-redirect-not-followed"),
    ],
)
def test_http_statuses(status, kind, scope):
    failure = classify_http_status(status)
    assert (failure.kind, failure.scope) == (kind, scope)


def test_http_retry_after_is_kept_for_transient_answers():
    assert classify_http_status(429, timedelta(seconds=90)).retry_after == timedelta(seconds=90)


@pytest.mark.parametrize("status", [200, 204, 99, 600, True], ids=str)
def test_http_success_or_nonsense_is_not_a_failure(status):
    with pytest.raises(DeliveryPolicyError):
        classify_http_status(status)


@pytest.mark.parametrize(
    ("code", "description", "kind", "scope"),
    [
        pytest.param(
            403, "Forbidden: bot was blocked by the user", P, CHANNEL, id="bot-blocked-by-user"
        ),
        pytest.param(
            403, "Forbidden: bot was kicked from the group chat", P, CHANNEL, id="bot-kicked"
        ),
        pytest.param(403, "Forbidden: user is deactivated", P, CHANNEL, id="user-deactivated"),
        pytest.param(400, "Bad Request: chat not found", P, CHANNEL, id="chat-not-found"),
        pytest.param(400, "Bad Request: message is too long", P, MESSAGE, id="message-too-long"),
        pytest.param(400, "Bad Request: can't parse entities", P, MESSAGE, id="bad-markup"),
        pytest.param(401, "Unauthorized", P, SERVER, id="bad-bot-token"),
        pytest.param(404, "Not Found", P, SERVER, id="token-path-not-found"),
        pytest.param(429, "Too Many Requests: retry after 17", T, NONE, id="flood-control"),
        pytest.param(502, "Bad Gateway", T, NONE, id="telegram-down"),
    ],
)
def test_telegram_errors(code, description, kind, scope):
    failure = classify_telegram(code, description, retry_after_seconds=17)
    assert (failure.kind, failure.scope) == (kind, scope)


def test_telegram_flood_control_carries_retry_after():
    failure = classify_telegram(429, "Too Many Requests: retry after 17", 17)
    assert failure.retry_after == timedelta(seconds=17)


class _HttpClientError(OSError):
    """Shaped like requests/urllib3 errors: the real cause sits in args and __cause__."""


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise _HttpClientError(exc) from exc
    except _HttpClientError as outer:
        return outer


@pytest.mark.parametrize(
    ("error", "kind", "scope", "reason"),
    [
        pytest.param(TimeoutError("timed out"), T, NONE, "timed out", id="timeout"),
        pytest.param(
            ConnectionRefusedError(111, "Connection refused"),
            T,
            NONE,
            "connection failed",
            id="refused",
        ),
        pytest.param(
            ConnectionResetError(104, "reset by peer"), T, NONE, "connection failed", id="reset"
        ),
        pytest.param(
            socket.gaierror(-2, "Name or service not known"),
            T,
            NONE,
            "name resolution failed",
            id="dns",
        ),
        pytest.param(
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            P,
            SERVER,
            "TLS certificate not trusted",
            id="tls-cert",
        ),
        pytest.param(
            _wrapped(ssl.SSLCertVerificationError(1, "certificate verify failed")),
            P,
            SERVER,
            "TLS certificate not trusted",
            id="tls-cert-wrapped",
        ),
        pytest.param(
            _wrapped(TimeoutError("read timed out")), T, NONE, "timed out", id="timeout-wrapped"
        ),
        pytest.param(
            smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
            T,
            NONE,
            "network error",
            id="smtp-disconnected",
        ),
        pytest.param(
            smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"),
            P,
            SERVER,
            "SMTP 535",
            id="smtp-auth",
        ),
        pytest.param(
            smtplib.SMTPRecipientsRefused({"a@x": (550, b"5.1.1 No such user")}),
            P,
            CHANNEL,
            "SMTP 550",
            id="smtp-recipient-refused",
        ),
        pytest.param(
            smtplib.SMTPRecipientsRefused({"a@x": (451, b"Try later")}),
            T,
            NONE,
            "SMTP 451",
            id="smtp-recipient-deferred",
        ),
        pytest.param(
            smtplib.SMTPSenderRefused(553, b"Sender address rejected", "dd@x"),
            P,
            SERVER,
            "sender refused",
            id="smtp-sender-refused-is-our-config",
        ),
        pytest.param(
            smtplib.SMTPDataError(452, b"Insufficient storage"),
            T,
            NONE,
            "SMTP 452",
            id="smtp-data-deferred",
        ),
        pytest.param(ValueError("bug"), T, NONE, "unexpected error ValueError", id="unknown"),
    ],
)
def test_exceptions(error, kind, scope, reason):
    failure = classify_exception(error)
    assert (failure.kind, failure.scope) == (kind, scope)
    assert reason in failure.reason


POLICY = RetryPolicy(
    max_attempts=5,
    base_delay=timedelta(seconds=30),
    max_delay=timedelta(minutes=5),
    multiplier=2,
    jitter=0.5,
)


@pytest.mark.parametrize(
    ("attempts", "random_value", "seconds"),
    [
        pytest.param(1, 0.0, 30, id="first-retry-full-base-delay"),
        pytest.param(2, 0.0, 60, id="doubles"),
        pytest.param(3, 0.0, 120, id="doubles-again"),
        pytest.param(4, 0.0, 240, id="and-again"),
        pytest.param(5, 0.0, 300, id="capped-at-max-delay"),
        pytest.param(1000, 0.0, 300, id="absurd-attempt-still-capped"),
        pytest.param(1, 0.5, 22.5, id="jitter-shortens-by-a-quarter"),
        pytest.param(3, 0.999, 60.06, id="jitter-at-most-halves"),
    ],
)
def test_backoff_delay(attempts, random_value, seconds):
    delay = backoff_delay(POLICY, attempts, random_value)
    assert delay.total_seconds() == pytest.approx(seconds)


def test_without_jitter_the_random_value_does_not_matter():
    policy = RetryPolicy(jitter=0)
    assert backoff_delay(policy, 3, 0.0) == backoff_delay(policy, 3, 0.9)


@pytest.mark.parametrize(
    ("attempts", "random_value", "message"),
    [
        pytest.param(0, 0.0, "attempts_made must be >= 1, got 0", id="zero-attempts"),
        pytest.param(1, 1.0, r"random_value must be in \[0, 1\), got 1.0", id="random-one"),
        pytest.param(1, -0.1, "random_value must be in", id="random-negative"),
    ],
)
def test_backoff_inputs_are_checked(attempts, random_value, message):
    with pytest.raises(DeliveryPolicyError, match=message):
        backoff_delay(POLICY, attempts, random_value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"max_attempts": 0}, "max_attempts must be at least 1", id="no-attempts"),
        pytest.param({"base_delay": timedelta(0)}, "base_delay must be positive", id="no-delay"),
        pytest.param(
            {"max_delay": timedelta(seconds=1)},
            "max_delay .* must be at least",
            id="cap-below-base",
        ),
        pytest.param({"multiplier": 0.5}, "multiplier must be >= 1", id="shrinking"),
        pytest.param({"jitter": 1.5}, "jitter must be between 0 and 1", id="too-much-jitter"),
    ],
)
def test_invalid_retry_policies_are_refused(kwargs, message):
    with pytest.raises(DeliveryPolicyError, match=message):
        RetryPolicy(**kwargs)


TRANSIENT = Failure(T, NONE, "HTTP 503")


@pytest.mark.parametrize(
    ("attempts", "failure", "retry", "retry_after_s", "disable", "admin"),
    [
        pytest.param(1, TRANSIENT, True, 30, False, False, id="transient-retries-after-30s"),
        pytest.param(4, TRANSIENT, True, 240, False, False, id="fourth-failure-waits-4-min"),
        pytest.param(5, TRANSIENT, False, None, False, True, id="out-of-attempts-gives-up"),
        pytest.param(
            1,
            Failure(T, NONE, "HTTP 429", timedelta(minutes=10)),
            True,
            600,
            False,
            False,
            id="server-retry-after-wins-over-short-backoff",
        ),
        pytest.param(
            4,
            Failure(T, NONE, "HTTP 429", timedelta(seconds=5)),
            True,
            240,
            False,
            False,
            id="short-retry-after-does-not-shorten-backoff",
        ),
        pytest.param(
            1,
            Failure(P, CHANNEL, "Telegram 403: bot was blocked by the user"),
            False,
            None,
            True,
            True,
            id="blocked-bot-disables-channel",
        ),
        pytest.param(
            1,
            Failure(P, SERVER, "SMTP 535"),
            False,
            None,
            False,
            True,
            id="smtp-auth-alerts-admin-keeps-channel",
        ),
        pytest.param(
            1,
            Failure(P, MESSAGE, "HTTP 413"),
            False,
            None,
            False,
            True,
            id="undeliverable-message-dropped",
        ),
    ],
)
def test_retry_decisions(attempts, failure, retry, retry_after_s, disable, admin):
    decision = decide(POLICY, attempts, failure, NOW, random_value=0.0)
    assert decision.retry is retry
    expected_at = None if retry_after_s is None else NOW + timedelta(seconds=retry_after_s)
    assert decision.retry_at == expected_at
    assert decision.disable_channel is disable and decision.alert_admin is admin
    assert failure.reason in decision.reason


def test_giving_up_says_how_many_attempts_were_made():
    decision = decide(POLICY, 5, TRANSIENT, NOW, random_value=0.3)
    assert decision.reason == "gave up after 5 attempts; last error: HTTP 503"


def test_a_decision_needs_an_aware_now():
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        decide(POLICY, 1, TRANSIENT, datetime(2024, 5, 1), random_value=0.0)
