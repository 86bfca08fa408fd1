"""Satisfaction: the resolution mail's one-click rating — asked on GET (a mail scanner opening
the link changes nothing), recorded on POST, once, without signing in; a bad rating tells the
shift lead; the rating shows on the request page."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.security import Principal
from dutydesk.requests import service as req
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.mail import rating_token, requester_token
from dutydesk.requests.models import RequestRating, ServiceRequest
from tests.conftest import form_token, login, make_user

OLGA = Principal(kind="user", role=Role.ENGINEER, label="olga@dc.example")


def resolved_request(db: Database, settings: Settings, email: str = "anna@corp.example",
                     language: str = "en") -> int:
    with db.session() as s:
        row = req.create_request(s, settings, email, req.Requester(email, "Anna", language),
                                 service="mail", description="Outlook cannot connect",
                                 now=utcnow())
        req.perform(s, settings, OLGA, row.id, Action.RESOLVE, utcnow(),
                    note="The mailbox was full; archived old mail.")
        s.commit()
        return row.id


def mails(db: Database, target: str | None = None) -> list[OutboxMessage]:
    with db.session() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if target:
            query = query.where(OutboxMessage.target == target)
        return list(s.scalars(query))


def rating_links(db: Database, email: str = "anna@corp.example") -> dict[str, str]:
    resolution = mails(db, email)[-1]
    found = re.findall(r"(/help/rate/\S+/(good|bad))", resolution.body_text)
    return {choice: path for path, choice in found}


def ratings(db: Database) -> list[RequestRating]:
    with db.session() as s:
        return list(s.scalars(select(RequestRating)))


def test_the_resolution_mail_carries_a_good_and_a_bad_link_in_the_requesters_language(
    db: Database, settings: Settings
) -> None:
    resolved_request(db, settings, language="uk")
    resolution = mails(db, "anna@corp.example")[-1]
    assert set(rating_links(db)) == {"good", "bad"}
    assert "Як ми впоралися" in resolution.body_text


def test_opening_a_link_asks_and_changes_nothing_then_the_post_records_it_once(
    client: Any, db: Database, settings: Settings
) -> None:
    request_id = resolved_request(db, settings)
    good = rating_links(db)["good"]
    page = client.get(good)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'value="good" checked' in text and "Comment (optional)" in text
    assert ratings(db) == []
    token = form_token(client, good)
    done = client.post(good, data={"rating": "good", "comment": "Quick, thanks",
                                   "csrf_token": token})
    assert done.status_code == 200
    assert f"Your rating of REQ-{request_id} is recorded: Good." in done.get_data(as_text=True)
    [rating] = ratings(db)
    assert (rating.request_id, rating.rating, rating.comment) == (request_id, "good",
                                                                   "Quick, thanks")
    again = client.post(good, data={"rating": "bad", "csrf_token": token})
    assert again.status_code == 409
    assert "rated already" in again.get_data(as_text=True)
    assert [r.rating for r in ratings(db)] == ["good"]
    assert "rated already" in client.get(good).get_data(as_text=True)


def test_a_bad_rating_mails_the_shift_lead_with_the_comment_and_a_good_one_does_not(
    client: Any, db: Database, settings: Settings
) -> None:
    lead = make_user(db, Role.SHIFT_LEAD, language="ru")
    first = resolved_request(db, settings, "anna@corp.example")
    second = resolved_request(db, settings, "boris@corp.example")
    good = rating_links(db, "anna@corp.example")["good"]
    client.post(good, data={"rating": "good", "csrf_token": form_token(client, good)})
    assert mails(db, lead.email) == []
    bad = rating_links(db, "boris@corp.example")["bad"]
    client.post(bad, data={"rating": "bad", "comment": "Took three days",
                           "csrf_token": form_token(client, bad)})
    [told] = mails(db, lead.email)
    assert f"REQ-{second}" in told.subject and "плох" in told.subject
    assert "Took three days" in told.body_text and f"/requests/{second}" in told.body_text
    assert first != second


def test_the_rating_may_be_changed_on_the_page_before_sending(
    client: Any, db: Database, settings: Settings
) -> None:
    resolved_request(db, settings)
    good = rating_links(db)["good"]
    client.post(good, data={"rating": "bad", "csrf_token": form_token(client, good)})
    assert [r.rating for r in ratings(db)] == ["bad"]


def test_forged_or_foreign_links_and_bad_input_are_refused_and_record_nothing(
    client: Any, db: Database, settings: Settings
) -> None:
    request_id = resolved_request(db, settings)
    good = rating_links(db)["good"]
    token = form_token(client, good)
    assert client.get(good[:-10] + "x" * 6 + "/good").status_code == 403
    # the "my requests" token is signed with another salt: it is not a rating token
    assert client.get(f"/help/rate/{requester_token(settings.secret_key, 'anna@corp.example')}"
                      "/good").status_code == 403
    stolen = rating_token(settings.secret_key, request_id, "eve@corp.example")
    assert client.get(f"/help/rate/{stolen}/good").status_code == 404
    assert client.get(good.replace("/good", "/meh")).status_code == 404
    assert client.post(good, data={"rating": "meh", "csrf_token": token}).status_code == 400
    assert client.post(good, data={"rating": "good", "comment": "x" * 2001,
                                   "csrf_token": token}).status_code == 400
    assert client.post(good, data={"rating": "good"}).status_code == 400  # no CSRF token
    assert ratings(db) == []


def test_a_reopened_request_cannot_be_rated_until_it_is_resolved_again(
    client: Any, db: Database, settings: Settings
) -> None:
    request_id = resolved_request(db, settings)
    good = rating_links(db)["good"]
    with db.session() as s:
        req.perform(s, settings, OLGA, request_id, Action.REOPEN, utcnow(), reason="still down")
        s.commit()
    text = client.get(good).get_data(as_text=True)
    assert "is not resolved" in text
    response = client.post(good, data={"rating": "good",
                                       "csrf_token": form_token(client, "/help")})
    assert response.status_code == 409
    assert ratings(db) == []


def test_the_request_page_shows_the_rating_and_its_comment(
    app: Any, db: Database, settings: Settings
) -> None:
    request_id = resolved_request(db, settings)
    anon = app.test_client()
    bad = rating_links(db)["bad"]
    anon.post(bad, data={"rating": "bad", "comment": "Nobody called back",
                         "csrf_token": form_token(anon, bad)})
    engineer = make_user(db, Role.ENGINEER)
    desk = app.test_client()
    assert login(desk, engineer.email).status_code == 302
    page = desk.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "Rating" in page and "Bad" in page and "Nobody called back" in page
    with db.session() as s:
        assert s.get(ServiceRequest, request_id).status == "resolved"


JUNK = ["", " ", "-1", "1e309", "<script>alert(1)</script>", "x" * 50_000, "good\u202e",
        "Ünïcödé ✓", "GOOD", "good bad"]


def test_junk_in_the_rating_form_or_the_link_is_refused_never_a_server_error(
    client: Any, db: Database, settings: Settings
) -> None:
    request_id = resolved_request(db, settings)
    good = rating_links(db)["good"]
    token = form_token(client, good)
    for junk in JUNK:
        for data in ({"rating": junk, "comment": "ok"}, {"rating": "good", "comment": junk}):
            response = client.post(good, data={**data, "csrf_token": token})
            assert response.status_code < 500, (data, response.status_code)
            if response.status_code == 200:  # a long or odd comment with a good rating
                break
        assert client.get(f"/help/rate/{junk[:300]}/good").status_code in (403, 404)
    forged = rating_token(settings.secret_key, 2**70, "anna@corp.example")
    assert client.get(f"/help/rate/{forged}/good").status_code == 404
    assert len(ratings(db)) <= 1 and request_id
