"""The intake mailbox over IMAP, read with IMAPClient (a maintained, typed wrapper of the
standard library's imaplib with UID commands, MOVE and IDLE).

TLS by default: ``ssl`` (implicit TLS, port 993) or ``starttls``; the server's certificate is
verified against the system's CAs or ``ca_file``; ``none`` is plain text for a local test
server only. The password is never logged nor shown: errors name the server and the user.

A poll reads what is in the inbox folder by UID (everything there is new: processed mail is
moved out), processes each mail (``intake.process_raw``) and only then moves it to
``done_folder`` (or ``failed_folder`` after repeated failures). A worker killed between the two
leaves the mail in the inbox; the next poll finds its Message-ID in the ledger and just moves it.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from dutydesk.core.db import Database
from dutydesk.core.mailin.intake import MailHandler, Outcome, process_raw

log = logging.getLogger("dutydesk.mailin")
SECURITIES = ("ssl", "starttls", "none")


class MailboxUnavailable(RuntimeError):
    """The IMAP server could not be reached or refused us (retried at the next poll)."""


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    username: str
    password: str = field(repr=False)
    port: int = 993
    security: str = "ssl"
    ca_file: str = ""
    folder: str = "INBOX"
    done_folder: str = "DutyDesk/Processed"
    failed_folder: str = "DutyDesk/Failed"
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    batch: int = 100  # mails per poll at most (the rest wait for the next poll)

    def describe(self) -> str:
        return f"{self.username}@{self.host}:{self.port} ({self.security})"


@dataclass(slots=True)
class PollResult:
    outcomes: list[Outcome] = field(default_factory=list)
    left: int = 0  # mails still in the inbox after this poll (over the batch, or retried)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """Certificate and host name verified; TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class ImapMailbox:
    """One signed-in connection (a context manager)."""

    def __init__(self, config: ImapConfig) -> None:
        if config.security not in SECURITIES:
            raise ValueError(f"IMAP security must be one of {', '.join(SECURITIES)}")
        self.config = config
        self.client: IMAPClient | None = None
        self._folders: set[str] = set()

    def __enter__(self) -> ImapMailbox:
        cfg = self.config
        try:
            context = tls_context(cfg.ca_file) if cfg.security != "none" else None
            client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.security == "ssl",
                                ssl_context=context, timeout=cfg.timeout)
            if cfg.security == "starttls":
                client.starttls(context)
            client.login(cfg.username, cfg.password)
        except (TimeoutError, OSError, IMAPClientError, ssl.SSLError) as exc:
            raise MailboxUnavailable(
                f"IMAP server {cfg.describe()}: {_safe(exc, cfg.password)}") from None
        self.client = client
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):  # the connection may already be gone
                self.client.logout()
            self.client = None

    @property
    def imap(self) -> IMAPClient:
        if self.client is None:
            raise MailboxUnavailable("not connected")
        return self.client

    def pending(self) -> list[tuple[int, int]]:
        """(UID, size) of the mails in the inbox folder, oldest first."""
        self.imap.select_folder(self.config.folder)
        uids = sorted(self.imap.search("ALL"))
        if not uids:
            return []
        sizes = self.imap.fetch(uids[: self.config.batch], ["RFC822.SIZE"])
        return [(uid, int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))) for uid in uids
                if uid in sizes][: self.config.batch]

    def count(self) -> int:
        return len(self.imap.search("ALL"))

    def read(self, uid: int, size: int) -> tuple[bytes, int]:
        """The raw mail, or only its header when it is over ``max_bytes`` (then the second
        value is its size). BODY.PEEK: reading does not mark it seen."""
        if size > self.config.max_bytes:
            data = self.imap.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
            return bytes(data.get(b"BODY[HEADER]", b"")), size
        data = self.imap.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        return bytes(data.get(b"BODY[]", b"")), 0

    def move(self, uid: int, folder: str) -> None:
        """Move one mail out of the inbox (MOVE where the server has it, else COPY, flag
        deleted and expunge that UID)."""
        self._ensure(folder)
        if self.imap.has_capability("MOVE"):
            self.imap.move([uid], folder)
            return
        self.imap.copy([uid], folder)
        self.imap.delete_messages([uid])
        if self.imap.has_capability("UIDPLUS"):
            self.imap.uid_expunge([uid])
        else:
            self.imap.expunge()

    def _ensure(self, folder: str) -> None:
        if folder in self._folders:
            return
        if not self.imap.folder_exists(folder):
            try:
                self.imap.create_folder(folder)
            except IMAPClientError:  # created by another worker meanwhile
                if not self.imap.folder_exists(folder):
                    raise
        self._folders.add(folder)


def _safe(exc: BaseException, password: str) -> str:
    text = str(exc) or type(exc).__name__
    return text.replace(password, "***") if password else text


def _drain(box: ImapMailbox, db: Database, config: ImapConfig,
           handlers: Sequence[MailHandler], clock: Callable[[], datetime],
           own: tuple[str, ...], result: PollResult) -> None:
    for uid, size in box.pending():
        raw, too_large = box.read(uid, size)
        if not raw:
            continue  # expunged by someone else meanwhile
        outcome = process_raw(db, raw, handlers, clock(), own, too_large=too_large)
        result.outcomes.append(outcome)
        if outcome.done:
            box.move(uid, config.done_folder)
        elif outcome.set_aside:
            box.move(uid, config.failed_folder)
    result.left = box.count()


def poll_once(db: Database, config: ImapConfig, handlers: Sequence[MailHandler],
              clock: Callable[[], datetime], own_addresses: Iterable[str] = (),
              mailbox: Callable[[ImapConfig], ImapMailbox] = ImapMailbox,
              idle_seconds: float = 0.0, stop: threading.Event | None = None) -> PollResult:
    """Read, process and move what is in the inbox now; ``MailboxUnavailable`` when the server
    cannot be reached (nothing is lost: the mail waits on the server).

    ``idle_seconds``: afterwards, where the server has IDLE (RFC 2177), stay connected that long
    and take in each new mail as the server announces it (mail is then handled within seconds
    of arriving, not at the next poll); ``stop`` ends the wait within a second (the worker
    stopping)."""
    result = PollResult()
    own = tuple(own_addresses)
    with mailbox(config) as box:
        try:
            _drain(box, db, config, handlers, clock, own, result)
            if idle_seconds > 0 and box.imap.has_capability("IDLE"):
                deadline = time.monotonic() + idle_seconds
                while (left := deadline - time.monotonic()) > 0.5 and not (
                        stop is not None and stop.is_set()):
                    box.imap.idle()
                    news: list[Any] = []
                    try:  # short checks: a stopping worker is not kept waiting
                        news = list(box.imap.idle_check(timeout=min(left, 1.0)))
                    finally:
                        news += list(box.imap.idle_done()[1] or [])
                    if any(isinstance(n, tuple) and len(n) > 1 and n[1] in (b"EXISTS", b"RECENT")
                           for n in news):
                        _drain(box, db, config, handlers, clock, own, result)
        except (OSError, IMAPClientError, ssl.SSLError) as exc:
            raise MailboxUnavailable(
                f"IMAP server {config.describe()}: {_safe(exc, config.password)}") from None
    return result
