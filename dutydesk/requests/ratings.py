"""Satisfaction: the requester rates a resolved request once (good / bad, optional comment).

The resolution mail carries two links (``mail.rating_urls``), signed per request. Opening one
changes nothing (mail scanners open links): the page asks to confirm, with a comment box, and
only the POST records. A request is rated once; a second attempt is refused
(``AlreadyRated``), and so is rating a request that is not resolved or closed
(``NotRateable``, e.g. it was reopened). A bad rating tells the shift lead: those on duty on the
shift-lead line, else every active shift lead, by mail through the outbox (in their language),
in the same transaction as the rating.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.config import Settings
from dutydesk.core.models.accounts import Role, User
from dutydesk.core.notify.outbox import enqueue
from dutydesk.incidents.lifecycle import TransitionRefused
from dutydesk.requests.models import RATINGS, RequestRating, ServiceRequest
from dutydesk.requests.rules import RequestInputError, request_number
from shifts.notices.mail import gettext_for
from shifts.notices.status import N_

MAX_COMMENT = 2000
RATEABLE = ("resolved", "closed")

BAD_SUBJECT = N_("[%(number)s] The requester rated the service as bad")
BAD_TEXT = N_("%(email)s rated request %(number)s (\"%(subject)s\", %(service)s) as bad.")
BAD_COMMENT = N_("Their comment: %(comment)s")
BAD_LINK = N_("The request: %(url)s")


class AlreadyRated(TransitionRefused):
    """The request has its rating already (a rating link works once)."""

    code = "already_rated"


class NotRateable(TransitionRefused):
    """Only a resolved (or closed) request can be rated."""

    code = "not_resolved"


def check_rating(rating: object, comment: object) -> tuple[str, str]:
    """``(rating, comment)`` cleaned, or ``RequestInputError`` naming what is wrong."""
    if rating not in RATINGS:
        raise RequestInputError("choose good or bad")
    if comment is not None and not isinstance(comment, str):
        raise RequestInputError("the comment must be text")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise RequestInputError(f"the comment is {len(text)} characters long; at most "
                                f"{MAX_COMMENT}")
    return str(rating), text


def rating_of(session: Session, request_id: int) -> RequestRating | None:
    return session.scalar(select(RequestRating).where(RequestRating.request_id == request_id))


def refusal(row: ServiceRequest, existing: RequestRating | None) -> TransitionRefused | None:
    """Why ``row`` cannot be rated now (``None``: it can)."""
    if existing is not None:
        return AlreadyRated("this request has been rated already; thank you", "already_rated")
    if row.status not in RATEABLE:
        return NotRateable("the request is not resolved (it may have been reopened); you can "
                           "rate it once it is resolved", "not_resolved")
    return None


def rate_request(session: Session, settings: Settings, row: ServiceRequest, rating: object,
                 comment: object, now: datetime) -> RequestRating:
    """Record the requester's rating of ``row`` (flush, no commit); a bad one mails the shift
    lead. Refusals: ``RequestInputError`` (bad input), ``AlreadyRated``, ``NotRateable``."""
    rating, text = check_rating(rating, comment)
    problem = refusal(row, rating_of(session, row.id))
    if problem is not None:
        raise problem
    record = RequestRating(request_id=row.id, rating=rating, comment=text, rated_at=now)
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:  # rated at the same moment in another tab
        raise AlreadyRated("this request has been rated already; thank you",
                           "already_rated") from None
    audit.record(session, row.requester_email, "request.rate", "request", row.id,
                 summary=f"{row.number} rated {rating}", after={"rating": rating})
    if rating == "bad":
        _tell_shift_leads(session, settings, row, text, now)
    return record


def shift_lead_recipients(session: Session, now: datetime) -> list[tuple[str, str]]:
    """``(address, language)`` of the shift leads on duty now, else of every active shift
    lead (and, with none, the admins): someone always hears of a bad rating."""
    from shifts.storage import on_duty_logins

    board = on_duty_logins(session, now) or {}
    on_duty = [login.lower() for login in board.get("shift_lead", ())]
    users = session.execute(select(func.lower(User.email), User.language, User.role)
                            .where(User.active).order_by(User.id)).all()
    chosen = [(e, lang) for e, lang, _r in users if e in on_duty]
    for role in (Role.SHIFT_LEAD, Role.ADMIN):
        if not chosen:
            chosen = [(e, lang) for e, lang, r in users if r == role]
    return chosen


def _tell_shift_leads(session: Session, settings: Settings, row: ServiceRequest, comment: str,
                      now: datetime) -> None:
    url = f"{settings.base_url.rstrip('/')}/requests/{row.id}"
    for email, language in shift_lead_recipients(session, now):
        _ = gettext_for(language if language in ("en", "ru", "uk") else "en")
        values = {"number": request_number(row.id), "email": row.requester_email,
                  "subject": row.subject, "service": row.service}
        lines = [_(BAD_TEXT) % values]
        if comment:
            lines.append(_(BAD_COMMENT) % {"comment": comment})
        lines.append(_(BAD_LINK) % {"url": url})
        enqueue(session, channel="email", target=email, subject=_(BAD_SUBJECT) % values,
                body_text="\n\n".join(lines) + "\n",
                idempotency_key=f"request:{row.id}:rated_bad:to:{email}"[:200],
                source_type="request", source_id=row.id)


def ratings_for(session: Session, request_ids: Iterable[int]) -> dict[int, RequestRating]:
    """The ratings of these requests, by request id."""
    ids = list(request_ids)
    if not ids:
        return {}
    return {r.request_id: r for r in session.scalars(
        select(RequestRating).where(RequestRating.request_id.in_(ids)))}
