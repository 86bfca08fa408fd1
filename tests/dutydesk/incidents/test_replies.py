"""Replying to a page acts on it: Taras answers "ack" from his phone's mail client.

The page is delivered through a real SMTP server (aiosmtpd); the replies are real RFC 822
messages built as a mail client builds them (Re: subject, In-Reply-To/References, the page
quoted below an attribution line, ru/uk words, an HTML-only reply) and parsed back from bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.action_tokens import make_token
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import ContactMethod, Incident
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.replies import (
    ReplyCommand,
    ReplyWordsError,
    handle_page_reply,
    html_text,
    parse_command,
    reply_words,
)
from dutydesk.models import Role, User
from tests.conftest import make_user
from tests.dutydesk.notify.receivers import SmtpServer

WORDS = reply_words()


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("ack", ReplyCommand("ack")),
        ("Ack.\n\nOn Mon, 7 Dec 2026 DutyDesk wrote:\n> [P1] #1", ReplyCommand("ack")),
        ("\n\n  ACKNOWLEDGED, on my way", ReplyCommand("ack")),
        ("Принял", ReplyCommand("ack")),
        ("прийняв, дивлюсь", ReplyCommand("ack")),
        ("resolve: moved the load to UPS B", ReplyCommand("resolve", "moved the load to UPS B")),
        ("RESOLVE - replaced the fuse\nin PDU B\n\n-- \nTaras",
         ReplyCommand("resolve", "replaced the fuse\nin PDU B")),
        ("resolve:\nmoved the load to UPS B\n\nOn Mon, DutyDesk wrote:\n> esc",
         ReplyCommand("resolve", "moved the load to UPS B")),
        ("вирішено: замінили запобіжник", ReplyCommand("resolve", "замінили запобіжник")),
        ("resolve", ReplyCommand("resolve", "")),  # no note: the action refuses it
        ("esc", ReplyCommand("escalate")),
        ("Escalate! I can't reach the room", ReplyCommand("escalate")),
        # nothing the person wrote: only the quote, the attribution, a signature
        ("> ack\n> esc", None),
        ("On Mon, 7 Dec 2026 at 03:00, DutyDesk <dd@dc.example> wrote:\n> ack", None),
        ("7 дек. 2026 г., в 03:00, DutyDesk <dd@dc.example> написал:\n> ack", None),
        ("-- \nTaras\nack", None),
        ("thanks, looking", None),  # a word that is no command
        ("acknowledgement later", None),  # the word must be whole
        ("", None),
    ],
)
def test_the_first_line_the_person_wrote_is_the_command(text: str,
                                                        command: ReplyCommand | None) -> None:
    assert parse_command(text, WORDS) == command


def test_words_can_be_added_and_bad_ones_are_named() -> None:
    words = reply_words("ack=ok, yes; esc=help")
    assert parse_command("OK", words) == ReplyCommand("ack")
    assert parse_command("help!", words) == ReplyCommand("escalate")
    with pytest.raises(ReplyWordsError, match="'reboot=now'"):
        reply_words("reboot=now")


def test_an_html_reply_is_read_without_its_quote() -> None:
    html = ('<div dir="ltr">прийняв<br>Тарас</div><br><div class="gmail_quote">'
            '<div dir="ltr">On Mon wrote:</div><blockquote><div>esc</div></blockquote></div>')
    text = html_text(html)
    assert parse_command(text, WORDS) == ReplyCommand("ack")
    assert "esc" not in text


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def paged(app: Any, db: Database, smtp: SmtpServer) -> dict[str, Any]:
    """Taras (account address) and Ivan (a personal mailbox) were paged for a P1 just now."""
    settings = dataclasses.replace(app.extensions["dutydesk"].settings, smtp_host="127.0.0.1",
                                   smtp_port=smtp.port, page_reply_to="duty@dc.example")
    app.extensions["dutydesk"].settings = settings
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    ivan = make_user(db, Role.ENGINEER, email="ivan@dc.example")
    with db.session() as s:
        s.add(ContactMethod(user_id=ivan.id, kind="email", target="Ivan.Home@mail.example"))
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:ups-a",
                  status=AlertStatus.FIRING, starts_at=utcnow(), summary="UPS A on battery",
                  severity=Severity.CRITICAL, details={"impact": 1, "urgency": 1})
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert], settings=settings, now=utcnow()).opened
    deliver_due(db, settings)
    pages = {m["To"]: m for m in smtp.mailbox.messages}
    return {"settings": settings, "incident": incident_id, "taras": pages["taras@dc.example"],
            "ivan": pages["Ivan.Home@mail.example"]}


def reply(page: Any, sender: str, text: str, *, html: str | None = None,
          subject: str | None = None, threaded: bool = True, **headers: str) -> EmailMessage:
    """What a mail client sends when the person answers ``page``, parsed back from bytes."""
    mail = EmailMessage()
    mail["From"] = f"Someone <{sender}>"
    mail["To"] = str(page["Reply-To"] or page["From"])
    mail["Subject"] = subject if subject is not None else f"Re: {page['Subject']}"
    mail["Message-ID"] = make_msgid(domain="mail.example")
    if threaded:
        mail["In-Reply-To"] = page["Message-ID"]
        mail["References"] = page["Message-ID"]
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    quoted = "\n".join("> " + line for line in
                       page.get_body(("plain",)).get_content().splitlines())
    if html is None:
        mail.set_content(f"{text}\n\nOn Mon, 7 Dec 2026 at 03:00, DutyDesk wrote:\n{quoted}\n")
    else:
        mail.set_content(html, subtype="html")
    return message_from_bytes(mail.as_bytes(), policy=policy.default)  # type: ignore[return-value]


def handle(db: Database, settings: Any, message: EmailMessage, later: timedelta = timedelta(0)
           ) -> bool:
    with db.session() as s:
        return handle_page_reply(s, settings, message, utcnow() + later)


def incident(db: Database, incident_id: int) -> Incident:
    with db.session() as s:
        row = s.get(Incident, incident_id)
        s.expunge(row)
        return row


def refusals(db: Database) -> list[str]:
    with db.session() as s:
        return [e.after["reason"] for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action == "incident.page_reply_refused").order_by(AuditEntry.id))]


def answers(db: Database, to: str) -> list[str]:
    with db.session() as s:
        return [m.body_text for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.target == to, OutboxMessage.idempotency_key.like("page-reply:%")))]


def test_the_page_asks_replies_to_go_to_the_intake_mailbox(paged: dict[str, Any]) -> None:
    assert paged["taras"]["Reply-To"] == "duty@dc.example"
    assert "[#" in paged["taras"]["Subject"]


def test_replying_ack_acknowledges_as_the_paged_person_exactly_once(
    db: Database, paged: dict[str, Any]
) -> None:
    message = reply(paged["taras"], "taras@dc.example", "ack")
    assert handle(db, paged["settings"], message) is True
    row = incident(db, paged["incident"])
    assert (row.status, row.acknowledged_by) == ("acknowledged", "taras@dc.example")
    with db.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action ==
                                                     "incident.acknowledge")).all()
        assert (entry.actor, entry.after["via"]) == ("taras@dc.example", "mail")
    assert answers(db, "taras@dc.example")[0].startswith("Done: ack incident")
    # The same reply delivered again (a mailbox re-read): consumed, nothing done, logged.
    assert handle(db, paged["settings"], message) is True
    assert refusals(db) == ["ack: used"]


def test_a_reply_from_another_address_does_nothing_and_is_logged(
    db: Database, paged: dict[str, Any]
) -> None:
    forged = reply(paged["taras"], "mallory@evil.example", "resolve: nothing to see")
    assert handle(db, paged["settings"], forged) is True
    assert incident(db, paged["incident"]).status == "triggered"
    assert refusals(db) == ["the reply does not come from the paged person's address"]
    assert answers(db, "mallory@evil.example") == []  # no answer to a stranger


def test_a_reply_the_mail_server_found_forged_does_nothing(
    db: Database, paged: dict[str, Any]
) -> None:
    spoofed = reply(paged["taras"], "taras@dc.example", "ack", Authentication_Results=(
        "mx.dc.example; spf=fail smtp.mailfrom=dc.example; dmarc=fail header.from=dc.example"))
    assert handle(db, paged["settings"], spoofed) is True
    assert incident(db, paged["incident"]).status == "triggered"
    assert refusals(db) == ["the mail server found the sender forged (DMARC failed)"]
    genuine = reply(paged["taras"], "taras@dc.example", "ack", Authentication_Results=(
        "mx.dc.example; spf=pass smtp.mailfrom=dc.example; dmarc=pass header.from=dc.example"))
    assert handle(db, paged["settings"], genuine) is True
    assert incident(db, paged["incident"]).status == "acknowledged"


def test_ivan_replies_in_ukrainian_from_his_personal_mailbox_html_only(
    db: Database, paged: dict[str, Any]
) -> None:
    html = ('<div dir="ltr">Вирішено: перевели навантаження на UPS B</div>'
            '<div class="gmail_quote"><blockquote>ack</blockquote></div>')
    message = reply(paged["ivan"], "ivan.home@mail.example", "", html=html)
    assert handle(db, paged["settings"], message) is True
    row = incident(db, paged["incident"])
    assert (row.status, row.resolved_by, row.resolution_note) == (
        "resolved", "ivan@dc.example", "перевели навантаження на UPS B")


def test_the_token_is_found_by_the_subject_or_by_the_thread(
    db: Database, paged: dict[str, Any]
) -> None:
    unthreaded = reply(paged["taras"], "taras@dc.example", "esc", threaded=False)
    assert handle(db, paged["settings"], unthreaded) is True
    renamed = reply(paged["taras"], "taras@dc.example", "ack", subject="Re: UPS")
    assert handle(db, paged["settings"], renamed) is True
    row = incident(db, paged["incident"])
    assert (row.status, row.acknowledged_by) == ("acknowledged", "taras@dc.example")
    assert refusals(db) == []


def test_no_token_is_no_page_reply_unless_it_answers_a_page(
    db: Database, paged: dict[str, Any]
) -> None:
    stripped = reply(paged["taras"], "taras@dc.example", "ack", threaded=False,
                     subject="Re: [P1] #1 UPS A on battery")
    assert handle(db, paged["settings"], stripped) is True  # consumed, refused, logged
    unrelated = reply(paged["taras"], "taras@dc.example", "ack", threaded=False,
                      subject="printer on floor 2")
    assert handle(db, paged["settings"], unrelated) is False  # a request, not ours
    assert incident(db, paged["incident"]).status == "triggered"
    assert refusals(db) == ["no page token in the reply"]


def test_an_expired_token_an_automatic_reply_and_no_command_do_nothing(
    db: Database, paged: dict[str, Any]
) -> None:
    settings = paged["settings"]
    old = reply(paged["taras"], "taras@dc.example", "ack")
    assert handle(db, settings, old, later=timedelta(hours=settings.page_link_hours + 1))
    away = reply(paged["taras"], "taras@dc.example", "ack", Auto_Submitted="auto-replied")
    assert handle(db, settings, away)
    chatty = reply(paged["taras"], "taras@dc.example", "looking into it")
    assert handle(db, settings, chatty)
    assert incident(db, paged["incident"]).status == "triggered"
    reasons = refusals(db)
    assert reasons[0].startswith("expired token")
    assert reasons[1:] == ["automatic reply (RFC 3834)", "no command in the reply's first line"]


def test_a_reply_that_lost_the_race_is_told_who_acknowledged(
    db: Database, paged: dict[str, Any]
) -> None:
    assert handle(db, paged["settings"], reply(paged["ivan"], "Ivan.Home@mail.example", "принял"))
    assert handle(db, paged["settings"], reply(paged["taras"], "taras@dc.example", "прийняв"))
    assert incident(db, paged["incident"]).acknowledged_by == "ivan@dc.example"
    [told] = answers(db, "taras@dc.example")
    assert told.startswith("Not done: ivan@dc.example acknowledged incident")


def test_an_mta_can_pipe_a_reply_into_the_command_line(
    db: Database, paged: dict[str, Any], tmp_path: Any
) -> None:
    from click.testing import CliRunner

    from dutydesk.cli import main

    settings = paged["settings"]
    env = {"DUTYDESK_DATABASE_URL": settings.database_url, "DUTYDESK_CONFIG": "",
           "DUTYDESK_SECRET_KEY": settings.secret_key,
           "DUTYDESK_INSTANCE_PATH": str(tmp_path / "cli")}
    message = reply(paged["taras"], "taras@dc.example", "ack").as_bytes()
    acted = CliRunner().invoke(main, ["page-reply"], input=message, env=env,
                               catch_exceptions=False)
    assert (acted.exit_code, acted.output.strip()) == (0, "reply to a page: handled")
    assert incident(db, paged["incident"]).acknowledged_by == "taras@dc.example"
    other = reply(paged["taras"], "taras@dc.example", "hello", threaded=False,
                  subject="printer on floor 2").as_bytes()
    passed_on = CliRunner().invoke(main, ["page-reply"], input=other, env=env,
                                   catch_exceptions=False)
    assert (passed_on.exit_code, passed_on.output.strip()) == (1, "not a reply to a page")


def test_concurrent_acks_by_mail_and_by_link_one_wins_the_other_is_told_who(
    db: Database, paged: dict[str, Any]
) -> None:
    import threading

    from dutydesk.incidents.action_tokens import read_token
    from dutydesk.incidents.page_actions import act_with_claim, link_max_age

    settings = paged["settings"]
    with db.session() as s:
        ivan_id = s.scalar(select(User.id).where(User.email == "ivan@dc.example"))
    ivan_link = read_token(settings.secret_key, make_token(
        settings.secret_key, paged["incident"], ivan_id, "ack", "ivanlink", utcnow()),
        utcnow(), link_max_age(settings))
    taras_reply = reply(paged["taras"], "taras@dc.example", "ack")
    start = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def by_mail() -> None:
        start.wait()
        with db.session() as s:
            outcomes["mail"] = handle_page_reply(s, settings, taras_reply, utcnow())

    def by_link() -> None:
        start.wait()
        with db.session() as s:
            outcomes["link"] = act_with_claim(s, settings, ivan_link, "ack", via="link",
                                              now=utcnow())

    threads = [threading.Thread(target=by_mail), threading.Thread(target=by_link)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winner = incident(db, paged["incident"]).acknowledged_by
    with db.session() as s:
        acks = s.scalars(select(AuditEntry.actor).where(
            AuditEntry.action == "incident.acknowledge")).all()
    assert acks == [winner]  # exactly one acknowledgement, by whoever came first
    if winner == "ivan@dc.example":
        [told] = answers(db, "taras@dc.example")
        assert told.startswith("Not done: ivan@dc.example acknowledged incident")
    else:
        assert outcomes["link"].code == "already_acknowledged"
        assert outcomes["link"].by == "taras@dc.example"
