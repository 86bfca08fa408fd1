"""Demo requests: a mail outage that three employees wrote about (two linked to it, one still
on its own in the queue for the engineer to link), a question about VPN, and a new mailbox
asked for from the catalog, waiting for a shift lead's approval."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.core.security import Principal
from dutydesk.demo.knowledge import seed_knowledge
from dutydesk.incidents.service import report_manually
from dutydesk.requests import service as req
from dutydesk.requests.catalog.store import list_items

DESK = Principal(kind="user", role=Role.ENGINEER, label="demo")


def seed_requests(session: Session, settings: Settings) -> int:
    """The demo's catalog and knowledge base, its outage and its requests; returns the
    outage's incident id."""
    seed_knowledge(session)
    now = utcnow()
    incident_id = report_manually(session, DESK, title="Mail: sending is slow (queue on relay)",
                                  service="mail", severity="error", details="",
                                  settings=settings, now=now - timedelta(minutes=25))
    people = [
        ("olena.koval@corp.example", "Olena Koval", "uk", "Листи не відправляються вже пів години",
         incident_id),
        ("pavel.sidorov@corp.example", "Pavel Sidorov", "ru", "Письма висят в исходящих",
         incident_id),
        ("mary.jones@corp.example", "Mary Jones", "en", "My mail to a client bounced twice",
         None),
    ]
    for minutes, (email, name, language, text, linked) in enumerate(people, start=1):
        req.create_request(session, settings, email, req.Requester(email, name, language),
                           service="mail", description=text, urgency=1, channel="web",
                           incident_id=linked, now=now - timedelta(minutes=20 - 5 * minutes))
    req.create_request(session, settings, DESK, req.Requester("andrii@corp.example", "Andrii",
                                                              "uk"),
                       service="vpn", request_type="question", channel="phone",
                       description="Як підключитися до VPN з нового ноутбука?", urgency=3,
                       now=now - timedelta(minutes=3))
    mailbox = next(i for i in list_items(session, "mail") if i.slug == "new-mailbox")
    req.create_request(session, settings, DESK, req.Requester("hr@corp.example", "HR", "en"),
                       service="mail", description="A mailbox for our new colleague from "
                       "Monday, please.", catalog_item=mailbox,
                       fields={"owner": "Iryna Melnyk"}, now=now - timedelta(minutes=8))
    return incident_id
