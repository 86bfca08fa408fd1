"""The visitor log service against real databases (SQLite and PostgreSQL): what gets stored."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database
from dutydesk.models import (
    AccessRequestPerson,
    AccessRequestRow,
    AuditEntry,
    AuthorisedPersonRow,
    EquipmentMovementRow,
    VisitRow,
)
from shifts.visitors import service as svc
from shifts.visitors.checkin import CheckInAttempt
from shifts.visitors.model import SitePolicy
from shifts.visitors.retention import RetentionPolicy

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
POLICY = SitePolicy(timezone="Europe/Kyiv")
ACTOR = "desk@dc.example"


def arrive(name: str, badge: str | None = "B1", **extra: Any) -> CheckInAttempt:
    values: dict[str, Any] = {
        "name_on_id": name,
        "id_checked_by": "Olena (desk)",
        "areas": ("Hall A / Cage 3",),
        "badge_number": badge,
        "nda_signed": True,
        "safety_form_signed": True,
    }
    values.update(extra)
    return CheckInAttempt(**values)


@pytest.fixture
def site(db: Database) -> dict[str, int]:
    """Client Acme with Ivan (valid, may bring 1 guest) and Petra (authorisation expired)."""
    with db.session() as s:
        client = svc.create_client(s, ACTOR, name="Acme", contacts=[{"name": "Ops Desk"}])
        ivan = svc.add_authorised_person(
            s,
            ACTOR,
            client_id=client.id,
            name="Ivan Petrov",
            id_document_type="passport",
            id_number="AB 123-4567",
            scope="Hall A",
            valid_from=NOW - timedelta(days=30),
            may_bring_guests=True,
            guest_limit=1,
        )
        petra = svc.add_authorised_person(
            s,
            ACTOR,
            client_id=client.id,
            name="Petra Novak",
            id_document_type="national_id",
            id_number="987654321",
            scope="Hall A",
            valid_from=NOW - timedelta(days=300),
            valid_until=NOW - timedelta(days=1),
        )
        return {"client": client.id, "ivan": ivan.id, "petra": petra.id}


def check_in(db: Database, site: dict[str, int], attempt: CheckInAttempt, now: datetime = NOW):
    with db.session() as s:
        return svc.check_in(
            s, ACTOR, client_id=site["client"], attempt=attempt, policy=POLICY, now=now
        )


def visits(db: Database) -> list[VisitRow]:
    with db.session() as s:
        return list(s.scalars(select(VisitRow).order_by(VisitRow.id)))


def test_only_the_masked_id_number_is_stored(db: Database, site: dict[str, int]) -> None:
    with db.session() as s:
        stored = s.get(AuthorisedPersonRow, site["ivan"]).id_number_masked
    assert stored.endswith("4567") and "123" not in stored


def test_an_authorised_person_checks_in_and_last_visit_is_set(
    db: Database, site: dict[str, int]
) -> None:
    outcome = check_in(db, site, arrive("IVAN petrov"))
    assert outcome.decision.allowed
    [row] = visits(db)
    assert (row.status, row.basis, row.badge_number) == ("on_site", "authorised_list", "B1")
    assert row.badge_expires_at is not None and row.badge_expires_at > NOW
    with db.session() as s:
        assert s.get(AuthorisedPersonRow, site["ivan"]).last_visit == NOW
        actions = list(s.scalars(select(AuditEntry.action)))
    assert "visitors.visit.check_in" in actions


def test_an_expired_authorisation_is_recorded_as_a_denied_visit_with_the_reason(
    db: Database, site: dict[str, int]
) -> None:
    outcome = check_in(db, site, arrive("Petra Novak"))
    assert not outcome.decision.allowed
    [row] = visits(db)
    assert row.status == "denied"
    assert row.denial_code == "authorisation_expired"
    assert "expired" in row.denial_reason and "Petra Novak" in row.denial_reason
    assert row.checked_in_at is None and row.badge_number is None


@pytest.mark.parametrize(
    ("attempt", "code"),
    [
        (arrive("Ivan Petrov", id_checked_by=None), "missing_id_check"),  # no ID check
        (arrive("Ivan Petrov", nda_signed=False), "nda_not_signed"),  # form missing
        (arrive("Ivan Petrov", badge=None), "badge_missing"),  # no badge given
    ],
)
def test_a_correctable_refusal_stores_nothing(
    db: Database, site: dict[str, int], attempt: CheckInAttempt, code: str
) -> None:
    outcome = check_in(db, site, attempt)
    assert outcome.decision.code.value == code and outcome.row is None
    assert visits(db) == []


def test_a_badge_already_out_is_refused_until_it_comes_back(
    db: Database, site: dict[str, int]
) -> None:
    with db.session() as s:
        client_id = site["client"]
        svc.add_authorised_person(
            s,
            ACTOR,
            client_id=client_id,
            name="Anna Berg",
            id_document_type="passport",
            id_number="X99887766",
            scope="Hall A",
            valid_from=NOW - timedelta(days=1),
        )
    assert check_in(db, site, arrive("Ivan Petrov", badge="B7")).decision.allowed
    second = check_in(db, site, arrive("Anna Berg", badge="b 7"))
    assert second.decision.code.value == "badge_in_use" and second.row is None
    assert len(visits(db)) == 1


def test_a_request_lets_people_in_only_once_approved(db: Database, site: dict[str, int]) -> None:
    with db.session() as s:
        req = svc.create_request(
            s,
            ACTOR,
            client_id=site["client"],
            people=["Tom Field", "Eva Green"],
            window_start=NOW - timedelta(hours=1),
            window_end=NOW + timedelta(hours=4),
            areas="Hall A / Cage 3",
            purpose="swap a PSU",
            vehicle_plate="AA1234BB",
            now=NOW,
        )
        request_id = req.id
    pending = check_in(db, site, arrive("Tom Field", badge="R1"))
    assert pending.decision.code.value == "request_not_approved"
    with db.session() as s:
        svc.decide_request(s, "lead", request_id, approve=True, now=NOW)
    later = NOW + timedelta(minutes=5)
    allowed = check_in(db, site, arrive("Tom Field", badge="R1"), now=later)
    assert allowed.decision.allowed and allowed.row.request_id == request_id
    with db.session() as s, pytest.raises(svc.VisitorInputError, match="already approved"):
        svc.decide_request(s, "lead", request_id, approve=False, now=later)


def test_check_out_needs_the_badge_and_an_escort_waits_for_their_guests(
    db: Database, site: dict[str, int]
) -> None:
    ivan = check_in(db, site, arrive("Ivan Petrov", badge="E1")).row
    guest = check_in(db, site, arrive("Mark Guest", badge="G1", escort_visit_id=ivan.id)).row
    assert guest.status == "on_site" and guest.escort_visit_id == ivan.id
    later = NOW + timedelta(hours=1)
    with db.session() as s:
        escort_first = svc.check_out(s, ACTOR, ivan.id, badge_returned=True, now=later)
        no_badge = svc.check_out(s, ACTOR, guest.id, badge_returned=False, now=later)
    assert escort_first.code.value == "escort_has_guests_inside"
    assert no_badge.code.value == "badge_not_returned"
    with db.session() as s:
        lost = svc.check_out(
            s, ACTOR, guest.id, badge_returned=False, badge_lost_recorded_by="Olena", now=later
        )
        escort = svc.check_out(s, ACTOR, ivan.id, badge_returned=True, now=later)
    assert lost.allowed and escort.allowed
    rows = {r.id: r for r in visits(db)}
    assert rows[guest.id].status == "left" and rows[guest.id].badge_lost
    assert rows[ivan.id].checked_out_at == later
    with db.session() as s:
        again = svc.check_out(s, ACTOR, ivan.id, badge_returned=True, now=later)
    assert again.code.value == "not_on_site"


def test_equipment_leaves_only_with_a_right_or_a_recorded_approval(
    db: Database, site: dict[str, int]
) -> None:
    visit = check_in(db, site, arrive("Ivan Petrov")).row  # Ivan has no remove-equipment right
    with db.session() as s:
        refused, none = svc.record_equipment(
            s, ACTOR, visit.id, direction="out", description="Dell R740", serial="SN1", now=NOW
        )
        allowed, stored = svc.record_equipment(
            s,
            ACTOR,
            visit.id,
            direction="out",
            description="Dell R740",
            serial="SN1",
            removal_approved_by="Shift lead Kim",
            now=NOW,
        )
    assert refused.code.value == "equipment_removal_not_approved" and none is None
    assert allowed.allowed and stored is not None
    with db.session() as s:
        assert s.scalar(select(func.count(EquipmentMovementRow.id))) == 1


def test_search_and_csv_export_list_the_same_visits(db: Database, site: dict[str, int]) -> None:
    check_in(db, site, arrive("Ivan Petrov", badge="C1"))
    check_in(db, site, arrive("Petra Novak", badge="C2"))  # denied
    with db.session() as s:
        found = list(s.scalars(svc.R.visit_search(person="petr")))
        by_badge = list(s.scalars(svc.R.visit_search(badge="c1")))
        text = svc.export_csv(s, found)
    assert {v.person_name for v in found} == {"Ivan Petrov", "Petra Novak"}
    assert [v.person_name for v in by_badge] == ["Ivan Petrov"]
    table = list(csv.DictReader(io.StringIO(text)))
    assert {r["person"]: r["status"] for r in table} == {
        "Ivan Petrov": "on_site",
        "Petra Novak": "denied",
    }
    assert next(r for r in table if r["status"] == "denied")["denial_code"] == (
        "authorisation_expired"
    )


def test_retention_leaves_no_personal_data_past_the_retention_period(
    db: Database, site: dict[str, int]
) -> None:
    with db.session() as s:
        req = svc.create_request(
            s,
            ACTOR,
            client_id=site["client"],
            people=["Tom Field"],
            window_start=NOW - timedelta(hours=1),
            window_end=NOW + timedelta(hours=2),
            areas="Hall A",
            vehicle_plate="AA1234BB",
            now=NOW,
        )
        svc.decide_request(s, "lead", req.id, approve=True, now=NOW)
    old = check_in(db, site, arrive("Ivan Petrov", badge="P1")).row
    check_in(db, site, arrive("Tom Field", badge="P2"))
    check_in(db, site, arrive("Petra Novak", badge="P3"))  # denied
    with db.session() as s:
        svc.record_equipment(s, ACTOR, old.id, direction="in", description="switch", now=NOW)
        for v in svc.on_site_now(s, NOW):
            svc.check_out(s, ACTOR, v.visit.id, badge_returned=True, now=NOW + timedelta(hours=1))
    # A visit 300 days later is within retention and must keep its data.
    recent_day = NOW + timedelta(days=300)
    check_in(db, site, arrive("Ivan Petrov", badge="P9"), now=recent_day)

    later = NOW + timedelta(days=400)
    with db.session() as s:
        report = svc.run_retention(s, "system", policy=RetentionPolicy(), now=later)
    assert (report.visits_purged, report.requests_purged) == (3, 1)
    rows = visits(db)
    purged = [r for r in rows if r.anonymised]
    assert len(purged) == 3
    for r in purged:
        assert r.person_name is None and r.id_checked_by is None and r.badge_number is None
        assert r.denial_reason is None and r.recorded_by is None and r.purpose == ""
    assert next(r for r in purged if r.id == old.id).equipment_in_count == 1
    kept = [r for r in rows if not r.anonymised]
    assert [r.person_name for r in kept] == ["Ivan Petrov"]
    with db.session() as s:
        assert s.scalar(select(func.count(AccessRequestPerson.id))) == 0
        assert s.scalar(select(func.count(EquipmentMovementRow.id))) == 0
        request = s.get(AccessRequestRow, req.id)
        assert (request.vehicle_plate, request.people_count, request.had_vehicle) == (
            None,
            1,
            True,
        )
        audit_text = " ".join(
            f"{e.summary} {e.before} {e.after}" for e in s.scalars(select(AuditEntry))
        )
        # Ivan visited 100 days before the run: still active.
        assert s.get(AuthorisedPersonRow, site["ivan"]).active
        # Petra never visited within 365 days of her valid_from: deactivated.
        assert not s.get(AuthorisedPersonRow, site["petra"]).active
    for name in ("Tom Field", "AA1234BB"):
        assert name not in audit_text


def test_settings_are_validated_with_the_key_named() -> None:
    site, retention = svc.policies_from_settings({"purge_after_days": 120}, "Europe/Kyiv")
    assert retention.purge_after_days == 120 and str(site.timezone) == "Europe/Kyiv"
    with pytest.raises(svc.VisitorInputError, match="at least 90"):
        svc.policies_from_settings({"purge_after_days": 30}, "UTC")
    with pytest.raises(svc.VisitorInputError, match="unknown setting"):
        svc.policies_from_settings({"purge_days": 100}, "UTC")


def test_the_daily_retention_job_is_scheduled_and_purges_with_the_configured_period(
    db: Database, site: dict[str, int], settings: Any
) -> None:
    from dataclasses import replace

    from dutydesk.jobs import scheduled_jobs
    from shifts.visitors.jobs import retention_once, visitor_jobs

    assert "visitor-retention" in {j.id for j in scheduled_jobs(settings, db)}
    bad = replace(settings, extra={"visitors": {"purge_after_days": 10}})
    with pytest.raises(svc.VisitorInputError, match="at least 90"):
        visitor_jobs(bad, db)
    long_ago = datetime.now(UTC) - timedelta(days=200)
    check_in(db, site, arrive("Petra Novak"), now=long_ago)  # denied: expired
    report = retention_once(db, RetentionPolicy(purge_after_days=90))
    assert report.visits_purged == 1
    assert [r.person_name for r in visits(db)] == [None]
