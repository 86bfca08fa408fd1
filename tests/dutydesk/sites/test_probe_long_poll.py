"""A probe's pull of its checks is a long-poll: held while nothing changed, answered within about
half a second of a change, holding no database connection meanwhile, capped per process."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from checks.models import Check
from dutydesk.core.db import Database, utcnow
from dutydesk.sites.service import assign_check, create_probe, find_probe
from tests.checks.engine_helpers import add_check


@pytest.fixture
def probe(app: Any, client: Any, db: Database) -> dict[str, Any]:
    check_id = add_check(db, "ups-a", "http://127.0.0.1:9/", max_attempts=1)
    with db.session() as s:
        token = create_probe(s, "default", "kyiv-dc2", utcnow()).secret
        assign_check(s, check_id, find_probe(s, "default", "kyiv-dc2"))
    answer = client.post("/api/probe/v1/enrol", json={"token": token})
    auth = {"Authorization": f"Bearer {answer.json['credential']}"}
    first = client.get("/api/probe/v1/checks", headers=auth)
    assert first.status_code == 200
    return {"auth": auth, "check_id": check_id, "etag": first.headers["ETag"]}


def _poll(app: Any, probe: dict[str, Any], wait: float, out: dict[str, Any]) -> None:
    started = time.monotonic()
    answer = app.test_client().get(f"/api/probe/v1/checks?wait={wait}",
                                   headers={**probe["auth"], "If-None-Match": probe["etag"]})
    out.update(status=answer.status_code, took=time.monotonic() - started,
               etag=answer.headers.get("ETag"), body=answer.get_json(silent=True),
               held=answer.headers.get("X-Long-Poll"))


def test_a_held_pull_answers_within_a_second_of_a_change_and_holds_no_connection(
        app: Any, db: Database, probe: dict[str, Any]) -> None:
    out: dict[str, Any] = {}
    poller = threading.Thread(target=_poll, args=(app, probe, 20, out))
    poller.start()
    pool = app.extensions["dutydesk"].db.engine.pool
    held = []
    for _ in range(12):  # 1.2 s into the wait
        time.sleep(0.1)
        held.append(pool.checkedout())
    with db.session() as s:
        s.get(Check, probe["check_id"]).interval = 30.0
        s.get(Check, probe["check_id"]).updated_at = utcnow()
    changed = time.monotonic()
    poller.join(10)
    assert out["status"] == 200 and out["etag"] != probe["etag"]
    assert out["body"]["checks"][0]["interval"] == 30.0
    assert time.monotonic() - changed < 3.0  # polled every 0.5 s, not at the 20 s wait's end
    assert 1.2 <= out["took"] < 5
    # a connection is taken for a moment every 0.5 s, never for the whole wait
    assert held.count(0) >= len(held) - 3, held


def test_a_held_pull_ends_with_304_when_nothing_changed(
        app: Any, probe: dict[str, Any]) -> None:
    out: dict[str, Any] = {}
    _poll(app, probe, 1.5, out)
    assert out["status"] == 304 and out["etag"] == probe["etag"] and out["held"] == "held"
    assert 1.4 <= out["took"] < 4


def test_past_the_limit_of_held_pulls_the_answer_is_at_once(
        app: Any, probe: dict[str, Any]) -> None:
    state = app.extensions["dutydesk"]
    state.settings = replace(state.settings, probe_long_polls=1)  # DUTYDESK_PROBE_LONG_POLLS=1
    app.extensions.pop("dutydesk_probe_long_polls")  # made from the settings at the next pull
    first: dict[str, Any] = {}
    holder = threading.Thread(target=_poll, args=(app, probe, 3, first))
    holder.start()
    time.sleep(0.5)
    second: dict[str, Any] = {}
    _poll(app, probe, 3, second)  # the one slot is taken: 304 now, the probe polls later
    holder.join(10)
    assert second["status"] == 304 and second["took"] < 1.0 and second["held"] == "busy"
    assert first["status"] == 304 and first["took"] >= 2.9 and first["held"] == "held"


def test_the_wait_is_bounded_and_checked(client: Any, probe: dict[str, Any]) -> None:
    for bad in ("abc", "-1", "31", "nan", "inf"):
        answer = client.get(f"/api/probe/v1/checks?wait={bad}", headers=probe["auth"])
        assert answer.status_code == 400, bad
        assert "wait must be 0..30 seconds" in answer.json["error"]
    plain = client.get("/api/probe/v1/checks?wait=0", headers={
        **probe["auth"], "If-None-Match": probe["etag"]})
    assert plain.status_code == 304
