"""Maintenance notices mute the checks behind their services, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from checks.config import parse_config
from checks.config_db import apply, export
from checks.maintenance import active_window
from checks.models import Check, MaintenanceWindowRow
from checks.store import CheckStore
from dutydesk.core.db import Database
from dutydesk.models import AuditEntry
from shifts.notices import MaintenanceWindow, NoticeError
from shifts.notices import service as svc
from shifts.notices.check_windows import muted_period
from shifts.notices.orm import NoticeRow
from shifts.notices.storage import load_notice

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
END = START + timedelta(hours=2)


def add_check(s, slug: str) -> int:
    check = Check(slug=slug, type="tcp", spec={"host": "127.0.0.1", "port": 9})
    s.add(check)
    s.flush()
    return check.id


@pytest.fixture
def office(db: Database) -> dict[str, int]:
    """Mail linked to two checks (one by id, one by slug), VPN to one, Wiki to none; a fourth
    check linked to nothing."""
    with db.session() as s:
        ids = {slug: add_check(s, slug) for slug in ("smtp", "imap", "vpn-gw", "printer")}
        group = svc.save_group(s, "admin", name="Office", now=NOW)
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=NOW,
                         check_ids=[str(ids["smtp"]), "imap"])
        svc.save_service(s, "admin", slug="vpn", name="VPN", group_id=group.id, now=NOW,
                         mode="auto", check_ids=["vpn-gw"])
        svc.save_service(s, "admin", slug="wiki", name="Wiki", group_id=group.id, now=NOW,
                         check_ids=["no-such-check"])
    return ids


def publish(db: Database, affected: dict[str, str], *, title: str = "Mail upgrade",
            publish_now: bool = True) -> int:
    with db.session() as s:
        row = svc.create_notice(s, "anna", kind="maintenance", title=title,
                                body="New mail server.", affected=affected, now=NOW,
                                window=MaintenanceWindow(START, END), publish_now=publish_now)
        return row.id


def windows(db: Database) -> dict[int, tuple[str, datetime, datetime, int | None]]:
    """check id -> (name, start, end, notice id) of every stored window."""
    with db.session() as s:
        rows = s.scalars(select(MaintenanceWindowRow)).all()
        return {r.check_id: (r.name, datetime.fromisoformat(r.definition["start"]),
                             datetime.fromisoformat(r.definition["end"]), r.notice_id)
                for r in rows}


def test_publishing_creates_a_window_for_exactly_the_linked_checks(
        db: Database, office: dict[str, int]) -> None:
    notice_id = publish(db, {"mail": "under_maintenance", "vpn": "under_maintenance"})
    found = windows(db)
    assert set(found) == {office["smtp"], office["imap"], office["vpn-gw"]}  # not the printer
    for name, start, end, owner in found.values():
        assert (name, start, end, owner) == (f"Notice #{notice_id}: Mail upgrade", START, END,
                                             notice_id)
    with db.session() as s:
        actions = s.scalars(select(AuditEntry.action).where(
            AuditEntry.entity_type == "notice", AuditEntry.entity_id == str(notice_id))).all()
    assert "notice.check_windows" in actions


def test_the_check_engine_sees_the_window_active_only_inside_the_period(
        db: Database, office: dict[str, int]) -> None:
    publish(db, {"mail": "under_maintenance"})
    by_check = CheckStore(db).maintenance_windows().by_check
    smtp = by_check[office["smtp"]]
    assert active_window(smtp, START + timedelta(minutes=30)) is not None
    assert active_window(smtp, START - timedelta(seconds=1)) is None
    assert active_window(smtp, END) is None  # the end is exclusive
    assert office["vpn-gw"] not in by_check


def test_a_notice_without_linked_checks_creates_no_windows(
        db: Database, office: dict[str, int]) -> None:
    publish(db, {"wiki": "under_maintenance"})  # its only link names no check
    assert windows(db) == {}


def test_a_draft_creates_no_windows_until_it_is_published(
        db: Database, office: dict[str, int]) -> None:
    notice_id = publish(db, {"vpn": "under_maintenance"}, publish_now=False)
    assert windows(db) == {}
    with db.session() as s:
        svc.publish_draft(s, "anna", notice_id, now=NOW)
    assert set(windows(db)) == {office["vpn-gw"]}


def test_completing_early_ends_the_windows_at_that_moment(
        db: Database, office: dict[str, int]) -> None:
    notice_id = publish(db, {"mail": "under_maintenance"})
    done_at = START + timedelta(minutes=40)
    with db.session() as s:
        svc.post_update(s, "anna", notice_id, status="in_progress", body="Started.", now=START)
        svc.resolve(s, "anna", notice_id, body="All done early.", now=done_at)
    found = windows(db)
    assert {end for _n, _s, end, _o in found.values()} == {done_at}
    by_check = CheckStore(db).maintenance_windows().by_check
    assert active_window(by_check[office["smtp"]], done_at + timedelta(minutes=1)) is None
    assert active_window(by_check[office["smtp"]], done_at - timedelta(minutes=1)) is not None


def test_completing_before_the_start_removes_the_windows(
        db: Database, office: dict[str, int]) -> None:
    notice_id = publish(db, {"mail": "under_maintenance"})
    with db.session() as s:
        svc.resolve(s, "anna", notice_id, body="Cancelled: vendor postponed.", now=NOW)
    assert windows(db) == {}


def test_automatic_completion_keeps_the_planned_end(
        db: Database, office: dict[str, int]) -> None:
    publish(db, {"vpn": "under_maintenance"})
    with db.session() as s:
        svc.run_maintenance_clock(s, START)
        svc.run_maintenance_clock(s, END + timedelta(minutes=5))  # the worker runs a bit late
    assert [(start, end) for _n, start, end, _o in windows(db).values()] == [(START, END)]


def test_rescheduling_moves_the_windows_and_is_audited(
        db: Database, office: dict[str, int]) -> None:
    notice_id = publish(db, {"vpn": "under_maintenance"})
    later = MaintenanceWindow(START + timedelta(days=7), END + timedelta(days=7, hours=1))
    with db.session() as s:
        svc.reschedule_maintenance(s, "anna", notice_id, window=later, now=NOW)
    found = windows(db)
    assert [(start, end) for _n, start, end, _o in found.values()] == [
        (later.scheduled_for, later.scheduled_until)]
    with db.session() as s:
        notice = load_notice(s, notice_id)
        assert notice.window.scheduled_until == later.scheduled_until
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "notice.reschedule"))


def test_rescheduling_a_completed_maintenance_is_refused_and_nothing_changes(
        db: Database, office: dict[str, int]) -> None:
    notice_id = publish(db, {"vpn": "under_maintenance"})
    with db.session() as s:
        svc.resolve(s, "anna", notice_id, body="Cancelled.", now=NOW)
    with pytest.raises(NoticeError, match="completed"), db.session() as s:
        svc.reschedule_maintenance(s, "anna", notice_id, window=MaintenanceWindow(
            START + timedelta(days=7), END + timedelta(days=7)), now=NOW)
    with db.session() as s:
        assert s.get(NoticeRow, notice_id).scheduled_for == START
    assert windows(db) == {}


def test_changing_the_affected_services_moves_the_windows(
        db: Database, office: dict[str, int]) -> None:
    notice_id = publish(db, {"mail": "under_maintenance"})
    with db.session() as s:
        svc.post_update(s, "anna", notice_id, status="scheduled", body="Only the VPN now.",
                        now=NOW, affected={"vpn": "under_maintenance"})
    assert set(windows(db)) == {office["vpn-gw"]}


def test_checks_as_code_leaves_notice_windows_alone(
        db: Database, office: dict[str, int]) -> None:
    publish(db, {"vpn": "under_maintenance"})
    config = parse_config("checks:\n  - {name: vpn-gw, type: tcp, "
                          "spec: {host: 127.0.0.1, port: 9}}\n")
    with db.session() as s:
        apply(s, config, "ops")
        assert "Notice #" not in export(s)
    assert set(windows(db)) == {office["vpn-gw"]}


@pytest.mark.parametrize(
    ("updates", "expected"),
    [
        ([], (START, END)),  # scheduled: the planned window
        ([("in_progress", START - timedelta(minutes=15))],  # a person started early
         (START - timedelta(minutes=15), END)),
        ([("completed", START + timedelta(hours=1))], (START, START + timedelta(hours=1))),
        ([("completed", START - timedelta(hours=1))], None),  # cancelled before it began
    ],
    ids=["scheduled", "started-early", "completed-early", "cancelled"],
)
def test_muted_period_follows_the_notice(
        db: Database, office: dict[str, int], updates: list, expected: tuple | None) -> None:
    notice_id = publish(db, {"vpn": "under_maintenance"})
    with db.session() as s:
        for status, at in updates:
            svc.post_update(s, "anna", notice_id, status=status, body="x", now=at)
        assert muted_period(load_notice(s, notice_id)) == expected
