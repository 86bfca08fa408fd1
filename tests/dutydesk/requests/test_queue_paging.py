"""The queue's order is the same whichever way the database is asked: pages walked rank by
rank (large queues) join up exactly into the order of the one-query sort (small ones)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.requests import queue as q
from dutydesk.requests import service as req
from dutydesk.requests.lifecycle import Action


def test_pages_walked_by_rank_match_the_single_sort(
        db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    now = utcnow()
    with db.session() as s:
        for n in range(23):
            row = req.create_request(
                s, settings, "x", req.Requester(f"u{n}@corp.example"), service="mail",
                description=f"problem {n}", impact=1 + n % 3, urgency=1 + (n // 3) % 3,
                now=now - timedelta(minutes=7 * n))
            if n % 5 == 0:
                req.perform(s, settings, "olga", row.id, Action.WAIT, now, reason="asked")
            if n % 7 == 0:
                req.perform(s, settings, "olga", row.id, Action.RESOLVE, now, note="done")
    filters = q.QueueFilters(status=("new", "in_progress", "waiting", "resolved", "closed"))
    with db.session() as s:
        whole, total = q.queue(s, filters, now, 1, 100)
        assert total == 23
        expected = [e.request.id for e in whole]
        monkeypatch.setattr(q, "SMALL", 0)
        for per_page in (1, 4, 5, 50):
            walked: list[int] = []
            for page in range(1, 25):
                entries, count = q.queue(s, filters, now, page, per_page)
                assert count == 23
                walked.extend(e.request.id for e in entries)
            assert walked == expected, per_page
    ranks = [0 if e.time_left is not None else 1 if e.request.status == "waiting" else 2
             for e in whole]
    assert ranks == sorted(ranks)
    lefts = [e.time_left for e in whole if e.time_left is not None]
    assert lefts == sorted(lefts)
