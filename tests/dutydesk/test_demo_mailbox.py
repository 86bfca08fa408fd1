"""The demo's mailbox keeps what DutyDesk mails, so a person trying the demo sees it arrive."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from dutydesk.core.config import load_settings
from dutydesk.core.notify.transports import send_email
from dutydesk.demo.mailbox import DemoMailbox
from dutydesk.models import OutboxMessage


def test_mail_sent_by_the_notifier_is_saved_as_an_eml_file(tmp_path: Path) -> None:
    mailbox = DemoMailbox(tmp_path / "demo-mail").start()
    try:
        settings = load_settings(
            {"smtp_host": "127.0.0.1", "smtp_port": mailbox.port}, environ={}
        )
        message = OutboxMessage(
            channel="email",
            target="ivan@dc.example",
            subject="[P1] UPS A on battery",
            body_text="Hall A UPS switched to battery at 12:04.",
            idempotency_key="incident-7-step-1",
        )
        outcome = send_email(message, settings)
    finally:
        mailbox.stop()
    assert outcome.ok, outcome.detail
    files = sorted((tmp_path / "demo-mail").glob("*.eml"))
    assert len(files) == 1
    saved = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert saved["To"] == "ivan@dc.example"
    assert saved["Subject"] == "[P1] UPS A on battery"
    assert "switched to battery" in saved.get_content()
    assert [(m.recipients, m.subject) for m in mailbox.saved] == [
        (("ivan@dc.example",), "[P1] UPS A on battery")
    ]
