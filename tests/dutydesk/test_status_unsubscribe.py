"""Status page mail and webhooks: RFC 8058 one-click unsubscribe (headers in the real mail, a
GET changes nothing, the mail client's POST unsubscribes) and signed webhook posts."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.sender import deliver_due
from shifts.notices import service as svc
from shifts.notices import subscriptions as subs
from shifts.notices.orm import StatusSubscriber

from ..conftest import bearer
from .notify.receivers import HttpReceiver, SmtpServer

BASE = "https://status.dc.example"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def subscriber(db: Database) -> int:
    """Olena, subscribed to Mail and confirmed, hears of an outage."""
    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
        sub = subs.subscribe_email(s, "olena@dc.example", now=utcnow(), base_url=BASE,
                                   services=["mail"])
        sub.confirmed_at = utcnow()
        s.commit()
        svc.create_notice(s, "anna", kind="incident", title="Mail is down", body="Looking",
                          affected={"mail": "major_outage"}, now=utcnow(), base_url=BASE)
        s.commit()
        return sub.id


def _unsubscribe_path(db: Database, subscriber_id: int) -> str:
    with db.session() as s:
        return "/status/unsubscribe/" + subs.unsubscribe_token(s.get(StatusSubscriber,
                                                                     subscriber_id))


def _left(db: Database, subscriber_id: int) -> bool:
    with db.session() as s:
        return s.get(StatusSubscriber, subscriber_id).unsubscribed_at is not None


def test_the_real_mail_carries_list_unsubscribe_and_one_click_post(
    db: Database, settings: Settings, smtp: SmtpServer, subscriber: int
) -> None:
    mail_settings = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                        smtp_from="status@dc.example")
    deliver_due(db, mail_settings)
    (mail,) = [m for m in smtp.mailbox.messages if "Mail is down" in m["Subject"]]
    link = BASE + _unsubscribe_path(db, subscriber)
    assert mail["List-Unsubscribe"] == f"<{link}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in mail.get_content()


def test_a_get_of_the_link_only_asks_and_changes_nothing(
    client: Any, db: Database, subscriber: int
) -> None:
    page = client.get(_unsubscribe_path(db, subscriber))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="confirm-unsubscribe"' in html and 'method="post"' in html
    assert not _left(db, subscriber)  # a mail scanner opening the link unsubscribes nobody


def test_the_mail_clients_one_click_post_unsubscribes_without_a_session(
    app: Any, db: Database, subscriber: int
) -> None:
    mail_client = app.test_client()  # no cookie, no CSRF token: what a mail client sends
    answer = mail_client.post(_unsubscribe_path(db, subscriber),
                              data="List-Unsubscribe=One-Click",
                              content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert _left(db, subscriber)
    again = mail_client.get(_unsubscribe_path(db, subscriber))
    assert "no more status messages" in again.get_data(as_text=True)


@pytest.mark.parametrize("token", ["1.forged", "99999999999999999999999.x", "x", ""])
def test_a_forged_link_is_refused_by_get_and_post_and_changes_nothing(
    client: Any, db: Database, subscriber: int, token: str
) -> None:
    path = f"/status/unsubscribe/{token}" if token else "/status/unsubscribe/."
    assert client.get(path).status_code == 400
    assert client.post(path, data="List-Unsubscribe=One-Click").status_code == 400
    assert not _left(db, subscriber)


def test_status_webhook_posts_are_signed_and_the_receiver_verifies_them(
    client: Any, db: Database, settings: Settings, api_token: Any
) -> None:
    receiver = HttpReceiver()
    url = receiver.start()
    try:
        with db.session() as s:
            svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
        added = client.post("/api/v1/status/subscribers", headers=bearer(api_token("admin")),
                            json={"url": f"{url}/hook"})
        assert added.status_code == 201
        secret = added.get_json()["secret"]
        listed = client.get("/api/v1/status/subscribers", headers=bearer(api_token("admin")))
        assert "secret" not in listed.get_data(as_text=True)  # shown once, at creation
        client.post("/api/v1/notices", headers=bearer(api_token("engineer")), json={
            "title": "Mail is down", "body": "On it.", "affected": {"mail": "major_outage"}})
        deliver_due(db, settings)
        (request,) = receiver.requests
        # verified as the README tells a receiver to: HMAC-SHA256 over "<timestamp>.<body>"
        signed = request["headers"]["X-DutyDesk-Timestamp"].encode() + b"." + request["raw"]
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request["headers"]["X-DutyDesk-Signature"],
                                   f"sha256={expected}")
        tampered = hmac.new(b"not-the-secret-at-all", signed, hashlib.sha256)
        assert request["headers"]["X-DutyDesk-Signature"] != f"sha256={tampered.hexdigest()}"
    finally:
        receiver.stop()


def test_a_webhook_added_with_its_own_secret_is_signed_with_it(db: Database) -> None:
    with db.session() as s:
        sub = subs.add_webhook(s, "https://hooks.example/x", now=utcnow(),
                               secret="a-shared-secret-of-32-characters")
        assert sub.secret == "a-shared-secret-of-32-characters"
        with pytest.raises(subs.SubscriptionError, match="16 to 200"):
            subs.add_webhook(s, "https://hooks.example/y", now=utcnow(), secret="short")
        assert s.scalar(select(StatusSubscriber.id).where(
            StatusSubscriber.target == "https://hooks.example/y")) is None
