"""Files on a request: stored with limits, typed by their bytes, never trusted by their name.

- At most ``MAX_FILE_BYTES`` a file, ``MAX_FILES`` files and ``MAX_TOTAL_BYTES`` on a request.
- The type is sniffed from the first bytes (``sniff``); what the sender declared is ignored.
  Programs and scripts (Windows/ELF/Mach-O executables, ``#!`` scripts) are refused; HTML, SVG
  and anything unknown are stored as ``application/octet-stream`` so a browser never runs them.
  The web serves every file as a download (``Content-Disposition: attachment``, ``nosniff``,
  a CSP of its own), only to those who may see the request.
- Names are cut to their last path part and to 200 characters.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.requests.models import RequestAttachment
from dutydesk.requests.rules import RequestInputError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 20
MAX_TOTAL_BYTES = 50 * 1024 * 1024

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
)
_EXECUTABLES = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe",
                b"\xce\xfa\xed\xfe", b"#!")
_OFFICE = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
           "odt": "application/vnd.oasis.opendocument.text",
           "ods": "application/vnd.oasis.opendocument.spreadsheet"}


class AttachmentRefused(RequestInputError):
    """The file is too large, one too many, or a program (HTTP 400; nothing stored)."""


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    filename: str
    content_type: str
    size: int
    source: str
    added_by: str
    created_at: datetime


def safe_filename(name: str) -> str:
    name = re.split(r"[/\\]", str(name or ""))[-1]
    name = re.sub(r"[\x00-\x1f\x7f\"]+", "_", name).strip(" .")
    return name[:200] or "attachment"


def sniff(data: bytes, filename: str = "") -> str:
    """What ``data`` is, by its bytes; ``AttachmentRefused`` for a program or script."""
    head = data[:512]
    if any(head.startswith(sig) for sig in _EXECUTABLES):
        raise AttachmentRefused(f"{safe_filename(filename)!r} is a program or script; "
                                "such files are not accepted")
    if head[4:12] == b"ftypheic" or head[4:8] == b"ftyp":
        return "video/mp4" if head[8:11] in (b"iso", b"mp4", b"avc") else \
            "application/octet-stream"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, ctype in _SIGNATURES:
        if head.startswith(signature):
            if ctype == "application/zip":
                ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
                return _OFFICE.get(ext, ctype)
            return ctype
    if _is_text(data):
        lowered = head.lstrip().lower()
        if lowered.startswith((b"<!doctype html", b"<html", b"<svg", b"<?xml", b"<script")):
            return "application/octet-stream"  # markup a browser could run: a download only
        if filename.lower().endswith(".csv"):
            return "text/csv"
        return "text/plain"
    return "application/octet-stream"


def _is_text(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the sample's end
        return exc.start >= len(sample) - 3
    return True


def add_attachment(session: Session, request_id: int, filename: str, data: bytes, *,
                   source: str, actor: str, now: datetime) -> RequestAttachment:
    """Store one file on a request (limits above); ``AttachmentRefused`` stores nothing."""
    name = safe_filename(filename)
    if not data:
        raise AttachmentRefused(f"{name!r} is empty")
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentRefused(f"{name!r} is {len(data) / 1_048_576:.1f} MB; at most "
                                f"{MAX_FILE_BYTES // 1_048_576} MB a file")
    count, total = session.execute(
        select(func.count(RequestAttachment.id), func.coalesce(func.sum(RequestAttachment.size),
                                                                 0))
        .where(RequestAttachment.request_id == request_id)).one()
    if count >= MAX_FILES:
        raise AttachmentRefused(f"the request already has {MAX_FILES} files")
    if int(total) + len(data) > MAX_TOTAL_BYTES:
        raise AttachmentRefused(f"{name!r} would bring the request's files over "
                                f"{MAX_TOTAL_BYTES // 1_048_576} MB")
    row = RequestAttachment(request_id=request_id, filename=name,
                            content_type=sniff(data, name), size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), data=data,
                            source=source, added_by=actor[:200], created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor, "request.attach", "request", request_id,
                 summary=f"{name} ({row.content_type}, {len(data)} bytes)"[:200])
    return row


def attachments_of(session: Session, request_id: int) -> list[AttachmentInfo]:
    """The files on a request (without their bytes), oldest first."""
    rows = session.execute(select(
        RequestAttachment.id, RequestAttachment.filename, RequestAttachment.content_type,
        RequestAttachment.size, RequestAttachment.source, RequestAttachment.added_by,
        RequestAttachment.created_at).where(RequestAttachment.request_id == request_id)
        .order_by(RequestAttachment.id))
    return [AttachmentInfo(*row) for row in rows]


def attachment(session: Session, request_id: int, attachment_id: int) -> RequestAttachment | None:
    """One file of one request (None when it is not that request's)."""
    return session.scalar(select(RequestAttachment).where(
        RequestAttachment.id == attachment_id, RequestAttachment.request_id == request_id))
