"""Migration 0032 on an installation with one data center: every check, duty schedule, visitor
access request, visit and check incident made before it belongs to the default site afterwards,
untouched otherwise, and the screens and rules see them there (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, select, text

from checks.models import Check
from dutydesk import migrate
from dutydesk.core.db import Database, utcnow
from dutydesk.core.site_registry import SiteError, delete_site, summaries

OWNED = ("checks", "shift_schedules", "visitor_access_requests", "visitor_visits")


def _insert(conn: Any, table_name: str, /, **values: Any) -> int:
    table = Table(table_name, MetaData(), autoload_with=conn)
    return conn.execute(table.insert().values(**values).returning(table.c.id)).scalar_one()


def _old_installation(db: Database) -> None:
    """What a 0031 database holds: rows without any site column."""
    now = utcnow()
    with db.engine.begin() as conn:
        for slug in ("ups-a", "ups-b"):
            _insert(conn, "checks", slug=slug, display_name=slug.upper(), type="http",
                    spec={"url": "http://127.0.0.1:9/"}, interval=60.0, max_attempts=3,
                    timeout=10.0, flap_detection=True, flap_low_threshold=20.0,
                    flap_high_threshold=30.0, flap_history_states=21, enabled=True, tags=[],
                    labels={}, service="Power", impact=2, urgency=2, guard_reference=False,
                    created_at=now, updated_at=now)
        check_id = conn.execute(text("SELECT id FROM checks WHERE slug = 'ups-a'")).scalar()
        _insert(conn, "check_results", check_id=check_id, started_at=now, status="CRITICAL",
                message="timeout", duration=10.0, metrics={})
        _insert(conn, "shift_schedules", name="Duty engineers", line="first",
                time_zone="Europe/Kyiv", self_service=False, created_at=now, updated_at=now)
        client = _insert(conn, "visitor_clients", name="Acme", active=True, created_at=now,
                         escort_required=False)
        _insert(conn, "visitor_access_requests", client_id=client, window_start=now,
                window_end=now + timedelta(hours=2), areas=["hall-a"], purpose="swap disk",
                racks="A1", requested_by="ops@acme.example", status="approved",
                decision_note="", created_at=now, people_count=1, had_vehicle=False,
                anonymised=False)
        _insert(conn, "visitor_visits", client_id=client, status="on_site", recorded_at=now,
                name_matched=True, areas=["hall-a"], purpose="swap disk", nda_signed=True,
                safety_form_signed=True, badge_returned=False, anonymised=False,
                on_authorised_list=True, escorted=False, badge_lost=False, guest_count=0,
                equipment_in_count=0, equipment_out_count=0, badge_number="7")
        _insert(conn, "incidents", dedup_key=f"check:{check_id}", group_key="g",
                title="ups-a is CRITICAL", source="check", severity="critical", priority="P2",
                impact=2, urgency=2, status="triggered", line="first", lines_seen=["first"],
                labels={}, ping_pong_count=0, reopen_count=0, alert_count=1,
                last_alert_at=now, sla_targets={}, created_at=now, updated_at=now, version=1,
                returns_count=0, flapping=False, check_id=check_id)
        incident = conn.execute(text("SELECT id FROM incidents")).scalar()
        _insert(conn, "incident_events", incident_id=incident, kind="triggered", at=now,
                actor="check", data={})


#: Rows that refer to the rebuilt tables (ON DELETE CASCADE): a SQLite table rebuild with
#: foreign keys on deleted them all (every check result was lost on upgrade).
CHILDREN = ("check_results", "incident_events")


def _children(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in CHILDREN}


def test_everything_made_before_sites_lands_in_the_default_site(db: Database) -> None:
    migrate.downgrade(db, "0031")
    _old_installation(db)
    before = _children(db)
    assert all(before.values())
    migrate.upgrade(db)
    assert _children(db) == before  # the history of checks and incidents is all there

    with db.engine.connect() as conn:
        default = conn.execute(text("SELECT id FROM sites WHERE slug = 'default'")).scalar()
        for table in OWNED:
            sites = conn.execute(text(f"SELECT site_id FROM {table}")).scalars().all()
            assert sites and set(sites) == {default}, table
        assert conn.execute(text("SELECT site_id FROM incidents")).scalars().all() == [default]
        names = conn.execute(text("SELECT display_name, service FROM checks ORDER BY slug")).all()
        badge = conn.execute(text("SELECT badge_number, status FROM visitor_visits")).one()
    assert [tuple(n) for n in names] == [("UPS-A", "Power"), ("UPS-B", "Power")]  # untouched
    assert tuple(badge) == ("7", "on_site")
    with db.session() as s:
        [only] = summaries(s)
        assert (only.site.slug, only.checks) == ("default", 2)
        with pytest.raises(SiteError, match="the default site cannot be deleted"):
            delete_site(s, "default")
        assert [c.slug for c in s.scalars(select(Check).order_by(Check.slug))] == [
            "ups-a", "ups-b"]


def test_walking_the_sites_migrations_back_and_forth_keeps_every_check_result(
        db: Database) -> None:
    migrate.downgrade(db, "0031")
    _old_installation(db)
    before = _children(db)
    for _ in range(2):
        migrate.upgrade(db)
        migrate.downgrade(db, "0031")
    assert _children(db) == before
