"""Inbound mail read safely, and machines' mail told from people's (pure, no server)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from dutydesk.core.mailin.loops import automatic_reason
from dutydesk.core.mailin.message import MAX_PARTS, html_to_text, parse_mail


def build(body: str = "Outlook says: cannot connect", *, html: str | None = None,
          sender: str = "Anna Petrenko <Anna@Corp.Example>", subject: str = "Mail is down",
          **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "help@corp.example"
    msg["Subject"] = subject
    msg["Message-ID"] = headers.pop("message_id", "<Abc.1@corp.example>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if html is not None and not body:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def test_a_plain_mail_gives_its_sender_subject_text_and_normalised_message_id() -> None:
    mail = parse_mail(build())
    assert (mail.from_email, mail.from_name) == ("anna@corp.example", "Anna Petrenko")
    assert mail.subject == "Mail is down"
    assert mail.text == "Outlook says: cannot connect"
    assert mail.message_id == "abc.1@corp.example"
    assert mail.warnings == ()


def test_an_encoded_cyrillic_subject_is_decoded() -> None:
    mail = parse_mail(build(subject="Не працює пошта"))
    assert mail.subject == "Не працює пошта"


def test_replies_carry_in_reply_to_then_references() -> None:
    mail = parse_mail(build(In_Reply_To="<b@x>", References="<a@x> <b@x>"))
    assert mail.references == ("b@x", "a@x", "b@x")


def test_an_html_only_mail_becomes_text_without_scripts_styles_or_tags() -> None:
    html = ("<html><head><style>p{color:red}</style><title>t</title></head><body>"
            "<p>Printer <b>jammed</b> &amp; blinking</p><script>alert(1)</script>"
            "<div>Room&nbsp;204</div><img src='http://tracker.example/x.png'></body></html>")
    mail = parse_mail(build("", html=html))
    assert mail.text == "Printer jammed & blinking\n\nRoom 204"
    assert "alert" not in mail.text and "tracker" not in mail.text
    assert any("HTML was turned into text" in w for w in mail.warnings)


def test_the_plain_part_is_preferred_when_both_are_there() -> None:
    mail = parse_mail(build("plain words", html="<p>html words</p>"))
    assert mail.text == "plain words"


def test_a_mail_without_message_id_is_known_by_its_bytes() -> None:
    raw = b"From: a@corp.example\r\nSubject: x\r\n\r\nhello\r\n"
    assert parse_mail(raw).message_id == parse_mail(raw).message_id
    assert parse_mail(raw).message_id.startswith("sha256:")


def test_a_mime_bomb_stops_at_the_part_limit_with_a_warning() -> None:
    msg = EmailMessage()
    msg["From"] = "a@corp.example"
    msg["Subject"] = "bomb"
    msg.set_content("the real text")
    for n in range(MAX_PARTS + 50):
        msg.add_attachment(b"x", maintype="application", subtype="octet-stream",
                           filename=f"f{n}.bin")
    mail = parse_mail(msg.as_bytes())
    assert mail.text == "the real text"
    assert any("MIME parts" in w for w in mail.warnings)
    assert len(mail.attachments) <= 20


def test_garbage_bytes_never_raise() -> None:
    mail = parse_mail(b"\x00\xff\xfe garbage \r\n\r\n\x00")
    assert mail.from_email == ""
    assert "the mail has no text" in mail.warnings or mail.text


def test_attachments_are_kept_with_their_names_up_to_the_size_limit() -> None:
    msg = EmailMessage()
    msg["From"] = "a@corp.example"
    msg.set_content("see attached")
    msg.add_attachment(b"%PDF-1.4 small", maintype="application", subtype="pdf",
                       filename="../../etc/report.pdf")
    msg.add_attachment(b"x" * 2000, maintype="application", subtype="octet-stream",
                       filename="big.bin")
    mail = parse_mail(msg.as_bytes(), max_attachment_bytes=1000)
    assert [a.filename for a in mail.attachments] == ["report.pdf"]
    assert any("big.bin" in w for w in mail.warnings)


def test_html_to_text_survives_broken_markup() -> None:
    assert html_to_text("<p>unclosed <b>bold <i>x") == "unclosed bold x"


@pytest.mark.parametrize(("headers", "sender", "reason"), [
    # RFC 3834: any Auto-Submitted but "no" is a machine
    ({"Auto_Submitted": "auto-replied"}, "a@corp.example", "Auto-Submitted: auto-replied"),
    ({"Auto_Submitted": "auto-generated; owner-email=x"}, "a@corp.example",
     "Auto-Submitted: auto-generated"),
    # the de-facto markers of list and vacation mail
    ({"Precedence": "bulk"}, "a@corp.example", "Precedence: bulk"),
    ({"X_Autoreply": "yes"}, "a@corp.example", "x-autoreply header"),
    ({"X_Auto_Response_Suppress": "OOF, AutoReply"}, "a@corp.example",
     "X-Auto-Response-Suppress (an out-of-office reply)"),
    # bounces
    ({}, "MAILER-DAEMON@mx.corp.example", "from mailer-daemon (bounce)"),
    ({"Return_Path": "<>"}, "a@corp.example", "empty Return-Path (bounce)"),
    # ourselves
    ({}, "DutyDesk <help@corp.example>", "from our own address"),
    ({"X_DutyDesk_Idempotency_Key": "request:1:received"}, "a@corp.example",
     "sent by DutyDesk"),
])
def test_machines_mail_is_recognised(headers: dict[str, str], sender: str, reason: str) -> None:
    mail = parse_mail(build(sender=sender, **headers))
    assert automatic_reason(mail, ["help@corp.example"]) == reason


def test_a_persons_mail_and_auto_submitted_no_are_not_automatic() -> None:
    assert automatic_reason(parse_mail(build()), ["help@corp.example"]) is None
    assert automatic_reason(parse_mail(build(Auto_Submitted="no")), []) is None


def test_a_delivery_status_report_is_a_bounce() -> None:
    raw = (b"From: someone@corp.example\r\nSubject: Undelivered\r\nMessage-ID: <d@x>\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
           b"--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--B--\r\n")
    assert automatic_reason(parse_mail(raw), []) == "a delivery status report (bounce)"
