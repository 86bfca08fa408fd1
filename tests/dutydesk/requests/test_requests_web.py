"""The screens of requests: an employee's /help with its mailed link, "me too", the first
line's queue, a request page, "log a call", and the incident's "people affected"."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.security import Principal
from dutydesk.incidents.service import report_manually
from dutydesk.requests import service as req
from dutydesk.requests.mail import requester_token
from dutydesk.requests.models import IncidentFollower, ServiceRequest
from shifts.notices import service as svc
from tests.conftest import form_token

OLGA = Principal(kind="user", role=Role.ENGINEER, label="olga")


def mail_service(db: Database) -> None:
    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())


def outage(db: Database, settings: Settings) -> int:
    with db.session() as s:
        return report_manually(s, OLGA, title="Mail is down", service="mail",
                               severity="critical", details="", settings=settings, now=utcnow())


def my_page(settings: Settings, email: str = "anna@corp.example") -> str:
    return f"/help/my/{requester_token(settings.secret_key, email)}"


def requests(db: Database) -> list[ServiceRequest]:
    with db.session() as s:
        return list(s.scalars(select(ServiceRequest).order_by(ServiceRequest.id)))


def test_an_anonymous_employee_gets_their_link_by_mail_once_an_hour(
    client: Any, db: Database, settings: Settings
) -> None:
    page = client.get("/help").get_data(as_text=True)
    assert "Mail me my link" in page
    token = form_token(client, "/help")
    for _ in range(2):
        assert client.post("/help/link", data={"email": "Anna@Corp.example",
                                               "csrf_token": token}).status_code == 200
    with db.session() as s:
        [message] = s.scalars(select(OutboxMessage)).all()
    link = re.search(r"/help/my/\S+", message.body_text).group(0)  # type: ignore[union-attr]
    assert "New request" in client.get(link).get_data(as_text=True)


def test_the_link_lets_them_send_a_request_and_see_it(
    client: Any, db: Database, settings: Settings
) -> None:
    mail_service(db)
    page = my_page(settings)
    token = form_token(client, page)
    response = client.post(page, data={"service": "mail", "description": "Outlook is offline",
                                       "csrf_token": token})
    assert response.status_code == 302
    [row] = requests(db)
    assert (row.requester_email, row.channel, row.service) == ("anna@corp.example", "web",
                                                                "mail")
    assert row.number in client.get(page).get_data(as_text=True)


def test_a_forged_link_is_refused(client: Any) -> None:
    assert client.get("/help/my/not-a-real-token").status_code == 403


def test_a_form_without_service_or_with_a_100_kb_description_is_refused(
    client: Any, db: Database, settings: Settings
) -> None:
    mail_service(db)
    page = my_page(settings)
    token = form_token(client, page)
    missing = client.post(page, data={"description": "x", "csrf_token": token})
    assert missing.status_code == 400 and "service is required" in missing.get_data(as_text=True)
    huge = client.post(page, data={"service": "mail", "description": "x" * 100_000,
                                   "csrf_token": token})
    assert huge.status_code == 400 and "characters long" in huge.get_data(as_text=True)
    assert requests(db) == []


def test_the_form_shows_the_known_outage_and_me_too_links_instead_of_a_new_request(
    client: Any, db: Database, settings: Settings
) -> None:
    mail_service(db)
    incident_id = outage(db, settings)
    page = my_page(settings)
    html = client.get(page + "?service=mail").get_data(as_text=True)
    assert "Mail is down" in html and "Me too, keep me informed" in html
    token = form_token(client, page)
    assert client.post(page, data={"follow": str(incident_id), "service": "mail",
                                   "csrf_token": token}).status_code == 302
    assert requests(db) == []
    with db.session() as s:
        assert req.deflection_count(s) == 1
        assert s.scalar(select(IncidentFollower.email)) == "anna@corp.example"


def test_the_queue_puts_the_most_urgent_first_and_the_request_page_replies_and_links(
    signed_in: Any, db: Database, settings: Settings
) -> None:
    mail_service(db)
    with db.session() as s:
        low = req.create_request(s, settings, "x", req.Requester("low@corp.example"),
                                 service="mail", description="font is ugly", now=utcnow())
        high = req.create_request(s, settings, "x", req.Requester("boss@corp.example"),
                                  service="mail", description="cannot send", impact=1,
                                  urgency=1, now=utcnow())
        low_id, high_id = low.id, high.id
    incident_id = outage(db, settings)
    engineer = signed_in(Role.ENGINEER)
    queue = engineer.get("/requests").get_data(as_text=True)
    assert queue.index(f"REQ-{high_id}") < queue.index(f"REQ-{low_id}")
    page = f"/requests/{high_id}"
    token = form_token(engineer, page)
    engineer.post(page, data={"action": "reply", "text": "Looking into it",
                              "csrf_token": token})
    engineer.post(page, data={"action": "link", "incident_id": str(incident_id),
                              "csrf_token": token})
    with db.session() as s:
        row = s.get(ServiceRequest, high_id)
        assert (row.status, row.incident_id) == ("in_progress", incident_id)
        assert any("Looking into it" in m.body_text for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.target == "boss@corp.example")))
    incident = engineer.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "1 person affected" in incident and f"REQ-{high_id}" in incident


def test_a_refused_action_says_why_and_changes_nothing(
    signed_in: Any, db: Database, settings: Settings
) -> None:
    with db.session() as s:
        request_id = req.create_request(s, settings, "x", req.Requester("a@corp.example"),
                                        service="mail", description="d", now=utcnow()).id
    engineer = signed_in(Role.ENGINEER)
    page = f"/requests/{request_id}"
    response = engineer.post(page, data={"action": "wait", "csrf_token": form_token(engineer,
                                                                                   page)})
    assert response.status_code == 400
    assert "reason is required" in response.get_data(as_text=True)
    assert requests(db)[0].status == "new"
    assert engineer.get(f"/requests/{2**64}").status_code == 404


def test_logging_a_call_suggests_the_open_incident_and_links_to_it(
    signed_in: Any, db: Database, settings: Settings
) -> None:
    mail_service(db)
    incident_id = outage(db, settings)
    engineer = signed_in(Role.ENGINEER)
    form = engineer.get("/requests/new?service=mail").get_data(as_text=True)
    assert f'value="{incident_id}"' in form and "Mail is down" in form
    response = engineer.post("/requests/new", data={
        "email": "ivan@corp.example", "service": "mail", "description": "calls: no mail",
        "channel": "phone", "incident": str(incident_id),
        "csrf_token": form_token(engineer, "/requests/new")})
    assert response.status_code == 302
    [row] = requests(db)
    assert (row.channel, row.incident_id) == ("phone", incident_id)


def test_the_menu_leads_engineers_to_the_queue_and_viewers_cannot_open_it(
    signed_in: Any
) -> None:
    assert '<a href="/requests">Requests</a>' in signed_in(Role.ENGINEER).get(
        "/incidents").get_data(as_text=True)
    viewer = signed_in(Role.VIEWER)
    assert '<a href="/requests">' not in viewer.get("/incidents").get_data(as_text=True)
    assert viewer.get("/requests").status_code == 403


def test_the_requester_answers_and_confirms_through_their_link_and_no_one_elses(
    client: Any, db: Database, settings: Settings
) -> None:
    with db.session() as s:
        row = req.create_request(s, settings, "x", req.Requester("anna@corp.example"),
                                 service="mail", description="no mail", now=utcnow())
        req.perform(s, settings, OLGA, row.id, "wait", utcnow(), reason="which error?")
        request_id = row.id
    page = f"{my_page(settings)}/{request_id}"
    assert "which error?" in client.get(page).get_data(as_text=True)
    token = form_token(client, page)
    client.post(page, data={"action": "reply", "text": "Error 0x800CCC0E",
                            "csrf_token": token})
    assert requests(db)[0].status == "in_progress"  # the answer resumes the request
    with db.session() as s:
        req.perform(s, settings, OLGA, request_id, "resolve", utcnow(), note="port fixed")
    client.post(page, data={"action": "confirm", "csrf_token": token})
    assert requests(db)[0].status == "closed"
    assert client.get(f"{my_page(settings, 'boris@corp.example')}/{request_id}"
                      ).status_code == 404
    after = client.post(page, data={"action": "reply", "text": "again", "csrf_token": token})
    assert after.status_code == 400 and "closed" in after.get_data(as_text=True)
