"""Webhook signatures: what a receiver checks to know a request came from DutyDesk, just now.

Every webhook to a contact method or subscription with a signing secret carries two headers:

- ``X-DutyDesk-Timestamp``: when this attempt was sent, in whole seconds since the Unix epoch;
- ``X-DutyDesk-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the secret, of the
  timestamp, a dot and the raw request body (``b"1765113600." + body``).

A receiver recomputes the HMAC over the bytes it received, compares in constant time, and
rejects a timestamp more than five minutes away from its clock: a captured request replayed
later fails. The timestamp is fresh on each retry; the ``Idempotency-Key`` header is the same on
every retry of one message, so a receiver drops a repeat by it. (Same scheme as Slack's and
Stripe's request signing.) ``verify`` is the reference check, used by our own tests.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-DutyDesk-Timestamp"
SIGNATURE_HEADER = "X-DutyDesk-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-DutyDesk-Signature`` value for ``body`` sent at ``timestamp`` (pure)."""
    signed = str(int(timestamp)).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both headers for one attempt (pure)."""
    return {
        TIMESTAMP_HEADER: str(int(timestamp)),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """Is this request signed with ``secret`` and sent within ``tolerance`` seconds of ``now``
    (Unix seconds)? (pure) False for a missing or malformed header, a stale or future timestamp,
    or a signature over other bytes."""
    if not timestamp_header or not signature_header or not timestamp_header.isdigit():
        return False
    timestamp = int(timestamp_header)
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header.strip())
