"""Mails to requesters, in the requester's language, and the signed link to their requests.

Every mail carries the request number in the subject (``[REQ-1042]``, so a reply threads) and
the requester's "my requests" link: a token signed with the site's secret that names their
address. No password, nothing stored; a forged or altered token is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from dutydesk.requests.rules import request_number
from shifts.notices.mail import LANGUAGES, gettext_for
from shifts.notices.status import N_

SALT = "dutydesk.requests.requester"
LINK_MAX_AGE_S = 180 * 24 * 3600  # a link in an old mail keeps working for half a year


class BadRequesterToken(ValueError):
    """The requester link is forged, altered or too old."""


def requester_token(secret: str, email: str) -> str:
    """The signed token in a requester's links (their address, signed)."""
    return URLSafeTimedSerializer(secret, salt=SALT).dumps(email.lower())


def read_requester_token(secret: str, token: str, max_age_s: int = LINK_MAX_AGE_S) -> str:
    """The address a token was issued to; ``BadRequesterToken`` if it is not one of ours."""
    try:
        email = URLSafeTimedSerializer(secret, salt=SALT).loads(token, max_age=max_age_s)
    except (BadSignature, ValueError, TypeError):
        raise BadRequesterToken("this link is not valid (altered or expired); ask for a new "
                                "one on the help page") from None
    if not isinstance(email, str) or "@" not in email:
        raise BadRequesterToken("this link is not valid; ask for a new one on the help page")
    return email


def my_requests_url(base_url: str, secret: str, email: str) -> str:
    return f"{base_url.rstrip('/')}/help/my/{requester_token(secret, email)}"


RATING_SALT = "dutydesk.requests.rating"


def rating_token(secret: str, request_id: int, email: str) -> str:
    """The signed token of one request's rating links: the request and its requester, signed
    the same way as the "my requests" link but with a salt of its own (neither works as the
    other). Usable once: the rating it records is unique per request."""
    return URLSafeTimedSerializer(secret, salt=RATING_SALT).dumps([request_id, email.lower()])


def read_rating_token(secret: str, token: str,
                      max_age_s: int = LINK_MAX_AGE_S) -> tuple[int, str]:
    """``(request id, address)`` a rating token names; ``BadRequesterToken`` if not ours."""
    try:
        value = URLSafeTimedSerializer(secret, salt=RATING_SALT).loads(token, max_age=max_age_s)
    except (BadSignature, ValueError, TypeError):
        raise BadRequesterToken("this rating link is not valid (altered or expired)") from None
    if (not isinstance(value, list) or len(value) != 2 or type(value[0]) is not int
            or not isinstance(value[1], str) or "@" not in value[1]):
        raise BadRequesterToken("this rating link is not valid (altered or expired)")
    return value[0], value[1]


def rating_urls(base_url: str, secret: str, request_id: int, email: str) -> dict[str, str]:
    """The one-click links of the resolution mail: ``{"good": url, "bad": url}``."""
    token = rating_token(secret, request_id, email)
    return {r: f"{base_url.rstrip('/')}/help/rate/{token}/{r}" for r in ("good", "bad")}


@dataclass(frozen=True, slots=True)
class Mail:
    subject: str
    text: str


RECEIVED_SUBJECT = N_("[%(number)s] We received your request: %(subject)s")
RECEIVED_TEXT = N_("Hello %(name)s,\n\nyour request %(number)s (\"%(subject)s\") is registered "
                   "and the service desk will answer you.")
REPLY_SUBJECT = N_("[%(number)s] Reply to your request: %(subject)s")
RESOLVED_SUBJECT = N_("[%(number)s] Your request is resolved: %(subject)s")
RESOLVED_TEXT = N_("Your request is resolved:")
RESOLVED_HINT = N_("If the problem is still there, reply to this mail and the request "
                   "re-opens.")
INCIDENT_UPDATE_SUBJECT = N_("[%(number)s] News about the problem you reported")
FOLLOW_UPDATE_SUBJECT = N_("News about \"%(title)s\"")
FOLLOW_RESOLVED_SUBJECT = N_("Resolved: \"%(title)s\"")
CONFIRM_SUBJECT = N_("Your link to the service desk")
CONFIRM_TEXT = N_("Someone (hopefully you) asked for a link to the service desk for this "
                  "address. Open it to send your request and see its status:")
STATUS_LINK = N_("Your requests and their status: %(url)s")
RATE_QUESTION = N_("How did we do? One click is enough:")
RATE_GOOD = N_("Good: %(url)s")
RATE_BAD = N_("Bad: %(url)s")


def _lang(language: str) -> str:
    return language if language in LANGUAGES else "en"


def received_mail(language: str, request_id: int, subject: str, name: str, link: str) -> Mail:
    _ = gettext_for(_lang(language))
    values = {"number": request_number(request_id), "subject": subject, "name": name or ""}
    return Mail(_(RECEIVED_SUBJECT) % values,
                f"{_(RECEIVED_TEXT) % values}\n\n{_(STATUS_LINK) % {'url': link}}\n")


def reply_mail(language: str, request_id: int, subject: str, text: str, link: str) -> Mail:
    _ = gettext_for(_lang(language))
    values = {"number": request_number(request_id), "subject": subject}
    return Mail(_(REPLY_SUBJECT) % values, f"{text}\n\n-- \n{_(STATUS_LINK) % {'url': link}}\n")


def resolved_mail(language: str, request_id: int, subject: str, note: str, link: str,
                  rate: dict[str, str] | None = None) -> Mail:
    """The resolution mail; ``rate`` (``rating_urls``) adds the one-click rating links."""
    _ = gettext_for(_lang(language))
    values = {"number": request_number(request_id), "subject": subject}
    rating = ""
    if rate:
        rating = (f"{_(RATE_QUESTION)}\n{_(RATE_GOOD) % {'url': rate['good']}}\n"
                  f"{_(RATE_BAD) % {'url': rate['bad']}}\n\n")
    return Mail(_(RESOLVED_SUBJECT) % values,
                f"{_(RESOLVED_TEXT)}\n\n{note}\n\n{_(RESOLVED_HINT)}\n\n{rating}"
                f"{_(STATUS_LINK) % {'url': link}}\n")


def incident_update_mail(language: str, request_id: int, text: str, link: str) -> Mail:
    _ = gettext_for(_lang(language))
    return Mail(_(INCIDENT_UPDATE_SUBJECT) % {"number": request_number(request_id)},
                f"{text}\n\n-- \n{_(STATUS_LINK) % {'url': link}}\n")


def follower_mail(language: str, title: str, text: str, *, resolved: bool) -> Mail:
    _ = gettext_for(_lang(language))
    subject = FOLLOW_RESOLVED_SUBJECT if resolved else FOLLOW_UPDATE_SUBJECT
    return Mail(_(subject) % {"title": title}, f"{text}\n")


def confirm_mail(language: str, link: str) -> Mail:
    _ = gettext_for(_lang(language))
    return Mail(_(CONFIRM_SUBJECT), f"{_(CONFIRM_TEXT)}\n\n{link}\n")
