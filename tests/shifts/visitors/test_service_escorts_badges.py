"""Badge numbers, escorts and four eyes against real databases (SQLite and PostgreSQL): the
stored form, the unique index of open badges, the audit of a self-approval, the migration."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dutydesk.core.db import Database
from dutydesk.models import AuditEntry, VisitRow
from shifts.visitors import service as svc
from shifts.visitors.model import SitePolicy

from .service_helpers import ACTOR, NOW, POLICY, arrive, make_site


@pytest.fixture
def site(db: Database) -> dict[str, int]:
    return make_site(db)


def _check_in(db: Database, site: dict[str, int], attempt, policy: SitePolicy = POLICY):
    with db.session() as s:
        return svc.check_in(s, ACTOR, client_id=site["client"], attempt=attempt, policy=policy,
                            now=NOW)


def test_a_badge_typed_b_dash_001_is_stored_as_b001_and_blocks_b001(
    db: Database, site: dict[str, int]
) -> None:
    first = _check_in(db, site, arrive("Ivan Petrov", badge=" b-001 "))
    assert first.decision.allowed and first.row.badge_number == "B001"
    second = _check_in(db, site, arrive("Maria Kovalenko", badge="B001"))
    assert second.decision.code.value == "badge_in_use"


def test_the_unique_index_of_open_badges_holds_the_one_form(
    db: Database, site: dict[str, int]
) -> None:
    _check_in(db, site, arrive("Ivan Petrov", badge="b-001"))
    with db.session() as s:
        held = s.scalar(select(VisitRow).where(VisitRow.status == "on_site"))
        copy = VisitRow(client_id=site["client"], person_name="Maria Kovalenko",
                        status="on_site", recorded_at=NOW, badge_number="B001",
                        badge_expires_at=held.badge_expires_at, checked_in_at=NOW)
        s.add(copy)
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()


def test_an_escort_required_person_is_refused_alone_and_let_in_with_staff(
    db: Database, site: dict[str, int]
) -> None:
    with db.session() as s:
        svc.set_escort_required(s, ACTOR, person_id=site["ivan"], required=True)
        s.commit()
    alone = _check_in(db, site, arrive("Ivan Petrov"))
    assert alone.decision.code.value == "escort_required" and alone.row is None
    with_escort = _check_in(db, site, arrive("Ivan Petrov", escort_staff="Olena (desk)"))
    assert with_escort.decision.allowed


def _request(db: Database, site: dict[str, int], actor: str) -> int:
    with db.session() as s:
        row = svc.create_request(
            s, actor, client_id=site["client"], people=["Tom Field"],
            window_start=NOW - timedelta(hours=1), window_end=NOW + timedelta(hours=3),
            areas="Hall A", now=NOW)
        s.commit()
        return row.id


def test_an_engineer_cannot_approve_their_own_access_request(
    db: Database, site: dict[str, int]
) -> None:
    request_id = _request(db, site, "olena@dc.example")
    with db.session() as s, pytest.raises(svc.FourEyesError, match="four eyes"):
        svc.decide_request(s, "olena@dc.example", request_id, approve=True, now=NOW,
                           policy=POLICY)
    with db.session() as s:
        row = svc.decide_request(s, "taras@dc.example", request_id, approve=True, now=NOW,
                                 policy=POLICY)
        assert row.status == "approved" and row.decided_by == "taras@dc.example"


def test_with_four_eyes_off_a_self_approval_is_audited_with_the_reason(
    db: Database, site: dict[str, int]
) -> None:
    alone = SitePolicy(timezone="Europe/Kyiv", four_eyes=False,
                       four_eyes_off_reason="one-person site")
    request_id = _request(db, site, "olena@dc.example")
    with db.session() as s:
        svc.decide_request(s, "olena@dc.example", request_id, approve=True, now=NOW,
                           policy=alone)
        s.commit()
        entry = s.scalar(select(AuditEntry).where(
            AuditEntry.action == "visitors.request.approve"))
    assert "one-person site" in entry.summary


def test_the_migration_normalises_stored_badges_and_leaves_an_open_clash_for_the_desk(
    db: Database, site: dict[str, int]
) -> None:
    from importlib import import_module

    migration = import_module(
        "dutydesk.migrations.versions.0017_visitor_escorts_four_eyes_badges")
    rows = [("Ivan Petrov", "on_site", "b-001", 0), ("Maria Kovalenko", "on_site", " B 001", 1),
            ("Tom Field", "left", "x-9", 2)]
    with db.session() as s:
        for name, status, badge, minutes in rows:  # typed before there was one form
            s.execute(sa.insert(VisitRow).values(
                client_id=site["client"], person_name=name, status=status, recorded_at=NOW,
                badge_number=badge, checked_in_at=NOW + timedelta(minutes=minutes)))
        s.commit()
        clashes = migration.normalise_badges(s.connection())
        s.commit()
        stored = dict(s.execute(select(VisitRow.person_name, VisitRow.badge_number)).all())
    assert stored == {"Ivan Petrov": "B001", "Maria Kovalenko": " B 001", "Tom Field": "X9"}
    assert len(clashes) == 1
