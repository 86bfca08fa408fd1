"""A check at the centre and two probes, down only when 2 of its 3 locations see it down:
results go through the real ingest (probes) and remote judging paths into the one state
machine; flips say which locations saw what; a silent location stops counting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from checks.locations import CENTRE
from checks.models import Check, CheckStateRow, FlipRow
from checks.remote import RemoteResult, judge_in_order
from checks.result import Result, Status
from checks.store import CheckStore
from dutydesk.core.db import Database, utcnow
from dutydesk.sites.ingest import ingest
from dutydesk.sites.service import (
    ProbeError,
    create_probe,
    find_probe,
    probe_checks,
    set_locations,
)
from tests.checks.engine_helpers import add_check


@pytest.fixture
def setup(db: Database) -> dict[str, Any]:
    cid = add_check(db, "core-sw", "http://127.0.0.1:9/", max_attempts=1, interval=60.0,
                    timeout=10.0, flap_detection=False)
    with db.session() as s:
        for name in ("kyiv-dc2", "lviv-dc1"):
            create_probe(s, "default", name, utcnow())
        kyiv, lviv = find_probe(s, "default", "kyiv-dc2"), find_probe(s, "default", "lviv-dc1")
        set_locations(s, cid, [kyiv, lviv], centre=True, min_down=2)
        ids = {"kyiv": kyiv.id, "lviv": lviv.id}
    return {"check": cid, "seq": {"kyiv": 0, "lviv": 0}, **ids}


def _probe(db: Database, setup: dict[str, Any], who: str, status: str, at: Any) -> None:
    setup["seq"][who] += 1
    body = {"results": [{"seq": setup["seq"][who], "check_id": setup["check"], "status": status,
                         "message": "timeout" if status == "CRITICAL" else "120 ms",
                         "started_at": at.isoformat(), "duration": 0.0}]}
    ingest(db, CheckStore(db), setup[who], body, at)


def _centre(db: Database, setup: dict[str, Any], status: Status, at: Any) -> None:
    store = CheckStore(db)
    with db.session() as s:
        judge_in_order(s, store, [RemoteResult(setup["check"], Result(status, "HTTP 503" if
                       status is Status.CRITICAL else "HTTP 200", at, 0.0))],
                       store.maintenance_windows(), CENTRE)


def _state(db: Database, cid: int) -> tuple[str, str, list[str]]:
    with db.session() as s:
        st = s.scalar(select(CheckStateRow).where(CheckStateRow.check_id == cid))
        flips = [f"{f.new_status} {f.reason}" for f in s.scalars(
            select(FlipRow).where(FlipRow.check_id == cid).order_by(FlipRow.id))]
    return st.status, st.last_message, flips


def test_two_of_three_locations_must_see_it_down_and_a_silent_one_stops_counting(
        db: Database, setup: dict[str, Any]) -> None:
    cid, t0 = setup["check"], utcnow() - timedelta(minutes=30)
    for who in ("kyiv", "lviv"):
        _probe(db, setup, who, "OK", t0)
    _centre(db, setup, Status.OK, t0)
    assert _state(db, cid)[0] == "OK"

    # one location down: judged up, no flip to CRITICAL
    _probe(db, setup, "kyiv", "CRITICAL", t0 + timedelta(seconds=60))
    status, message, flips = _state(db, cid)
    assert status == "OK" and "default/kyiv-dc2 CRITICAL timeout" in message
    assert not any(f.startswith("CRITICAL") for f in flips)

    # a second one down: one flip to CRITICAL naming both
    _centre(db, setup, Status.CRITICAL, t0 + timedelta(seconds=90))
    status, message, flips = _state(db, cid)
    assert status == "CRITICAL"
    assert message.startswith("down from 2 of 3 locations: ")
    assert "centre CRITICAL HTTP 503" in message and "default/kyiv-dc2 CRITICAL timeout" in message
    assert "default/lviv-dc1 OK 120 ms" in message
    downs = [f for f in flips if f.startswith("CRITICAL")]
    assert len(downs) == 1 and "down from 2 of 3 locations" in downs[0], flips

    # lviv still sees it up; kyiv and the centre are both fresh and down: still down
    _probe(db, setup, "lviv", "OK", t0 + timedelta(seconds=150))
    assert _state(db, cid)[0] == "CRITICAL"
    # kyiv falls silent (its last result older than 2 x 60 s + 10 s): judged on the centre and
    # lviv only, 1 of 2 down is below k=2: up again, and the message says kyiv is stale
    later = t0 + timedelta(seconds=200)
    _centre(db, setup, Status.CRITICAL, later)
    status, message, flips = _state(db, cid)
    assert status == "OK" and "stale: default/kyiv-dc2" in message
    assert len([f for f in flips if f.startswith("CRITICAL")]) == 1


def test_each_probe_pulls_the_check_and_the_centre_claims_it_too(
        db: Database, setup: dict[str, Any]) -> None:
    with db.session() as s:
        for name in ("kyiv-dc2", "lviv-dc1"):
            _etag, checks = probe_checks(s, find_probe(s, "default", name))
            assert [c["slug"] for c in checks] == ["core-sw"]
        s.get(CheckStateRow, setup["check"]).next_due_at = utcnow()
    store = CheckStore(db)
    claims = store.claim_due(utcnow(), horizon=1)
    assert [c.check_id for c in claims] == [setup["check"]] and claims[0].multi
    # what the engine judges from the centre's run: the combination (the probes have not spoken)
    judged = store.at_centre(claims[0], Result(Status.CRITICAL, "HTTP 503", utcnow()), utcnow())
    assert judged.status is Status.OK
    assert judged.message.startswith("up: fewer than 2 of 1 locations see it down: centre")


def test_k_must_be_one_to_the_number_of_locations(db: Database, setup: dict[str, Any]) -> None:
    with db.session() as s:
        kyiv = find_probe(s, "default", "kyiv-dc2")
        with pytest.raises(ProbeError, match=r"1\.\.2"):
            set_locations(s, setup["check"], [kyiv], centre=True, min_down=3)
        with pytest.raises(ProbeError, match=r"1\.\.1"):
            set_locations(s, setup["check"], [kyiv], centre=False, min_down=0)
    with db.session() as s:
        assert s.get(Check, setup["check"]).min_locations_down == 2


def test_the_api_says_what_each_location_saw(client: Any, db: Database, setup: dict[str, Any],
                                             api_token: Any) -> None:
    from dutydesk.models import Role
    from tests.conftest import bearer

    _probe(db, setup, "kyiv", "CRITICAL", utcnow())
    got = client.get(f"/api/v1/checks/{setup['check']}",
                     headers=bearer(api_token(Role.VIEWER))).get_json()
    assert got["min_locations_down"] == 2
    assert [(p["name"], p["status"]) for p in got["locations"]] == [
        ("centre", None), ("default/kyiv-dc2", "CRITICAL"), ("default/lviv-dc1", None)]
