"""Mail to the intake mailbox becomes a request, or a reply on the request it answers.

``handle_request_mail(session, mail, now, settings=...)`` is one handler of the core's mail
intake (``dutydesk.core.mailin``); the shell puts it last in the list, since it takes every
mail from a person that an earlier handler did not want.

Threading, in this order: a Message-ID we sent or received for a request in ``In-Reply-To`` /
``References``; then ``REQ-1042`` in the subject. A reply from the requester is their reply
(re-opening a resolved request, resuming a waiting one); a mail from anyone else on the thread
is an internal note naming the sender (a forged or cc'd sender changes nothing the requester
sees). A reply to a closed request opens a new request that names the old one. Whatever the
parser had to leave out (too large, no text, HTML turned into text) is an internal note on the
request, so the engineer sees it. Each sender gets at most ``request_ack_per_hour``
acknowledgements an hour (no mail war with a misconfigured robot that slipped past the loop
rules): further requests are stored, just not acknowledged.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.mailin.message import InboundMail
from dutydesk.core.models.accounts import User
from dutydesk.requests.attachments import AttachmentRefused, add_attachment
from dutydesk.requests.lifecycle import MAX_TEXT, Action
from dutydesk.requests.models import RequestMailRef, ServiceRequest
from dutydesk.requests.rules import RequestInputError, normalise_email
from dutydesk.requests.service import Requester, create_request, perform, remember_ref

ACTOR = "mail intake"
_SUBJECT_NUMBER = re.compile(r"\bREQ-(\d{1,18})\b", re.IGNORECASE)
_QUOTE_MARKERS = (
    re.compile(r"^On .{0,200} wrote:\s*$"),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^-{2,}\s*(Исходное сообщение|Оригінальне повідомлення)\s*-{2,}",
               re.IGNORECASE),
    re.compile(r"^From: .+", re.IGNORECASE),
)


def reply_text(text: str) -> str:
    """The new part of a reply: the quoted history under it cut off (the request's timeline
    already has it). The whole text when cutting would leave nothing."""
    kept: list[str] = []
    for line in text.splitlines():
        if any(marker.match(line.strip()) for marker in _QUOTE_MARKERS):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    cut = "\n".join(kept).strip()
    return cut or text.strip()


def thread_of(session: Session, mail: InboundMail) -> ServiceRequest | None:
    """The request ``mail`` answers, or None (see the module's threading order)."""
    refs = [f"out:{r.split('@', 1)[0]}" for r in mail.references] + list(mail.references)
    if refs:
        request_id = session.scalar(select(RequestMailRef.request_id)
                                    .where(RequestMailRef.ref.in_([r[:255] for r in refs]))
                                    .order_by(RequestMailRef.id.desc()).limit(1))
        if request_id is not None:
            return session.get(ServiceRequest, request_id)
    match = _SUBJECT_NUMBER.search(mail.subject)
    if match:
        return session.get(ServiceRequest, int(match.group(1)))
    return None


def _requester(session: Session, mail: InboundMail, settings: Settings) -> Requester:
    user = session.scalar(select(User).where(func.lower(User.email) == mail.from_email))
    if user is not None:
        return Requester(email=mail.from_email, name=user.name or mail.from_name,
                         language=user.language or settings.default_language, user_id=user.id)
    language = mail.language if mail.language in ("en", "ru", "uk") else \
        settings.default_language
    return Requester(email=mail.from_email, name=mail.from_name, language=language)


def _acknowledged_recently(session: Session, email: str, now: datetime) -> int:
    return int(session.scalar(select(func.count(ServiceRequest.id)).where(
        ServiceRequest.requester_email == email, ServiceRequest.channel == "email",
        ServiceRequest.created_at >= now - timedelta(hours=1))) or 0)


def _warnings_note(session: Session, settings: Settings, request_id: int,
                   mail: InboundMail, now: datetime) -> None:
    """Store the mail's attachments, then note on the request whatever was left out."""
    warnings = list(mail.warnings)
    for item in mail.attachments:
        try:  # a refusal is decided before anything is written
            add_attachment(session, request_id, item.filename, item.data, source="email",
                           actor=mail.from_email, now=now)
        except AttachmentRefused as exc:
            warnings.append(f"attachment not kept: {exc}")
    if warnings:
        text = "The mail intake noted:\n" + "\n".join(f"- {w}" for w in warnings)
        perform(session, settings, ACTOR, request_id, Action.NOTE, now, text=text[:MAX_TEXT])


def handle_request_mail(session: Session, mail: InboundMail, now: datetime, *,
                        settings: Settings) -> bool:
    """Store ``mail`` as a new request or on the request it answers; False only for a mail
    without a usable sender (nobody to answer)."""
    try:
        normalise_email(mail.from_email)
    except RequestInputError:
        return False
    row = thread_of(session, mail)
    if row is not None and row.status != "closed":
        _on_thread(session, settings, row, mail, now)
    else:
        _new_request(session, settings, mail, now, follows=row)
    return True


def _on_thread(session: Session, settings: Settings, row: ServiceRequest, mail: InboundMail,
               now: datetime) -> None:
    text = reply_text(mail.text) or "(the mail had no text)"
    if mail.from_email == row.requester_email:
        perform(session, settings, mail.from_email, row.id, Action.REQUESTER_REPLY, now,
                text=text[:MAX_TEXT])
    else:
        note = f"Mail from {mail.from_name} <{mail.from_email}>:\n\n{text}"
        perform(session, settings, ACTOR, row.id, Action.NOTE, now, text=note[:MAX_TEXT])
    remember_ref(session, row.id, mail.message_id)
    _warnings_note(session, settings, row.id, mail, now)


def _new_request(session: Session, settings: Settings, mail: InboundMail, now: datetime,
                 follows: ServiceRequest | None) -> None:
    text = mail.text.strip() or "(the mail had no text)"
    if follows is not None:
        text = f"(a reply to {follows.number}, which is closed)\n\n{reply_text(text)}"
    subject = _SUBJECT_NUMBER.sub("", mail.subject).strip(" []:") if follows else mail.subject
    acknowledge = _acknowledged_recently(session, mail.from_email, now) < \
        settings.request_ack_per_hour
    row = create_request(
        session, settings, ACTOR, _requester(session, mail, settings),
        service=settings.request_intake_service, description=text[:MAX_TEXT],
        subject=(subject or text.splitlines()[0])[:300] or "(no subject)", channel="email",
        now=now, acknowledge=acknowledge)
    remember_ref(session, row.id, mail.message_id)
    _warnings_note(session, settings, row.id, mail, now)
    if not acknowledge:
        perform(session, settings, ACTOR, row.id, Action.NOTE, now,
                text=f"Not acknowledged by mail: {mail.from_email} already had "
                     f"{settings.request_ack_per_hour} acknowledgements in the last hour.")
