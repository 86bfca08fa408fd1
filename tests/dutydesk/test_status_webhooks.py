"""Webhook subscribers of the status page: admin screen, API, delivery to a real receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.notify.sender import deliver_due
from dutydesk.models import AuditEntry
from shifts.notices import service as svc

from ..conftest import bearer, form_token
from .notify.receivers import HttpReceiver


@pytest.fixture
def receiver() -> Iterator[tuple[HttpReceiver, str]]:
    server = HttpReceiver()
    url = server.start()
    yield server, url
    server.stop()


@pytest.fixture
def services(db: Database) -> None:
    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
        svc.save_service(s, "admin", slug="vpn", name="VPN", now=utcnow())


def publish(client: Any, token: str, slug: str = "mail") -> int:
    made = client.post("/api/v1/notices", headers=bearer(token), json={
        "title": f"{slug} is down", "body": "We are on it.", "affected": {slug: "major_outage"}})
    assert made.status_code == 201, made.get_json()
    return made.get_json()["id"]


def test_admin_adds_webhook_by_api_and_it_hears_publish_and_updates(
        client: Any, db: Database, settings: Settings, api_token: Any, services: None,
        receiver: tuple[HttpReceiver, str]) -> None:
    server, url = receiver
    admin = api_token("admin")
    added = client.post("/api/v1/status/subscribers", headers=bearer(admin),
                        json={"url": f"{url}/hook", "services": ["mail"]})
    assert added.status_code == 201 and added.get_json()["services"] == ["mail"]
    engineer = api_token("engineer")
    notice_id = publish(client, engineer, "mail")
    publish(client, engineer, "vpn")  # not one of the subscriber's services
    resolved = client.post(f"/api/v1/notices/{notice_id}/updates", headers=bearer(engineer),
                           json={"status": "resolved", "body": "Mail works again."})
    assert resolved.status_code == 201
    deliver_due(db, settings)
    bodies = [r["body"] for r in server.requests]
    assert [r["path"] for r in server.requests] == ["/hook", "/hook"]
    assert [(b["notice"]["title"], b["update"]["status"]) for b in bodies] == [
        ("mail is down", "investigating"), ("mail is down", "resolved")]
    assert bodies[1]["update"]["body"] == "Mail works again."
    assert bodies[0]["notice"]["affected"] == [{"service": "mail", "impact": "major_outage"}]
    assert server.requests[0]["headers"]["Idempotency-Key"] != \
        server.requests[1]["headers"]["Idempotency-Key"]


def test_removed_webhook_hears_nothing_more(client: Any, db: Database, settings: Settings,
                                           api_token: Any, services: None,
                                           receiver: tuple[HttpReceiver, str]) -> None:
    server, url = receiver
    admin = api_token("admin")
    client.post("/api/v1/status/subscribers", headers=bearer(admin), json={"url": url})
    listed = client.get("/api/v1/status/subscribers", headers=bearer(admin)).get_json()
    assert [x["url"] for x in listed["subscribers"]] == [url]
    removed = client.post("/api/v1/status/subscribers", headers=bearer(admin),
                          json={"url": url, "remove": True})
    assert removed.status_code == 200 and removed.get_json()["active"] is False
    publish(client, api_token("engineer"))
    deliver_due(db, settings)
    assert server.requests == []
    again = client.post("/api/v1/status/subscribers", headers=bearer(admin),
                        json={"url": url, "remove": True})
    assert again.status_code == 404
    assert "no active webhook subscriber" in again.get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [({"url": "ftp://files.example/hook"}, "must start with http:// or https://"),
     ({"url": "http://127.0.0.1/hook", "services": ["no-such"]}, "unknown service(s): no-such"),
     ({"url": "http://127.0.0.1/hook", "services": "mail"}, "services must be a list")],
)
def test_bad_webhook_is_refused_and_nothing_stored(client: Any, api_token: Any, services: None,
                                                   body: dict, fragment: str) -> None:
    admin = api_token("admin")
    answer = client.post("/api/v1/status/subscribers", headers=bearer(admin), json=body)
    assert answer.status_code == 400 and fragment in answer.get_data(as_text=True)
    assert client.get("/api/v1/status/subscribers",
                      headers=bearer(admin)).get_json()["subscribers"] == []


def test_only_admins_manage_webhooks(client: Any, api_token: Any, signed_in: Any) -> None:
    engineer = api_token("engineer")
    assert client.post("/api/v1/status/subscribers", headers=bearer(engineer),
                       json={"url": "http://127.0.0.1/x"}).status_code == 403
    assert signed_in("engineer").get("/notices/subscribers").status_code == 403


def test_admin_screen_adds_and_removes_a_webhook(signed_in: Any, db: Database,
                                                 services: None) -> None:
    admin = signed_in("admin")
    token = form_token(admin, "/notices/subscribers")
    admin.post("/notices/subscribers", data={"csrf_token": token, "action": "add",
                                             "url": "https://chat.example/hooks/status",
                                             "services": ["vpn"]})
    page = admin.get("/notices/subscribers").get_data(as_text=True)
    assert "<td>https://chat.example/hooks/status</td>" in page and "<td>VPN</td>" in page
    bad = admin.post("/notices/subscribers", data={"csrf_token": token, "url": "nope"},
                     follow_redirects=True).get_data(as_text=True)
    assert "must start with http:// or https://" in bad
    with db.session() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity_type == "status_subscriber")))
        from shifts.notices.orm import StatusSubscriber
        sub_id = s.scalar(select(StatusSubscriber.id))
    assert actions == ["status_subscriber.add"]
    admin.post("/notices/subscribers", data={"csrf_token": token, "action": "remove",
                                             "subscriber_id": sub_id})
    page = admin.get("/notices/subscribers").get_data(as_text=True)
    assert "<td>https://chat.example/hooks/status</td>" not in page
    assert "No webhook subscribers yet." in page
