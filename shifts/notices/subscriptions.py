"""Subscribers: email with double opt-in, webhooks, one-click unsubscribe, notification fan-out.

Tokens:
- *confirm*: 256 random bits mailed once; only its SHA-256 is stored. Confirming twice is fine.
- *unsubscribe*: ``<id>.<mac>`` where mac = HMAC-SHA256(subscriber's secret nonce,
  ``unsubscribe:<id>:<target>``). The nonce never leaves the database, so a link cannot be
  forged or moved to another subscriber; a forged token changes nothing.

Messages go through the outbox (:func:`dutydesk.core.notify.outbox.enqueue`) in the caller's
transaction, with idempotency keys naming the reason, so a retried job never mails twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core.notify.outbox import enqueue
from shifts.notices.orm import StatusService, StatusSubscriber

from .mail import LANGUAGES, confirm_mail, reminder_mail, update_mail, webhook_payload
from .model import Notice, NoticeError, NoticeUpdate, require_aware

EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
WEBHOOK_URL = re.compile(r"^https?://[^\s]+$")


class SubscriptionError(NoticeError):
    """A subscription request that cannot be accepted (bad address, bad or forged token)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unsubscribe_token(subscriber: StatusSubscriber) -> str:
    mac = hmac.new(subscriber.nonce.encode(), f"unsubscribe:{subscriber.id}:{subscriber.target}"
                   .encode(), hashlib.sha256).hexdigest()[:32]
    return f"{subscriber.id}.{mac}"


def _urls(base_url: str) -> tuple[str, str]:
    base = base_url.rstrip("/")
    return f"{base}/status/notices/", f"{base}/status/unsubscribe/"


def _service_choice(session: Session, slugs: Iterable[str] | None) -> list[str] | None:
    if slugs is None:
        return None
    chosen = sorted({s.strip() for s in slugs if s and s.strip()})
    if not chosen:
        return None
    known = set(session.scalars(select(StatusService.slug).where(StatusService.slug.in_(chosen))))
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise SubscriptionError(f"unknown service(s): {', '.join(unknown)}")
    return chosen


def subscribe_email(session: Session, email: str, *, now: datetime, base_url: str,
                    services: Iterable[str] | None = None, language: str = "en"
                    ) -> StatusSubscriber | None:
    """Start a double opt-in: store the address unconfirmed and mail a confirm link.

    Refused: an address that does not look like ``name@domain.tld``. Returns None (and sends
    nothing) when the address is already confirmed, so the form tells nobody who subscribed.
    """
    require_aware("now", now)
    email = (email or "").strip()
    if len(email) > 254 or not EMAIL.match(email):
        raise SubscriptionError(f"email must look like name@example.org, got {email!r}")
    choice = _service_choice(session, services)
    language = language if language in LANGUAGES else "en"
    sub = session.scalar(select(StatusSubscriber).where(
        StatusSubscriber.kind == "email", StatusSubscriber.target == email))
    if sub is not None and sub.confirmed_at is not None and sub.unsubscribed_at is None:
        return None
    token = secrets.token_urlsafe(32)
    if sub is None:
        sub = StatusSubscriber(kind="email", target=email, created_at=now,
                               nonce=secrets.token_hex(16))
        session.add(sub)
    sub.service_ids, sub.language, sub.confirm_digest = choice, language, _digest(token)
    sub.confirmed_at = None
    session.flush()
    mail = confirm_mail(language, f"{base_url.rstrip('/')}/status/subscribe/confirm/{token}")
    enqueue(session, channel="email", target=email, subject=mail.subject, body_text=mail.text,
            idempotency_key=f"status-subscribe:{sub.id}:{sub.confirm_digest[:24]}",
            source_type="status_subscriber", source_id=sub.id)
    return sub


def confirm(session: Session, token: str, *, now: datetime) -> StatusSubscriber:
    """Confirm the subscription the token was mailed for; refused for an unknown token."""
    sub = session.scalar(select(StatusSubscriber).where(
        StatusSubscriber.confirm_digest == _digest(token or "")))
    if sub is None:
        raise SubscriptionError("this confirmation link is not valid (or was replaced by a newer "
                                "one); subscribe again")
    if sub.confirmed_at is None or sub.unsubscribed_at is not None:
        sub.confirmed_at, sub.unsubscribed_at = now, None
    return sub


def unsubscribe(session: Session, token: str, *, now: datetime) -> StatusSubscriber:
    """One-click unsubscribe. A malformed or forged token is refused and changes nothing."""
    subscriber_id, _, mac = (token or "").partition(".")
    sub = session.get(StatusSubscriber, int(subscriber_id)) if subscriber_id.isdigit() else None
    if sub is None or not hmac.compare_digest(unsubscribe_token(sub), f"{subscriber_id}.{mac}"):
        raise SubscriptionError("this unsubscribe link is not valid")
    if sub.unsubscribed_at is None:
        sub.unsubscribed_at = now
    return sub


def add_webhook(session: Session, url: str, *, now: datetime,
                services: Iterable[str] | None = None) -> StatusSubscriber:
    """A webhook subscriber (added by staff, so no opt-in); refused unless http(s)."""
    url = (url or "").strip()
    if len(url) > 1000 or not WEBHOOK_URL.match(url):
        raise SubscriptionError(f"webhook URL must start with http:// or https://, got {url!r}")
    sub = session.scalar(select(StatusSubscriber).where(
        StatusSubscriber.kind == "webhook", StatusSubscriber.target == url))
    if sub is None:
        sub = StatusSubscriber(kind="webhook", target=url, created_at=now,
                               nonce=secrets.token_hex(16))
        session.add(sub)
    sub.service_ids, sub.confirmed_at, sub.unsubscribed_at = (
        _service_choice(session, services), now, None)
    session.flush()
    return sub


class SubscriberNotFoundError(SubscriptionError):
    """No active webhook subscriber with that id."""


def remove_webhook(session: Session, subscriber_id: int, *, now: datetime) -> StatusSubscriber:
    """Stop sending to a webhook subscriber (kept, marked unsubscribed, for the audit trail).

    Refused: an id that is not an active webhook subscriber (an email subscriber leaves by
    their own unsubscribe link, never by staff action here).
    """
    require_aware("now", now)
    sub = session.get(StatusSubscriber, subscriber_id)
    if sub is None or sub.kind != "webhook" or sub.unsubscribed_at is not None:
        raise SubscriberNotFoundError(f"no active webhook subscriber with id {subscriber_id}")
    sub.unsubscribed_at = now
    session.flush()
    return sub


def webhooks(session: Session) -> list[StatusSubscriber]:
    """Active webhook subscribers, oldest first."""
    return list(session.scalars(select(StatusSubscriber).where(
        StatusSubscriber.kind == "webhook", StatusSubscriber.unsubscribed_at.is_(None))
        .order_by(StatusSubscriber.id)))


def _audience(session: Session, notice: Notice) -> list[StatusSubscriber]:
    affected = {a.service_id for a in notice.affected}
    subs = session.scalars(select(StatusSubscriber).where(
        StatusSubscriber.confirmed_at.is_not(None), StatusSubscriber.unsubscribed_at.is_(None))
        .order_by(StatusSubscriber.id))
    return [s for s in subs if s.service_ids is None or affected & set(s.service_ids)]


def notify_update(session: Session, notice: Notice, update: NoticeUpdate, base_url: str) -> int:
    """Enqueue one message per interested subscriber for ``update``; returns how many."""
    names = dict(session.execute(select(StatusService.slug, StatusService.name)).all())
    notice_base, unsub_base = _urls(base_url)
    count = 0
    for sub in _audience(session, notice):
        key = f"notice:{notice.id}:update:{update.id}:sub:{sub.id}"
        url = f"{notice_base}{notice.id}"
        if sub.kind == "webhook":
            made = enqueue(session, channel="webhook", target=sub.target,
                           subject=notice.title, body_text=update.body,
                           payload=webhook_payload(notice, update, url), idempotency_key=key,
                           source_type="notice", source_id=notice.id)
        else:
            mail = update_mail(notice, update, names, sub.language, url,
                               unsub_base + unsubscribe_token(sub))
            made = enqueue(session, channel="email", target=sub.target, subject=mail.subject,
                           body_text=mail.text, idempotency_key=key, source_type="notice",
                           source_id=notice.id)
        count += made is not None
    return count


def notify_reminder(session: Session, notice: Notice, lead: timedelta, base_url: str) -> int:
    """Enqueue "maintenance starts soon" mails (email subscribers only)."""
    assert notice.window is not None
    notice_base, unsub_base = _urls(base_url)
    start = notice.window.scheduled_for.strftime("%Y-%m-%d %H:%M UTC")
    end = notice.window.scheduled_until.strftime("%Y-%m-%d %H:%M UTC")
    count = 0
    for sub in _audience(session, notice):
        if sub.kind != "email":
            continue
        mail = reminder_mail(notice, start, end, sub.language, f"{notice_base}{notice.id}",
                             unsub_base + unsubscribe_token(sub))
        made = enqueue(session, channel="email", target=sub.target, subject=mail.subject,
                       body_text=mail.text, source_type="notice", source_id=notice.id,
                       idempotency_key=f"notice:{notice.id}:reminder:"
                       f"{int(lead.total_seconds() // 60)}:sub:{sub.id}")
        count += made is not None
    return count
