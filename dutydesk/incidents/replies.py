"""Acting on a page by replying to its mail: "ack", "resolve: <note>", "esc" (and «принял»...).

The intake mailbox hands every incoming message to ``handle_page_reply(session, settings,
message, now)``; it answers ``True`` when the message was a reply to a page (acted on, or
refused and logged: never to become a request) and ``False`` when it is none of ours.

A reply acts when all of this holds, else nothing happens and the refusal is logged and audited
(``incident.page_reply_refused``):

- it carries the page's token: ``[#token]`` in the subject, or the page's Message-ID in
  In-Reply-To / References (``dutydesk.incidents.action_tokens``), signed by this site and not
  older than ``DUTYDESK_PAGE_LINK_HOURS``;
- it comes From the paged person: their account address or one of their e-mail contact methods,
  and the receiving mail server did not find that From forged (``Authentication-Results``
  with ``dmarc=fail``);
- it is not an automatic reply (RFC 3834 ``Auto-Submitted``, ``Precedence: bulk``...);
- its first own line (quoted lines, the quote's "On ... wrote:" and signatures skipped; an
  HTML-only reply is read as text) starts with a command word;
- that token has not acted that way before (each page's reply works once per action).

The person who replied is answered briefly (done, or who acknowledged first), so a reply that
lost the race to another channel is not left wondering.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.config import Settings
from dutydesk.core.notify.outbox import enqueue
from dutydesk.incidents.action_tokens import (
    BadActionToken,
    read_token,
    token_in_text,
    tokens_in_references,
)
from dutydesk.incidents.models import ContactMethod, Incident
from dutydesk.incidents.page_actions import AfterResolve, Outcome, act_with_claim, link_max_age

log = logging.getLogger("dutydesk.incidents.replies")

#: The words each command starts with (compared case-insensitively); the settings add more.
WORDS: dict[str, tuple[str, ...]] = {
    "ack": ("ack", "acknowledge", "acknowledged", "accept", "accepted",
            "принял", "приняла", "принято", "прийняв", "прийняла", "прийнято"),
    "resolve": ("resolve", "resolved", "fixed", "решено", "решил", "вирішено", "вирішив"),
    "escalate": ("esc", "escalate", "эскалация", "эскалировать", "ескалація", "ескалювати"),
}
_FIRST_WORD = re.compile(r"^\s*([^\s:;,.!?()\-–—]+)[\s:;,.!?\-–—]*(.*)$", re.S)
_ATTRIBUTION = re.compile(r"^(on .+ wrote|.+ (пишет|писал|написал|написала|пише|писав|"
                          r"написав|написала)|-----\s*original message)", re.I)
_PAGE_SUBJECT = re.compile(r"\[P[1-4]\] #\d+ ")


class ReplyWordsError(ValueError):
    """``DUTYDESK_PAGE_REPLY_WORDS`` cannot be read; the message names the part."""


def reply_words(extra: str = "") -> dict[str, str]:
    """``{word: action}``: the built-in words plus ``extra`` ("ack=ok,yes; resolve=fixed")."""
    words = {word.casefold(): action for action, known in WORDS.items() for word in known}
    for part in (extra or "").split(";"):
        if not part.strip():
            continue
        action, sep, listed = part.partition("=")
        action = action.strip().lower()
        action = {"esc": "escalate", "acknowledge": "ack"}.get(action, action)
        if not sep or action not in WORDS:
            raise ReplyWordsError(f"reply words: {part.strip()!r} must look like "
                                  "'ack=ok,yes' (ack, resolve or escalate)")
        for word in listed.split(","):
            if word.strip():
                words[word.strip().casefold()] = action
    return words


@dataclass(frozen=True, slots=True)
class ReplyCommand:
    action: str  # ack | resolve | escalate
    note: str = ""


def first_own_paragraph(text: str) -> list[str]:
    """The first lines the person wrote, up to a blank line: not quoted, not the quote's
    attribution, not a signature; empty when the reply starts with one of those (pure)."""
    lines: list[str] = []
    for raw in (text or "").splitlines():
        line = raw.strip().lstrip("\ufeff")
        if not line:
            if lines:
                break
            continue
        if line.startswith(">") or line == "--" or raw.rstrip("\r\n") == "-- " \
                or _ATTRIBUTION.match(line):
            break
        lines.append(line)
    return lines


def first_own_line(text: str) -> str | None:
    """The first line the person wrote (see ``first_own_paragraph``), else ``None``."""
    lines = first_own_paragraph(text)
    return lines[0] if lines else None


def parse_command(text: str, words: dict[str, str]) -> ReplyCommand | None:
    """The command in a reply's first own line, or ``None`` (pure). A resolution note is the
    rest of that line and the lines right under it ("resolve:" alone, the note below)."""
    lines = first_own_paragraph(text)
    if not lines:
        return None
    match = _FIRST_WORD.match(lines[0])
    if match is None:
        return None
    action = words.get(match[1].casefold())
    if action is None:
        return None
    if action != "resolve":
        return ReplyCommand(action)
    note = "\n".join(part for part in (match[2].strip(), *lines[1:]) if part)
    return ReplyCommand(action, note)


class _Text(HTMLParser):
    """HTML to plain lines: block elements break lines, quoted parts are left out."""

    _SKIP = {"blockquote", "script", "style", "head", "title"}
    _BREAK = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table", "hr"}
    _NESTING = _SKIP | {"div"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if self.skipping and tag in self._NESTING:
            self.skipping += 1  # inside a quote: count its nesting to find where it ends
        elif tag in self._SKIP or "gmail_quote" in classes or "moz-cite-prefix" in classes:
            self.skipping += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and tag in self._NESTING:
            self.skipping -= 1
        elif not self.skipping and tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def reply_text(message: EmailMessage) -> str:
    """The reply's own text: its text/plain part, else its HTML part read as text."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError):
        return ""
    if body.get_content_subtype() == "html":
        return html_text(content)
    return str(content)


def is_automatic(message: EmailMessage) -> bool:
    """An out-of-office or other automatic answer (RFC 3834 and the usual headers)."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (auto not in ("", "no") or precedence in ("bulk", "junk", "list", "auto_reply")
            or message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None)


_DMARC_FAIL = re.compile(r"\bdmarc\s*=\s*fail\b", re.I)


def failed_authentication(message: EmailMessage) -> bool:
    """The receiving mail server found the From forged: its ``Authentication-Results``
    (RFC 8601) says DMARC failed. (A server that checks nothing adds no such header.)"""
    return any(_DMARC_FAIL.search(str(value))
               for value in message.get_all("Authentication-Results") or ())


def page_token(message: EmailMessage) -> str | None:
    """The page token a reply carries: in the subject, else in In-Reply-To / References."""
    found = token_in_text(str(message.get("Subject", "")))
    if found:
        return found
    named = tokens_in_references(str(message.get("In-Reply-To", "")),
                                 str(message.get("References", "")))
    return named[-1] if named else None


def sender(message: EmailMessage) -> str:
    addresses = [address for _name, address in getaddresses([str(message.get("From", ""))])
                 if "@" in address]
    return addresses[0].strip().lower() if len(addresses) == 1 else ""


def handle_page_reply(
    session: Session,
    settings: Settings,
    message: EmailMessage,
    now: datetime,
    *,
    after_resolve: AfterResolve | None = None,
) -> bool:
    """Act on ``message`` if it is a valid reply to a page; ``True`` if it was a reply to a page
    at all (then the intake must not turn it into a request). Not committed here."""
    subject = str(message.get("Subject", ""))
    from_address = sender(message)
    token = page_token(message)
    if token is None:
        if _PAGE_SUBJECT.search(subject):  # a page's reply that lost its token
            _refuse(session, None, from_address, "no page token in the reply")
            return True
        return False
    try:
        claim = read_token(settings.secret_key, token, now, link_max_age(settings))
    except BadActionToken as exc:
        _refuse(session, None, from_address, f"{exc.reason} token: {exc}")
        return True
    if claim.action != "reply":
        _refuse(session, claim.incident_id, from_address, "not a reply token")
        return True
    if is_automatic(message):
        _refuse(session, claim.incident_id, from_address, "automatic reply (RFC 3834)")
        return True
    if failed_authentication(message):
        _refuse(session, claim.incident_id, from_address,
                "the mail server found the sender forged (DMARC failed)")
        return True
    if not from_address or from_address not in _addresses_of(session, claim.user_id):
        _refuse(session, claim.incident_id, from_address,
                "the reply does not come from the paged person's address")
        return True
    try:
        words = reply_words(settings.page_reply_words)
    except ReplyWordsError as exc:
        log.error("DUTYDESK_PAGE_REPLY_WORDS ignored: %s", exc)
        words = reply_words()
    command = parse_command(reply_text(message), words)
    if command is None:
        _refuse(session, claim.incident_id, from_address, "no command in the reply's first line")
        return True
    outcome = act_with_claim(session, settings, claim, command.action, via="mail", now=now,
                             note=command.note or None, after_resolve=after_resolve)
    if not outcome.done:
        _refuse(session, claim.incident_id, from_address,
                f"{command.action}: {outcome.code} {outcome.by or ''} {outcome.detail}".strip())
    _answer(session, settings, message, from_address, outcome)
    return True


def _addresses_of(session: Session, user_id: int) -> set[str]:
    from dutydesk.core.models.accounts import User

    user = session.get(User, user_id)
    if user is None or not user.active:
        return set()
    methods = session.scalars(select(func.lower(ContactMethod.target)).where(
        ContactMethod.user_id == user_id, ContactMethod.kind == "email"))
    return {user.email.lower(), *(m.strip() for m in methods)}


def _refuse(session: Session, incident_id: int | None, from_address: str, why: str) -> None:
    log.warning("page reply refused", extra={"incident_id": incident_id, "from": from_address,
                                             "reason": why})
    audit.record(session, "mail reply", "incident.page_reply_refused", "incident", incident_id,
                 summary=f"reply by mail refused: {why}"[:500],
                 after={"from": from_address[:254], "reason": why[:500]})


_ANSWERS = {
    "done": "Done: {action} incident #{id}.",
    "already_acknowledged": "Not done: {by} acknowledged incident #{id} at {at} UTC.",
    "resolved": "Not done: {by} resolved incident #{id} at {at} UTC.",
    "used": "Not done: this page's reply already did that ({action}).",
    "needs_note": "Not done: to resolve, reply with 'resolve: <what you did>'.",
    "not_allowed": "Not done: your account may not act on incidents.",
    "not_found": "Not done: incident #{id} no longer exists.",
    "refused": "Not done: {detail}",
}


def _answer(session: Session, settings: Settings, message: EmailMessage, to: str,
            outcome: Outcome) -> None:
    """Tell the person who replied what came of it (one answer per reply message)."""
    incident = session.get(Incident, outcome.incident_id)
    at = f"{outcome.at:%Y-%m-%d %H:%M}" if outcome.at else "?"
    text = _ANSWERS.get(outcome.code, _ANSWERS["refused"]).format(
        action=outcome.action, id=outcome.incident_id, by=outcome.by or "someone", at=at,
        detail=outcome.detail)
    title = incident.title if incident is not None else ""
    reply_id = str(message.get("Message-ID", "")) or text
    digest = hashlib.sha256(reply_id.encode()).hexdigest()[:24]
    enqueue(session, channel="email", target=to,
            subject=f"[{'OK' if outcome.done else 'NOT DONE'}] #{outcome.incident_id} {title}"
            [:500],
            body_text=f"{text}\n\n{settings.base_url.rstrip('/')}/incidents/"
                      f"{outcome.incident_id}\n",
            options={"headers": {"Auto-Submitted": "auto-replied"}},
            idempotency_key=f"page-reply:{digest}", source_type="incident",
            source_id=outcome.incident_id)
