"""Signed action links in a page: Taras, paged at night, acknowledges from the mail itself.

The page goes through a real SMTP server (aiosmtpd); the links in it are opened by a browser
that is not signed in. A GET only shows what the link will do (mail scanners open links); the
POST from that page acts, once, as Taras, audited and on the timeline as him.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.action_tokens import (
    BadActionToken,
    make_token,
    read_token,
    token_in_text,
)
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.escalation import escalation_due
from dutydesk.incidents.models import ContactMethod, Incident, IncidentEventRow
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.recipients import policy_for
from dutydesk.incidents.store import timeline
from dutydesk.models import Role
from tests.conftest import csrf_from, make_user
from tests.dutydesk.notify.receivers import HttpReceiver, SmtpServer

SECRET = "s" * 40
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


# --------------------------------------------------------------------------- the token (pure)


def test_a_token_names_the_incident_person_and_action_it_was_made_for() -> None:
    token = make_token(SECRET, 42, 7, "ack", "abcdef12", T0)
    claim = read_token(SECRET, token, T0 + timedelta(hours=23), DAY)
    assert (claim.incident_id, claim.user_id, claim.action) == (42, 7, "ack")
    assert claim.use_key == "abcdef12:ack"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t.replace("-7-ack-", "-8-ack-"), "forged"),  # another person
        (lambda t: t.replace("-ack-", "-resolve-"), "forged"),  # another action
        (lambda t: t.replace("42-", "43-", 1), "forged"),  # another incident
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "forged"),  # signature
        (lambda t: "made-up", "forged"),
        (lambda t: "x" * 500, "forged"),
    ],
)
def test_an_altered_token_is_refused_as_forged(change: Any, reason: str) -> None:
    token = make_token(SECRET, 42, 7, "ack", "abcdef12", T0)
    with pytest.raises(BadActionToken) as refused:
        read_token(SECRET, change(token), T0, DAY)
    assert refused.value.reason == reason


def test_a_token_of_another_site_is_forged_and_an_old_one_expired() -> None:
    token = make_token(SECRET, 42, 7, "ack", "abcdef12", T0)
    with pytest.raises(BadActionToken) as other_site:
        read_token("t" * 40, token, T0, DAY)
    assert other_site.value.reason == "forged"
    with pytest.raises(BadActionToken) as old:
        read_token(SECRET, token, T0 + DAY + timedelta(seconds=1), DAY)
    assert old.value.reason == "expired"
    assert "expired at 2026-11-24 03:00 UTC" in str(old.value)


def test_the_reply_token_is_found_in_a_reply_subject() -> None:
    token = make_token(SECRET, 42, 7, "reply", "abcdef12", T0)
    assert token_in_text(f"Re: [P1] #42 UPS A on battery [#{token}]") == token
    assert token_in_text("Re: [P1] #42 UPS A on battery") is None


# --------------------------------------------------------------------------- the links, end to end


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.url = receiver.start()  # type: ignore[attr-defined]
    yield receiver
    receiver.stop()


@pytest.fixture
def night(app: Any, db: Database, smtp: SmtpServer, hook: HttpReceiver) -> dict[str, Any]:
    """Taras (mail) and Ivan (mail and webhook) are paged for a P1 that opened just now."""
    settings = dataclasses.replace(app.extensions["dutydesk"].settings, smtp_host="127.0.0.1",
                                   smtp_port=smtp.port)
    app.extensions["dutydesk"].settings = settings
    taras = make_user(db, Role.ENGINEER, email="taras@dc.example")
    ivan = make_user(db, Role.ENGINEER, email="ivan@dc.example", language="uk")
    with db.session() as s:
        s.add(ContactMethod(user_id=ivan.id, kind="email", target="ivan@dc.example"))
        s.add(ContactMethod(user_id=ivan.id, kind="webhook", target=hook.url + "/ivan"))
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:ups-a",
                  status=AlertStatus.FIRING, starts_at=utcnow(), summary="UPS A on battery",
                  severity=Severity.CRITICAL, details={"impact": 1, "urgency": 1})
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert], settings=settings, now=utcnow()).opened
    deliver_due(db, settings)
    return {"settings": settings, "taras": taras, "ivan": ivan, "incident": incident_id}


def mail_to(smtp: SmtpServer, address: str) -> Any:
    [mail] = [m for m in smtp.mailbox.messages if m["To"] == address]
    return mail


def link(mail: Any, label: str) -> str:
    body = mail.get_body(("plain",)).get_content()
    match = re.search(rf"^{re.escape(label)}: (http\S+)", body, re.M)
    assert match, body
    return "/" + match.group(1).split("/", 3)[3]


def confirm(app: Any, path: str, **form: str) -> Any:
    """A browser that is not signed in opens the link and presses the button."""
    browser = app.test_client()
    page = browser.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return browser.post(path.split("?")[0], data={"csrf_token": csrf_from(page.get_data(
        as_text=True)), **form})


def status(db: Database, incident_id: int) -> Incident:
    with db.session() as s:
        incident = s.get(Incident, incident_id)
        s.expunge(incident)
        return incident


def test_every_channel_of_the_page_carries_the_links_and_the_mail_a_reply_token(
    night: dict[str, Any], smtp: SmtpServer, hook: HttpReceiver
) -> None:
    mail = mail_to(smtp, "taras@dc.example")
    for label in ("Acknowledge", "Resolve", "Escalate", "Snooze 30 min", "Open"):
        assert link(mail, label).startswith("/act/")
    token = token_in_text(mail["Subject"])
    assert token and f"<page.{token}@" in mail["Message-ID"]
    [payload] = [r["body"] for r in hook.requests if r["path"] == "/ivan"]
    assert set(payload["actions"]) == {"ack", "resolve", "escalate", "snooze", "open"}
    assert payload["actions"]["ack"].endswith("?lang=uk")  # opens in Ivan's language
    # Each person gets links of their own.
    assert link(mail, "Acknowledge") != link(mail_to(smtp, "ivan@dc.example"), "Acknowledge")


def test_opening_the_link_changes_nothing_pressing_the_button_acknowledges_as_taras(
    app: Any, db: Database, night: dict[str, Any], smtp: SmtpServer
) -> None:
    ack = link(mail_to(smtp, "taras@dc.example"), "Acknowledge")
    for _ in range(3):  # a mail scanner, a link preview, the person
        page = app.test_client().get(ack)
        assert page.status_code == 200
        assert "You act as taras@dc.example" in page.get_data(as_text=True)
        assert page.headers["Cache-Control"] == "no-store"
    assert status(db, night["incident"]).status == "triggered"

    done = confirm(app, ack)
    assert done.status_code == 200 and "Acknowledged." in done.get_data(as_text=True)
    incident = status(db, night["incident"])
    assert (incident.status, incident.acknowledged_by) == ("acknowledged", "taras@dc.example")
    with db.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action ==
                                                     "incident.acknowledge")).all()
        assert (entry.actor, entry.actor_user_id) == ("taras@dc.example", night["taras"].id)
        assert entry.after["via"] == "link"
        kinds = [(r.kind, r.actor, r.data.get("via")) for r in s.scalars(select(
            IncidentEventRow).where(IncidentEventRow.incident_id == night["incident"]))]
        assert ("acknowledged", "taras@dc.example", "link") in kinds


def test_a_link_works_once(app: Any, db: Database, night: dict[str, Any],
                           smtp: SmtpServer) -> None:
    escalate = link(mail_to(smtp, "taras@dc.example"), "Escalate")
    assert confirm(app, escalate).status_code == 200
    again = app.test_client().get(escalate)
    assert again.status_code == 410
    assert "already used" in again.get_data(as_text=True)
    with db.session() as s:
        escalated = [r for r in s.scalars(select(IncidentEventRow).where(
            IncidentEventRow.incident_id == night["incident"],
            IncidentEventRow.kind == "escalated"))]
    assert len(escalated) == 1 and escalated[0].actor == "taras@dc.example"


def test_the_second_to_acknowledge_is_told_who_was_first(
    app: Any, night: dict[str, Any], smtp: SmtpServer
) -> None:
    taras_ack = link(mail_to(smtp, "taras@dc.example"), "Acknowledge")
    taras = app.test_client()
    page = taras.get(taras_ack)  # Taras has the confirmation page open...
    assert confirm(app, link(mail_to(smtp, "ivan@dc.example"), "Acknowledge")).status_code == 200
    late = taras.post(taras_ack, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert late.status_code == 409  # ... and presses the button after Ivan acknowledged
    assert "ivan@dc.example acknowledged this incident" in late.get_data(as_text=True)
    reopened = app.test_client().get(taras_ack)
    assert reopened.status_code == 409
    assert "ivan@dc.example acknowledged" in reopened.get_data(as_text=True)


def test_a_post_without_the_pages_csrf_token_does_nothing(
    app: Any, db: Database, night: dict[str, Any], smtp: SmtpServer
) -> None:
    ack = link(mail_to(smtp, "taras@dc.example"), "Acknowledge")
    assert app.test_client().post(ack, data={}).status_code == 400
    assert status(db, night["incident"]).status == "triggered"


def test_resolve_asks_for_the_note(app: Any, db: Database, night: dict[str, Any],
                                   smtp: SmtpServer) -> None:
    resolve = link(mail_to(smtp, "taras@dc.example"), "Resolve")
    missing = confirm(app, resolve, note="  ")
    assert missing.status_code == 422
    assert 'name="note"' in missing.get_data(as_text=True)
    assert status(db, night["incident"]).status == "triggered"
    done = confirm(app, resolve, note="moved the load to UPS B")
    assert done.status_code == 200
    incident = status(db, night["incident"])
    assert (incident.status, incident.resolved_by, incident.resolution_note) == (
        "resolved", "taras@dc.example", "moved the load to UPS B")


def test_snooze_acknowledges_for_thirty_minutes_then_pages_again(
    app: Any, db: Database, night: dict[str, Any], smtp: SmtpServer
) -> None:
    assert confirm(app, link(mail_to(smtp, "taras@dc.example"), "Snooze 30 min")
                   ).status_code == 200
    with db.session() as s:
        incident = s.get(Incident, night["incident"])
        assert incident.status == "acknowledged"
        events = timeline(s, incident.id)
        policy = policy_for(s, incident)
    acked = incident.acknowledged_at
    later = escalation_due(policy, events, acked + timedelta(minutes=30))
    assert later.retrigger_due and later.snoozed
    assert not escalation_due(policy, events, acked + timedelta(minutes=29)).retrigger_due


def test_open_goes_to_the_incident_page(app: Any, night: dict[str, Any],
                                        smtp: SmtpServer) -> None:
    answer = app.test_client().get(link(mail_to(smtp, "taras@dc.example"), "Open"))
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/incidents/{night['incident']}")


@pytest.mark.parametrize("lang", ["en", "ru", "uk"])
def test_a_forged_or_expired_link_says_why(app: Any, night: dict[str, Any], lang: str) -> None:
    settings = night["settings"]
    forged = app.test_client().get(f"/act/123-4-ack-abcdef12.AAAAAA.{'x' * 27}?lang={lang}")
    assert forged.status_code == 400
    old = make_token(settings.secret_key, night["incident"], night["taras"].id, "ack",
                     "abcdef12", utcnow() - timedelta(hours=settings.page_link_hours, minutes=1))
    expired = app.test_client().get(f"/act/{old}?lang={lang}")
    assert expired.status_code == 410
    words = {"en": "This link has expired", "ru": "Срок действия ссылки истёк",
             "uk": "Термін дії посилання минув"}
    assert words[lang] in expired.get_data(as_text=True)
    posted = app.test_client().post(f"/act/{old}", data={})
    assert posted.status_code in (400, 410)  # no CSRF token, and expired: nothing done either way


def test_a_reply_token_is_no_link_and_a_viewer_cannot_act(
    app: Any, db: Database, night: dict[str, Any]
) -> None:
    key = night["settings"].secret_key
    reply = make_token(key, night["incident"], night["taras"].id, "reply", "abcdef12", utcnow())
    assert app.test_client().get(f"/act/{reply}").status_code == 400
    viewer = make_user(db, Role.VIEWER)
    theirs = make_token(key, night["incident"], viewer.id, "ack", "abcdef12", utcnow())
    assert app.test_client().get(f"/act/{theirs}").status_code == 403
    assert status(db, night["incident"]).status == "triggered"


JUNK_TOKENS = ["", "x", "1-1-ack-abcdef12", "1-1-ack-abcdef12.AAAA.BBBB", "..", "%00",
               "1-1-ack-abcdef12." + "A" * 300, "<script>", "9" * 40 + "-1-ack-abcdef12.a.b",
               "1-1-reply-abcdef12.axbnNQ.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "ü" * 50]


@pytest.mark.parametrize("token", JUNK_TOKENS)
def test_junk_in_the_link_is_refused_with_4xx_never_5xx(app: Any, token: str) -> None:
    browser = app.test_client()
    assert 400 <= browser.get(f"/act/{token}").status_code < 500
    page = browser.get("/act/x").get_data(as_text=True)
    answer = browser.post(f"/act/{token}", data={"csrf_token": csrf_from(page),
                                                  "note": "ü" * 30000})
    assert 400 <= answer.status_code < 500


def test_junk_in_the_note_never_breaks_the_page(app: Any, db: Database, night: dict[str, Any],
                                                smtp: SmtpServer) -> None:
    resolve = link(mail_to(smtp, "taras@dc.example"), "Resolve")
    for junk in ("x\x00y", "ü" * 30000, "<script>alert(1)</script>"):
        answer = confirm(app, resolve, note=junk)
        assert answer.status_code < 500
    assert status(db, night["incident"]).resolution_note == "<script>alert(1)</script>"


def test_uses_are_forgotten_once_no_link_that_old_can_work(app: Any, db: Database,
                                                           night: dict[str, Any],
                                                           smtp: SmtpServer) -> None:
    from dutydesk.incidents.models import PageTokenUse
    from dutydesk.incidents.page_actions import purge_token_uses

    assert confirm(app, link(mail_to(smtp, "taras@dc.example"), "Escalate")).status_code == 200
    settings = night["settings"]
    with db.session() as s:
        assert purge_token_uses(s, settings, utcnow() + timedelta(hours=24)) == 0
    with db.session() as s:
        assert purge_token_uses(s, settings, utcnow() + timedelta(hours=24 + 25)) == 1
        assert s.scalars(select(PageTokenUse)).all() == []


def test_only_the_mail_asks_for_a_reply(night: dict[str, Any], smtp: SmtpServer,
                                        db: Database) -> None:
    from dutydesk.models import OutboxMessage

    with db.session() as s:
        bodies = {m.channel: m.body_text for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.target.like("%ivan%")))}
    assert "reply to this mail" in bodies["email"]
    assert "reply to this mail" not in bodies["webhook"]
    assert "Acknowledge: http" in bodies["webhook"]
