"""Services in auto mode follow their linked checks (states, flips, uptime), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from checks.models import Check, CheckStateRow, FlipRow
from checks.result import Status
from dutydesk.core.db import Database, utcnow
from dutydesk.web import status_snapshot
from shifts.notices import service as svc
from shifts.notices.checklinks import CheckFlip, outages_from_flips
from shifts.notices.model import Service
from shifts.notices.page import load_page
from shifts.notices.uptime import OutageSeverity

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def add_check(db: Database, slug: str, hard: str | None, *, in_maintenance: bool = False) -> int:
    with db.session() as s:
        check = Check(slug=slug, type="http", spec={"url": "http://127.0.0.1/"})
        s.add(check)
        s.flush()
        s.add(CheckStateRow(check_id=check.id, state={"status": hard, "state_type": "HARD",
                                                       "last_hard_status": hard},
                            status=hard or "PENDING", in_maintenance=in_maintenance))
        return check.id


def set_hard(db: Database, check_id: int, old: str, new: str, at: datetime,
             kind: str = "problem") -> None:
    """What the check engine does on a hard change: state row + flip, in one transaction."""
    with db.session() as s:
        row = s.get(CheckStateRow, check_id)
        row.state = {**row.state, "status": new, "last_hard_status": new}
        row.status = new
        s.add(FlipRow(check_id=check_id, kind=kind, old_status=old, new_status=new,
                      reason="test", at=at))


def auto_service(db: Database, slug: str, links: list[str], mode: str = "auto") -> None:
    with db.session() as s:
        svc.save_service(s, "admin", slug=slug, name=slug.title(), mode=mode, check_ids=links,
                         now=utcnow() - timedelta(days=2))


@pytest.fixture
def fresh_generation() -> Any:
    old = status_snapshot.GENERATION_CHECK
    status_snapshot.GENERATION_CHECK = 0.0
    yield
    status_snapshot.GENERATION_CHECK = old


def components(client: Any) -> dict[str, str]:
    return {c["name"]: c["status"] for c in client.get("/api/v2/components.json").get_json()
            ["components"] if not c["group"]}


def test_auto_service_follows_its_linked_checks_by_id_and_by_slug(client: Any,
                                                                  db: Database) -> None:
    a = add_check(db, "mail-smtp", "CRITICAL")
    add_check(db, "mail-imap", "OK")
    auto_service(db, "mail", [str(a), "mail-imap"])  # one link by id, one by slug
    add_check(db, "vpn-gw", "CRITICAL")
    auto_service(db, "vpn", ["vpn-gw"], mode="manual")  # manual: a person decides
    assert components(client) == {"Mail": "partial_outage", "Vpn": "operational"}
    assert "Partial outage: Mail" in client.get("/status").get_data(as_text=True)


@pytest.mark.parametrize(
    ("hard", "in_maintenance", "shown"),
    [("CRITICAL", False, "major_outage"),  # the only check is down: the whole service is
     ("WARNING", False, "degraded_performance"),
     (None, False, "operational"),  # never ran: blind monitoring announces nothing
     ("CRITICAL", True, "operational"),  # planned work on the check: not an outage
     ],
)
def test_one_linked_check_decides_the_auto_service(client: Any, db: Database, hard: str | None,
                                                   in_maintenance: bool, shown: str) -> None:
    add_check(db, "ups-a", hard, in_maintenance=in_maintenance)
    auto_service(db, "power", ["ups-a"])
    assert components(client) == {"Power": shown}


def test_page_loads_linked_states_in_a_fixed_number_of_queries(db: Database) -> None:
    for i in range(6):
        add_check(db, f"c{i}", "OK")
        auto_service(db, f"s{i}", [f"c{i}"])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as s:
            data = load_page(s, utcnow())
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(data.check_states) == 6
    few = len(statements)
    for i in range(6, 12):
        add_check(db, f"c{i}", "OK")
        auto_service(db, f"s{i}", [f"c{i}"])
    statements.clear()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.session() as s:
            load_page(s, utcnow())
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == few  # twice the services, same number of queries


def test_a_hard_change_of_a_linked_check_rebuilds_the_page(client: Any, db: Database,
                                                           fresh_generation: None) -> None:
    check = add_check(db, "file-share", "OK")
    auto_service(db, "files", ["file-share"])
    first = client.get("/status")
    assert "All systems operational" in first.get_data(as_text=True)
    set_hard(db, check, "OK", "CRITICAL", utcnow())  # the engine writes; no page code runs
    again = client.get("/status", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert "Major outage: Files" in again.get_data(as_text=True)
    assert client.get("/api/v2/status.json").get_json()["status"]["indicator"] == "critical"


def test_uptime_bar_shows_the_outage_the_checks_saw(client: Any, db: Database) -> None:
    check = add_check(db, "telephony-sip", "OK")
    auto_service(db, "telephony", ["telephony-sip"])
    down = utcnow() - timedelta(days=1, hours=2)
    set_hard(db, check, "OK", "CRITICAL", down)
    set_hard(db, check, "CRITICAL", "OK", down + timedelta(minutes=45), kind="recovery")
    html = client.get("/status").get_data(as_text=True)
    assert "Major outage for 45 min" in html
    assert "All systems operational" in html  # it recovered: only history shows it


def svc_with(*links: str) -> Service:
    return Service(id="mail", name="Mail", mode="auto", check_ids=links)


@pytest.mark.parametrize(
    ("flips", "expected"),
    [
        # one check down 30 min then back: one major stretch
        ([("a", 0, "OK", "CRITICAL", False), ("a", 30, "CRITICAL", "OK", False)],
         [(0, 30, OutageSeverity.MAJOR)]),
        # two checks; one down is partial, both down is major, then partial again
        ([("a", 0, "OK", "CRITICAL", False), ("b", 10, "OK", "CRITICAL", False),
          ("b", 20, "CRITICAL", "OK", False), ("a", 40, "CRITICAL", "OK", False)],
         [(0, 10, OutageSeverity.PARTIAL), (10, 20, OutageSeverity.MAJOR),
          (20, 40, OutageSeverity.PARTIAL)]),
        # still down: the stretch is open
        ([("a", 0, "OK", "WARNING", False)], [(0, None, OutageSeverity.PARTIAL)]),
        # a problem muted by maintenance is planned work
        ([("a", 0, "OK", "CRITICAL", True), ("a", 30, "CRITICAL", "OK", False)], []),
        # another service's check says nothing about this one
        ([("z", 0, "OK", "CRITICAL", False)], []),
    ],
)
def test_outages_are_replayed_from_the_linked_checks_flips(flips: list, expected: list) -> None:
    at = [CheckFlip(c, T0 + timedelta(minutes=m), Status[old], Status[new], muted)
          for c, m, old, new, muted in flips]
    found = outages_from_flips(svc_with("a", "b"), at, T0 + timedelta(hours=2))
    assert [(int((o.start - T0).total_seconds() // 60),
             None if o.end is None else int((o.end - T0).total_seconds() // 60), o.severity)
            for o in found] == expected
