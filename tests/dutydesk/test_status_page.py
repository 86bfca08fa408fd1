"""The public status page and Statuspage JSON, served from snapshots, on both databases."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from dutydesk.core.db import Database, utcnow
from shifts.notices import service as svc


@pytest.fixture
def outage(db: Database) -> int:
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=utcnow())
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=utcnow())
        row = svc.create_notice(s, "anna", kind="incident", title="Mail is down",
                                body="We are on it.", affected={"mail": "major_outage"},
                                now=utcnow())
    return row.id


def test_page_is_public_and_answers_304_to_its_etag(client: Any, outage: int) -> None:
    first = client.get("/status")
    assert first.status_code == 200 and "Major outage: Mail" in first.get_data(as_text=True)
    assert "public" in first.headers["Cache-Control"] and first.headers["Last-Modified"]
    again = client.get("/status", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


def test_page_speaks_russian_from_accept_language(client: Any, outage: int) -> None:
    text = client.get("/status", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Серьёзный сбой: Mail" in text and "Выясняем причину" in text


def test_summary_json_feed_and_badge_carry_the_notice(client: Any, outage: int) -> None:
    summary = client.get("/api/v2/summary.json").get_json()
    assert [i["name"] for i in summary["incidents"]] == ["Mail is down"]
    assert summary["status"]["indicator"] == "critical"
    feed = ET.fromstring(client.get("/status/feed.atom").data)
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title")
              for e in feed.iter("{http://www.w3.org/2005/Atom}entry")]
    assert titles == ["Mail is down: Investigating"]
    svg = client.get("/status/badge/mail.svg")
    assert svg.mimetype == "image/svg+xml" and b"major outage" in svg.data
    assert client.get("/status/badge/nope.svg").status_code == 404


def test_resolving_turns_the_page_green(client: Any, db: Database, outage: int) -> None:
    etag = client.get("/status").headers["ETag"]
    with db.session() as s:
        svc.resolve(s, "anna", outage, body="Fixed.", now=utcnow())
    from dutydesk.web import status_snapshot
    status_snapshot.GENERATION_CHECK, old = 0.0, status_snapshot.GENERATION_CHECK
    try:
        page = client.get("/status", headers={"If-None-Match": etag})
    finally:
        status_snapshot.GENERATION_CHECK = old
    assert page.status_code == 200 and "All systems operational" in page.get_data(as_text=True)
    assert client.get("/api/v2/incidents/unresolved.json").get_json()["incidents"] == []
