"""Requests in the shift handoff report: the most urgent open ones with time left, and counts."""

from __future__ import annotations

from datetime import timedelta

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.jobs import handoff_sections
from dutydesk.requests import service as req
from dutydesk.requests.handoff import request_sections


def test_the_handoff_lists_open_requests_most_urgent_first_with_counts(
    db: Database, settings: Settings
) -> None:
    now = utcnow()
    with db.session() as s:
        low = req.create_request(s, settings, "x", req.Requester("a@corp.example"),
                                 service="mail", description="slow", now=now)
        high = req.create_request(s, settings, "x", req.Requester("b@corp.example"),
                                  service="vpn", description="down", impact=1, urgency=1,
                                  now=now)
        waiting = req.create_request(s, settings, "x", req.Requester("c@corp.example"),
                                     service="mail", description="?", now=now)
        req.perform(s, settings, "olga", waiting.id, "wait", now, reason="asked for details")
        done = req.create_request(s, settings, "x", req.Requester("d@corp.example"),
                                  service="mail", description="ok", now=now)
        req.perform(s, settings, "olga", done.id, "resolve", now, note="fixed")
        low_id, high_id, waiting_id = low.id, high.id, waiting.id
    with db.session() as s:
        report = request_sections(s, settings, now - timedelta(hours=12),
                                  now + timedelta(seconds=1), now + timedelta(minutes=40))
    assert [r["id"] for r in report["open_requests"]] == [high_id, low_id, waiting_id]
    assert report["open_requests"][0]["breached"] is True  # P1: first answer within 30 min
    assert (report["requests_open"], report["requests_waiting"]) == (3, 1)
    assert (report["requests_opened"], report["requests_resolved"]) == (4, 1)


def test_the_shell_hands_both_areas_sections_to_the_shifts_area() -> None:
    names = [f.__module__ for f in handoff_sections()]
    assert names == ["dutydesk.incidents.handoff", "dutydesk.requests.handoff"]
