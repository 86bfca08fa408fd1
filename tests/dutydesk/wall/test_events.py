"""The live feed over a real HTTP connection: full first, then only what changed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dutydesk import accounts
from dutydesk.core.db import Database

WAIT = 8.0  # seconds: the feed polls once a second, so a change shows in about 1-2 s


def kiosk_session(live_server: Any, db: Database) -> requests.Session:
    with db.session() as s:
        _link, token = accounts.create_kiosk_link(s, "test", name="NOC wall")
    session = requests.Session()
    assert session.get(f"{live_server.url}/kiosk/{token}", timeout=5).url.endswith("/wall")
    return session


class Stream:
    """Reads Server-Sent Events, each read bounded in time."""

    def __init__(self, session: requests.Session, url: str, last_id: str | None = None) -> None:
        headers = {"Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        self.response = session.get(url, headers=headers, stream=True, timeout=(3, WAIT))
        assert self.response.status_code == 200
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self.lines: Iterator[bytes] = self.response.iter_lines(chunk_size=256)
        self.comments: list[str] = []
        self.retry: int | None = None

    def next_event(self) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        fields: dict[str, str] = {}
        for raw in self.lines:
            line = raw.decode()
            if time.monotonic() > deadline:
                break
            if not line:
                if "data" in fields:
                    payload = json.loads(fields["data"])
                    payload["_id"] = fields.get("id")
                    payload["_event"] = fields.get("event")
                    return payload
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            if name == "retry":
                self.retry = int(value.strip())
            else:
                fields[name] = value.lstrip()
        pytest.fail(f"no event within {WAIT} s")

    def close(self) -> None:
        self.response.close()


def test_stream_starts_with_a_full_wall_and_tells_the_browser_to_reconnect(
    live_server: Any, db: Database, checks: Any, heartbeat: None
) -> None:
    checks.add("ups-a")
    stream = Stream(kiosk_session(live_server, db), f"{live_server.url}/wall/events")
    try:
        first = stream.next_event()
        assert stream.retry is not None and stream.retry > 0
        assert first["_event"] == "patch" and first["full"] is True
        assert first["_id"] == first["v"]
        assert "The only check is OK" in json.dumps(first["sections"]["problems"])
    finally:
        stream.close()


def test_a_state_change_arrives_as_a_small_incremental_patch(
    live_server: Any, db: Database, checks: Any, heartbeat: None
) -> None:
    checks.add("ups-a", "Hall A / UPS")
    checks.add("pdu-1", "Hall A / Power")
    crac = checks.add("crac-2", "Hall B / Cooling")
    stream = Stream(kiosk_session(live_server, db), f"{live_server.url}/wall/events")
    try:
        stream.next_event()  # the full wall
        checks.set_status(crac, "CRITICAL", "supply air 31 C")
        changed_at = time.monotonic()
        patch = stream.next_event()
        assert time.monotonic() - changed_at < 4.0  # well within the 2 s + poll slack
        assert patch["full"] is False
        problems = patch["sections"]["problems"]
        assert problems["order"] == ["g-hall-b-cooling"]
        assert 'data-status="critical"' in problems["html"]["g-hall-b-cooling"]
        # what did not change is not sent again
        assert "maintenance" not in patch["sections"]
    finally:
        stream.close()


def test_reconnecting_with_last_event_id_gets_only_what_was_missed(
    live_server: Any, db: Database, checks: Any, heartbeat: None
) -> None:
    checks.add("ups-a", "Hall A / UPS")
    crac = checks.add("crac-2", "Hall B / Cooling")
    session = kiosk_session(live_server, db)
    stream = Stream(session, f"{live_server.url}/wall/events")
    first = stream.next_event()
    stream.close()  # the screen loses its connection ...
    checks.set_status(crac, "WARNING", "supply air 27 C")  # ... while this happens
    time.sleep(2.5)  # the feed has published it; the stream is gone

    again = Stream(session, f"{live_server.url}/wall/events", last_id=first["v"])
    try:
        missed = again.next_event()
        assert missed["full"] is False
        assert "warning" in missed["sections"]["problems"]["html"]["g-hall-b-cooling"]
    finally:
        again.close()


def test_a_version_from_another_server_start_gets_a_full_refresh(
    live_server: Any, db: Database, checks: Any, heartbeat: None
) -> None:
    checks.add("ups-a")
    session = kiosk_session(live_server, db)
    stream = Stream(session, f"{live_server.url}/wall/events", last_id="0badf00d.41")
    try:
        assert stream.next_event()["full"] is True
    finally:
        stream.close()
