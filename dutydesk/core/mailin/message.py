"""One inbound mail as a value: parsed from raw bytes with limits, never raising on bad input.

``parse_mail`` is pure: it decodes headers (RFC 2047), picks the text (the ``text/plain`` part;
an HTML-only mail is turned into plain text, never rendered), keeps attachments up to the
limits, and notes what it had to leave out in ``warnings`` (shown to the engineer, never
silently dropped). A MIME bomb (thousands of parts, deep nesting) stops being walked at the
limits; the text found so far is kept.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MAX_PARTS = 100  # MIME parts walked in one mail
MAX_DEPTH = 10  # nesting of multiparts / attached messages
MAX_TEXT_CHARS = 20_000  # the text kept (the rest is cut with a warning)
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_MSGID = re.compile(r"<([^<>\s]{1,250})>")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str  # as the sender declared it (sniffed again before it is stored)
    data: bytes


@dataclass(frozen=True, slots=True)
class InboundMail:
    """What the handlers see. ``message_id`` is normalised (no angle brackets, lower-case);
    a mail without one gets ``sha256:<digest of the raw bytes>`` so a redelivery is still
    recognised. ``references`` holds In-Reply-To first, then References, normalised."""

    message_id: str
    from_email: str
    from_name: str
    subject: str
    text: str
    to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()
    warnings: tuple[str, ...] = ()
    size: int = 0
    content_type: str = "text/plain"
    language: str = ""
    #: The message as received, for handlers that read it with the standard library's parser
    #: (a reply to a page: its own threading and Authentication-Results headers).
    raw: bytes = field(default=b"", repr=False)


def normalise_message_id(value: str) -> str:
    value = value.strip()
    found = _MSGID.search(value)
    return (found.group(1) if found else value.strip("<> ")).lower()[:250]


def message_ids(value: str) -> list[str]:
    """Every ``<id>`` in an In-Reply-To/References header, normalised, in order."""
    return [m.lower() for m in _MSGID.findall(value or "")]


class _TextOfHtml(HTMLParser):
    """HTML to plain text: tags dropped, script/style/head content dropped, block elements
    become line breaks, entities decoded. Nothing is ever rendered or fetched."""

    SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
    BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                       "blockquote", "pre", "table", "ul", "ol", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The readable text of an HTML body (see ``_TextOfHtml``), blank runs folded."""
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return re.sub(r"[\r\n]+", " ", str(value)).strip() if value is not None else ""


def _payload_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception:
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


def _walk(msg: Message, depth: int, budget: list[int], warnings: list[str]):  # type: ignore[no-untyped-def]
    if budget[0] <= 0:
        return
    budget[0] -= 1
    if depth > MAX_DEPTH:
        warnings.append(f"MIME parts nested deeper than {MAX_DEPTH} levels were left out")
        return
    yield msg
    if msg.is_multipart():
        payload = msg.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if budget[0] <= 0:
                warnings.append(f"the mail has more than {MAX_PARTS} MIME parts; "
                                "the rest were left out")
                return
            yield from _walk(sub, depth + 1, budget, warnings)


def _address(value: str) -> tuple[str, str]:
    name, addr = parseaddr(value)
    addr = addr.strip().lower()
    if "@" not in addr or len(addr) > 254 or any(c in addr for c in " <>,;\"\\"):
        return name.strip()[:200], ""
    return name.strip()[:200], addr


def parse_mail(raw: bytes, *, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
               max_attachments: int = MAX_ATTACHMENTS) -> InboundMail:
    """Parse ``raw`` (RFC 5322 bytes). Never raises for malformed mail: what cannot be read is
    empty and noted in ``warnings``."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    warnings: list[str] = []
    headers = {name.lower(): _header(msg, name) for name in set(msg.keys())}
    decoded = email.message_from_bytes(raw, policy=email.policy.default)
    subject = _decoded_header(decoded, "subject")[:300]
    from_name, from_email = _address(_decoded_header(decoded, "from"))
    to = tuple(addr.lower() for _n, addr in getaddresses(
        [_header(msg, "to"), _header(msg, "cc")]) if "@" in addr)
    mid = normalise_message_id(headers.get("message-id", ""))
    if not mid:
        mid = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    refs = message_ids(headers.get("in-reply-to", "")) + message_ids(
        headers.get("references", ""))
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    budget = [MAX_PARTS]
    for part in _walk(msg, 0, budget, warnings):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part)
        if disposition == "attachment" or (filename and ctype not in ("text/plain",
                                                                       "text/html")):
            _attach(part, filename or "attachment", ctype, attachments, warnings,
                    max_attachment_bytes, max_attachments)
        elif ctype == "text/plain":
            plain.append(_payload_text(part))
        elif ctype == "text/html":
            html.append(_payload_text(part))
    if plain:
        text = "\n\n".join(t.strip() for t in plain if t.strip())
    elif html:
        text = html_to_text("\n".join(html))
        warnings.append("the mail had no plain-text part; its HTML was turned into text")
    else:
        text = ""
    if not text.strip():
        warnings.append("the mail has no text")
    if len(text) > MAX_TEXT_CHARS:
        warnings.append(f"the text was {len(text)} characters long; the first "
                        f"{MAX_TEXT_CHARS} are kept")
        text = text[:MAX_TEXT_CHARS]
    return InboundMail(
        message_id=mid, from_email=from_email, from_name=from_name, subject=subject,
        text=text.replace("\r\n", "\n").replace("\x00", ""), to=to, references=tuple(refs),
        headers=headers, attachments=tuple(attachments), warnings=tuple(dict.fromkeys(warnings)),
        size=len(raw), content_type=msg.get_content_type(),
        language=headers.get("content-language", "")[:8].split("-")[0].lower(), raw=raw)


def _decoded_header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
        return re.sub(r"[\r\n\t]+", " ", str(value)).strip() if value is not None else ""
    except Exception:
        return _header(msg, name)


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        return ""
    name = str(email.header.make_header(email.header.decode_header(name))) if name else ""
    name = re.split(r"[/\\]", name)[-1]  # a path's last part: never a place to write to
    name = re.sub(r"[\x00-\x1f]+", "_", name).strip(" .")
    return name[:200]


def _attach(part: Message, filename: str, ctype: str, out: list[Attachment],
            warnings: list[str], max_bytes: int, max_count: int) -> None:
    if len(out) >= max_count:
        warnings.append(f"more than {max_count} attachments; {filename!r} and later ones "
                        "were left out")
        return
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:
        data = b""
    if len(data) > max_bytes:
        warnings.append(f"attachment {filename!r} is {len(data)} bytes; at most "
                        f"{max_bytes} are kept, so it was left out")
        return
    out.append(Attachment(filename, ctype, data))


__all__ = ["Attachment", "InboundMail", "html_to_text", "message_ids",
           "normalise_message_id", "parse_mail"]
