"""Requests on the wall beside incidents: how many are open, how many wait for their requesters,
and the most urgent with the time left — never who asked (the wall is a shared screen)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.requests import service as req


def test_the_wall_counts_requests_and_names_the_most_urgent_without_the_requester(
    signed_in: Any, db: Database, settings: Settings
) -> None:
    with db.session() as s:
        req.create_request(s, settings, "x", req.Requester("anna@corp.example", "Anna Petrova"),
                           service="mail", subject="Printer jam", description="jam", now=utcnow())
        urgent = req.create_request(s, settings, "x", req.Requester("b@corp.example"),
                                    service="vpn", subject="VPN down for sales",
                                    description="down", impact=1, urgency=1, now=utcnow())
        waiting = req.create_request(s, settings, "x", req.Requester("c@corp.example"),
                                     service="mail", description="?", now=utcnow())
        req.perform(s, settings, "olga", waiting.id, "wait", utcnow(), reason="asked")
        number = urgent.number
    html = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    section = unescape(re.sub(r"<[^>]+>", " ", html.split('data-section="requests"')[1]
                              .split("</section>")[0]))
    words = " ".join(section.split()).lstrip("> ")
    assert words.startswith("3 open · 1 waiting for the requester")
    assert words.index(number) < words.index("Printer jam")  # most urgent first
    assert "left" in words
    assert "Anna" not in html and "anna@corp.example" not in html
