"""Duty schedules per site: an incident pages the on-duty engineer of its own site's rotation,
else the default site's (issue 18), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.security import Principal
from dutydesk.core.sites import Site
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.jobs import run_clocks
from dutydesk.incidents.models import EscalationPolicyRow, Incident, IncidentEventRow
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.recipients import resolve_people
from dutydesk.models import Role
from shifts import service
from shifts.errors import ShiftConfigError
from shifts.models import ShiftScheduleRow
from shifts.site_duty import duty_for_site
from shifts.storage import load_schedules, on_duty_by_line_now
from tests.conftest import make_user

LEAD = Principal(kind="user", role=Role.SHIFT_LEAD, label="lead@dc.example")
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_the_sites_own_line_wins_then_the_default_sites():
    board = {1: {"first_line": ("dina",), "second_line": ("dmytro",)},
             2: {"first_line": ("anna",)},
             3: {"first_line": ()}}
    assert duty_for_site(board, 2, 1) == {"first_line": ("anna",), "second_line": ("dmytro",)}
    # A site whose schedule has a gap now keeps its gap (routing's fallback covers it).
    assert duty_for_site(board, 3, 1)["first_line"] == ()
    assert duty_for_site(board, 4, 1) == board[1]  # a site without schedules: the default's
    assert duty_for_site(board, None, 1) == board[1]  # not about one site: the default's
    assert duty_for_site({}, 2, 1) is None


def _site(db: Database, slug: str) -> int:
    with db.session() as s:
        row = Site(slug=slug, name=slug.upper(), time_zone="Europe/Amsterdam")
        s.add(row)
        s.commit()
        return row.id


def _schedule(db: Database, name: str, line: str, person: int, site: str | None) -> int:
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name=name, line=line, time_zone="UTC", site=site)
        service.add_rotation(s, LEAD, row.id, service.rotation_fields({
            "name": "main", "participants": [person], "pattern": "fixed_length",
            "pattern_params": {"days": 7}, "handoff_time": "00:00",
            "start_date": "2026-11-16"}), NOW)
        s.commit()
        return row.id


@pytest.fixture
def two_sites(db: Database) -> dict[str, int]:
    people = {name: make_user(db, Role.ENGINEER, f"{name}@dc.example", name=name.title()).id
              for name in ("anna", "bohdan", "dmytro")}
    ids = {"ams": _site(db, "ams"), "fra": _site(db, "fra")}
    _schedule(db, "AMS first", "first_line", people["anna"], "ams")
    _schedule(db, "FRA first", "first_line", people["bohdan"], "fra")
    _schedule(db, "Main second", "second_line", people["dmytro"], None)  # the default site
    return ids


def _open(db: Database, settings: Settings, key: str, site_id: int | None) -> int:
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key=f"alertmanager:{key}",
                  status=AlertStatus.FIRING, starts_at=NOW, summary=f"{key} down",
                  severity=Severity.CRITICAL)
    with db.session() as s:
        incident_id = process_alerts(s, [alert], settings=settings, now=NOW).opened[0]
    with db.session() as s:  # as the pipeline does from the check's site (site-admin's part)
        s.get(Incident, incident_id).site_id = site_id
        s.commit()
    return incident_id


def _paged(db: Database, incident_id: int) -> list[tuple[list[str], list[str]]]:
    with db.session() as s:
        return [(e.data["targets"], e.data["people"]) for e in s.scalars(
            select(IncidentEventRow).where(IncidentEventRow.incident_id == incident_id,
                                           IncidentEventRow.kind == "escalation_notified")
            .order_by(IncidentEventRow.id))]


def test_an_incident_at_site_b_pages_site_bs_engineer_not_site_as(
    db: Database, settings: Settings, two_sites: dict[str, int]
) -> None:
    with db.session() as s:
        s.add(EscalationPolicyRow(name="std", is_default=True, steps=[
            {"targets": ["second_line"], "delay_minutes": 5},
            {"targets": ["first_line"], "delay_minutes": 5}]))
        s.commit()
    at_fra = _open(db, settings, "pdu-fra", two_sites["fra"])
    at_ams = _open(db, settings, "pdu-ams", two_sites["ams"])
    run_clocks(db, settings, now=NOW + timedelta(minutes=5))
    # Step 1 (second line, at opening): neither site has one, the default site's covers both.
    assert _paged(db, at_fra) == [(["second_line"], ["dmytro@dc.example"]),
                                  (["first_line"], ["bohdan@dc.example"])]
    assert _paged(db, at_ams) == [(["second_line"], ["dmytro@dc.example"]),
                                  (["first_line"], ["anna@dc.example"])]


def test_lookups_per_site_and_a_line_nobody_schedules_falls_back(
    db: Database, settings: Settings, two_sites: dict[str, int]
) -> None:
    with db.session() as s:
        assert resolve_people(s, settings, "first_line", NOW, two_sites["ams"]) == (
            "anna@dc.example",)
        # The default site has no first line: routing's fallback (every active engineer).
        assert set(resolve_people(s, settings, "first_line", NOW)) >= {
            "anna@dc.example", "bohdan@dc.example", "dmytro@dc.example"}
        fra = on_duty_by_line_now(s, NOW, two_sites["fra"])
        assert [(line.value, duty.people) for line, duty in fra.items()] == [
            ("first_line", ("Bohdan",))]
        assert len(on_duty_by_line_now(s, NOW)) == 2  # every site: both lines
        assert [x.name for x in load_schedules(s, site_id=two_sites["ams"])] == ["AMS first"]


def test_an_unknown_site_is_refused_and_a_schedule_moves_between_sites(
    db: Database, two_sites: dict[str, int]
) -> None:
    refused = pytest.raises(ShiftConfigError, match="no site with the slug 'nowhere'")
    with db.session() as s, refused:
        service.create_schedule(s, LEAD, name="X", line="first_line", time_zone="UTC",
                                site="nowhere")
    with db.session() as s:
        assert s.scalar(select(ShiftScheduleRow.id).where(ShiftScheduleRow.name == "X")) is None
        row = s.scalar(select(ShiftScheduleRow).where(ShiftScheduleRow.name == "AMS first"))
        service.update_schedule(s, LEAD, row.id, name=row.name, line=row.line, time_zone="UTC",
                                self_service=False, now=NOW, site="fra")
        s.commit()
        assert row.site_id == two_sites["fra"]
