"""An outage notice's updates reach the people whose requests are linked to its incident (and
those who said "me too"), each update once, however often the worker runs."""

from __future__ import annotations

from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.security import Principal
from dutydesk.incidents.service import report_manually
from dutydesk.requests import service as req
from dutydesk.requests.jobs import relay_notice_updates
from dutydesk.requests.models import RequestEventRow
from shifts.notices import service as svc

OLGA = Principal(kind="user", role=Role.ENGINEER, label="olga")


def test_each_notice_update_is_mailed_once_to_each_person_affected(
        db: Database, settings: Settings) -> None:
    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
        incident_id = report_manually(s, OLGA, title="Mail is down", service="mail",
                                      severity="critical", details="", settings=settings,
                                      now=utcnow())
        for email in ("anna@corp.example", "boris@corp.example"):
            req.create_request(s, settings, email, req.Requester(email), service="mail",
                               description="no mail", incident_id=incident_id, now=utcnow())
        req.follow_incident(s, incident_id, req.Requester("vera@corp.example"), utcnow())
        unrelated = req.create_request(s, settings, "x", req.Requester("gleb@corp.example"),
                                       service="mail", description="other", now=utcnow())
        notice = svc.create_notice(s, OLGA, kind="incident", title="Mail outage",
                                   body="We are investigating", affected={"mail": "major_outage"},
                                   now=utcnow(), incident_ids=[incident_id])
        notice_id, unrelated_id = notice.id, unrelated.id
    with db.session() as s:
        assert relay_notice_updates(s, settings, utcnow()) == 3
    with db.session() as s:
        svc.post_update(s, OLGA, notice_id, status="identified", body="A disk failed",
                        now=utcnow())
    with db.session() as s:
        assert relay_notice_updates(s, settings, utcnow()) == 3
        assert relay_notice_updates(s, settings, utcnow()) == 0  # the worker runs again
    with db.session() as s:
        news = list(s.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key.like("incidents:update:notice-update:%"))))
        assert sorted(m.target for m in news) == sorted(
            ["anna@corp.example", "boris@corp.example", "vera@corp.example"] * 2)
        assert any("A disk failed" in m.body_text for m in news)
        assert not any(m.target == "gleb@corp.example" for m in news)
        updates = list(s.scalars(select(RequestEventRow.request_id).where(
            RequestEventRow.kind == "incident_update")))
        assert len(updates) == 4 and unrelated_id not in updates


def test_a_person_affected_by_two_incidents_of_one_notice_gets_each_update_once(
        db: Database, settings: Settings) -> None:
    with db.session() as s:
        svc.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
        ids = [report_manually(s, OLGA, title=title, service="mail", severity="critical",
                               details="", settings=settings, now=utcnow())
               for title in ("Mail is down", "Calendar is down")]
        for incident_id in ids:
            req.create_request(s, settings, "anna@corp.example",
                               req.Requester("anna@corp.example"), service="mail",
                               description="broken", incident_id=incident_id, now=utcnow())
        svc.create_notice(s, OLGA, kind="incident", title="Mail outage", body="Looking",
                          affected={"mail": "major_outage"}, now=utcnow(), incident_ids=ids)
    with db.session() as s:
        assert relay_notice_updates(s, settings, utcnow()) == 1
