"""The demo's mailbox: a local SMTP server that keeps every message the demo sends.

Without it the demo's notifications (incident mail, status-page subscriptions, shift warnings)
would fail with "no SMTP server configured" and retry forever. With it, a person trying the
demo sees them arrive: each message is saved as an ``.eml`` file (open it in any mail client)
and announced on the console with its recipients and subject.

It is also the demo's intake mailbox: mail sent through it *to* the desk's address
(``intake_address``) is handed to ``on_intake`` (the same intake the worker runs on an IMAP
mailbox: a request, a reply on one, or a reply to a page), so a newcomer can write to the desk
from any mail client pointed at this SMTP port.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("dutydesk.demo.mailbox")
# aiosmtpd logs every SMTP command at INFO; the demo console wants one line per message.
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass(frozen=True)
class SavedMessage:
    path: Path
    recipients: tuple[str, ...]
    subject: str


class _SaveToFolder:
    """aiosmtpd handler: write each DATA to ``folder`` as ``<UTC time>-<n>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.saved: list[SavedMessage] = []
        self._numbers = itertools.count(1)
        self.intake_address = ""
        self.on_intake: Callable[[bytes], Any] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.folder / f"{stamp}-{next(self._numbers):05d}.eml"
        path.write_bytes(raw)
        saved = SavedMessage(path, tuple(envelope.rcpt_tos), str(message.get("Subject", "")))
        self.saved.append(saved)
        log.info("demo mail to %s: %s (%s)", ", ".join(saved.recipients), saved.subject, path)
        if self.on_intake is not None and self.intake_address.lower() in (
                r.lower() for r in saved.recipients):
            import asyncio

            try:  # the database work off aiosmtpd's event loop
                outcome = await asyncio.get_running_loop().run_in_executor(
                    None, self.on_intake, raw)
                log.info("the desk's mailbox took it: %s", outcome)
            except Exception:
                log.exception("the desk's mailbox could not take a message")
        return "250 Message accepted for delivery"


class DemoMailbox:
    """A running SMTP server on 127.0.0.1 that saves mail under ``folder``; ``stop()`` ends it."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        """``intake(address, on_intake)`` makes it the desk's mailbox too (see the module)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.handler = _SaveToFolder(folder)
        self.port = port or _free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def saved(self) -> list[SavedMessage]:
        return list(self.handler.saved)

    def intake(self, address: str, on_intake: Callable[[bytes], Any]) -> None:
        """Hand mail addressed to ``address`` to ``on_intake(raw)`` (after saving it)."""
        self.handler.intake_address, self.handler.on_intake = address, on_intake

    def start(self) -> DemoMailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
