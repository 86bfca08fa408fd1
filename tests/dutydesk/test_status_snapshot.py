"""Status snapshots are the same bytes in every process, and a crowd gets gzip and 304s."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.web import status_snapshot
from dutydesk.web.status_snapshot import accepts_gzip, as_of_instant, etag_matches
from shifts.notices import service as svc

DOCUMENTS = ["/status", "/api/v2/summary.json", "/status/feed.atom", "/api/v2/components.json"]
MINUTE_START = 1_780_000_020.0  # a Unix time at the start of a wall-clock minute


@pytest.fixture
def ongoing_outage(db: Database) -> int:
    """An outage that started 90 minutes ago and is still going on: today's bar and the uptime
    percentage grow with the clock, which is what used to make workers disagree."""
    started = datetime.fromtimestamp(MINUTE_START, UTC) - timedelta(minutes=90)
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=started)
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id,
                         now=started - timedelta(days=30))
        row = svc.create_notice(s, "anna", kind="incident", title="Mail is down",
                                body="We are on it.", affected={"mail": "major_outage"},
                                now=started)
    return row.id


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The wall clock the snapshots read, set by the test ([0] is the current Unix time)."""
    now = [MINUTE_START]
    monkeypatch.setattr(status_snapshot, "wall_clock", lambda: now[0])
    return now


@pytest.mark.parametrize("path", DOCUMENTS)
def test_two_processes_on_one_database_serve_the_same_bytes_and_etag(
        settings: Settings, db: Database, ongoing_outage: int, clock: list[float],
        path: str) -> None:
    first = create_app(settings, db=db).test_client()
    second = create_app(settings, db=db).test_client()
    a = first.get(path)
    clock[0] += 41.5  # the second worker builds its snapshot later in the same minute
    b = second.get(path)
    assert a.status_code == b.status_code == 200
    assert a.data == b.data and a.headers["ETag"] == b.headers["ETag"]
    assert a.headers["Last-Modified"] == b.headers["Last-Modified"]
    # A client that got its copy from one worker is told "not modified" by the other.
    again = second.get(path, headers={"If-None-Match": a.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_the_next_minute_may_change_the_page_but_processes_still_agree(
        settings: Settings, db: Database, ongoing_outage: int, clock: list[float]) -> None:
    first = create_app(settings, db=db).test_client()
    second = create_app(settings, db=db).test_client()
    before = first.get("/status")
    clock[0] += 60 * 30  # half an hour later the ongoing outage is 30 minutes longer
    a, b = first.get("/status"), second.get("/status")
    assert a.data == b.data and a.headers["ETag"] == b.headers["ETag"]
    assert a.headers["ETag"] != before.headers["ETag"]
    assert "Major outage for 120 min" in a.get_data(as_text=True)
    assert "Major outage for 90 min" in before.get_data(as_text=True)


def test_gzip_is_served_to_clients_that_ask_and_plain_to_the_rest(
        client: Any, ongoing_outage: int) -> None:
    for _ in range(2):  # the first request builds the snapshot, the second takes the fast path
        plain = client.get("/status")
        packed = client.get("/status", headers={"Accept-Encoding": "gzip, deflate, br"})
        refused = client.get("/status", headers={"Accept-Encoding": "gzip;q=0, identity"})
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.data) == plain.data
        assert len(packed.data) < len(plain.data) / 3
        assert packed.headers["ETag"] != plain.headers["ETag"]
        assert "Content-Encoding" not in refused.headers and refused.data == plain.data
    for etag in (plain.headers["ETag"], packed.headers["ETag"]):
        again = client.get("/status", headers={"If-None-Match": etag,
                                               "Accept-Encoding": "gzip"})
        assert again.status_code == 304 and again.data == b""


def test_a_change_in_the_database_changes_the_etag_in_every_process(
        settings: Settings, db: Database, ongoing_outage: int, clock: list[float]) -> None:
    first = create_app(settings, db=db).test_client()
    second = create_app(settings, db=db).test_client()
    etag = first.get("/status").headers["ETag"]
    with db.session() as s:
        svc.resolve(s, "anna", ongoing_outage, body="Fixed.",
                    now=datetime.fromtimestamp(MINUTE_START + 5, UTC))
    clock[0] += 10
    status_snapshot.GENERATION_CHECK, old = 0.0, status_snapshot.GENERATION_CHECK
    try:
        a = first.get("/status", headers={"If-None-Match": etag})
        b = second.get("/status")
    finally:
        status_snapshot.GENERATION_CHECK = old
    assert a.status_code == 200 and a.data == b.data
    assert "All systems operational" in a.get_data(as_text=True)


T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
BUCKET_T0 = int(T0.timestamp()) // status_snapshot.BUCKET


@pytest.mark.parametrize(("changed", "flipped", "expected"), [
    (None, None, T0),  # nothing stored: the minute's start
    (T0 - timedelta(days=2), None, T0),  # an old change: the minute's start
    (T0 + timedelta(seconds=20), None, T0 + timedelta(seconds=20)),  # a change this minute
    (T0 - timedelta(hours=1), T0 + timedelta(seconds=7), T0 + timedelta(seconds=7)),  # a flip
])
def test_snapshots_are_rendered_as_of_the_minute_or_the_latest_change_in_it(
        changed: datetime | None, flipped: datetime | None, expected: datetime) -> None:
    assert as_of_instant(BUCKET_T0, changed, flipped) == expected


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip", True), ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True),
    ("*", True), ("gzip;q=0", False), ("gzip;q=0.0, identity", False), ("", False),
    ("deflate, br", False), ("identity", False),
])
def test_accept_encoding_decides_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize(("header", "expected"), [
    ('"abc"', True), ('W/"abc"', True), ('"x", "abc-gz"', True), ("*", True),
    ('"abd"', False), ("", False),
])
def test_if_none_match_names_either_variant(header: str, expected: bool) -> None:
    assert etag_matches(header, '"abc"', '"abc-gz"') is expected


def test_now_is_not_read_during_a_build(settings: Settings, db: Database,
                                        ongoing_outage: int, clock: list[float]) -> None:
    """The page's "Updated" time is the stable instant, not the moment of building."""
    text = create_app(settings, db=db).test_client().get("/status").get_data(as_text=True)
    stamp = datetime.fromtimestamp(MINUTE_START, UTC).isoformat()
    assert f'datetime="{stamp}"' in text


def test_uptime_bars_are_one_svg_per_service_with_outage_days_titled_each(
        client: Any, ongoing_outage: int, clock: list[float]) -> None:
    import re

    text = client.get("/status").get_data(as_text=True)
    bars = re.findall(r'<svg class="bars".*?</svg>', text, re.S)
    assert len(bars) == 1  # one service: Mail
    titles = re.findall(r"<title>(.*?)</title>", bars[0])
    # 30 tracked quiet days become one shape; the outage day (today) keeps its own tooltip.
    assert len(titles) <= 3
    assert titles[-1].startswith("2026-05-28: Major outage for 90 min") and "Mail is down" in \
        titles[-1]
    assert any(" – " in t and "No downtime recorded" in t for t in titles)
