"""The demo's mailbox keeps what DutyDesk mails, so a person trying the demo sees it arrive."""

from __future__ import annotations

import email
import email.policy
import functools
from pathlib import Path
from typing import Any

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


def _write(port: int, to: str, subject: str, body: str) -> None:
    import smtplib
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"] = "Olena <olena@corp.example>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{abs(hash(subject))}@corp.example>"
    mail.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(mail)


def test_mail_written_to_the_desk_through_the_demo_mailbox_becomes_a_request(
        tmp_path: Path, db: Any, settings: Any) -> None:
    from sqlalchemy import select

    from dutydesk.demo.runner import take_demo_mail
    from dutydesk.requests.models import ServiceRequest

    mailbox = DemoMailbox(tmp_path / "demo-mail").start()
    mailbox.intake(settings.smtp_from, functools.partial(take_demo_mail, db, settings))
    try:
        _write(mailbox.port, settings.smtp_from.upper(), "Printer on floor 3 jams",
               "It jams on every second page.")
        _write(mailbox.port, "someone@corp.example", "Lunch?", "Not for the desk.")
    finally:
        mailbox.stop()
    with db.session() as s:
        rows = [(r.subject, r.requester_email, r.channel) for r in s.scalars(
            select(ServiceRequest))]
    assert rows == [("Printer on floor 3 jams", "olena@corp.example", "email")]
    assert len(list((tmp_path / "demo-mail").glob("*.eml"))) >= 2  # both kept as files
