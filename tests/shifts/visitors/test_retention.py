"""Rule 6: idle authorisations are deactivated; old visits and requests keep no personal data."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shifts.visitors.model import Direction, EquipmentMovement, NaiveDatetimeError, VisitStatus
from shifts.visitors.retention import (
    RetentionPolicy,
    RetentionPolicyError,
    anonymise_request,
    anonymise_visit,
    deactivated,
    persons_to_deactivate,
    plan_purge,
    requests_to_purge,
    visits_to_purge,
)
from tests.shifts.visitors.builders import NOW, D, H, left, person, request, visit

# --- the policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        pytest.param({"purge_after_days": 89}, "at least 90 days, got 89", id="retention 89 days"),
        pytest.param({"purge_after_days": 0}, "at least 90 days, got 0", id="retention zero"),
        pytest.param({"deactivate_after_days": 0}, "at least 1 day, got 0", id="deactivate 0"),
        pytest.param({"purge_after_days": 120.5}, "whole number of days", id="fractional days"),
        pytest.param({"purge_after_days": True}, "whole number of days", id="boolean"),
    ],
)
def test_retention_policy_refuses_unsafe_settings(settings_, message):
    with pytest.raises(RetentionPolicyError, match=message):
        RetentionPolicy(**settings_)


def test_retention_policy_defaults_to_a_year_and_allows_the_90_day_minimum():
    default = RetentionPolicy()
    assert (default.deactivate_after_days, default.purge_after_days) == (365, 365)
    assert RetentionPolicy(purge_after_days=90).purge_after_days == 90


# --- deactivation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "policy", "deactivate"),
    [
        pytest.param(person(last_visit=NOW - 366 * D), None, True, id="last visit 366 days ago"),
        pytest.param(person(last_visit=NOW - 365 * D), None, True, id="exactly 365 days idle"),
        pytest.param(person(last_visit=NOW - 364 * D), None, False, id="visited 364 days ago"),
        pytest.param(
            person(last_visit=None, valid_from=NOW - 400 * D),
            None,
            True,
            id="never visited in 400 days on the list",
        ),
        pytest.param(
            person(last_visit=None, valid_from=NOW - 10 * D),
            None,
            False,
            id="added ten days ago, not yet visited",
        ),
        pytest.param(
            person(last_visit=NOW - 500 * D, active=False), None, False, id="already inactive"
        ),
        pytest.param(
            person(last_visit=NOW - 31 * D),
            RetentionPolicy(deactivate_after_days=30),
            True,
            id="configured to 30 days",
        ),
    ],
)
def test_persons_idle_too_long_are_to_be_deactivated(entry, policy, deactivate):
    assert (persons_to_deactivate([entry], NOW, policy) == [entry]) is deactivate


def test_deactivation_list_is_longest_idle_first_and_deactivated_copies_are_inactive():
    a = person(id=1, name="A", last_visit=NOW - 400 * D)
    b = person(id=2, name="B", last_visit=NOW - 800 * D)

    todo = persons_to_deactivate([a, b, person(id=3)], NOW)

    assert [p.id for p in todo] == [2, 1]
    assert [deactivated(p).active for p in todo] == [False, False]
    assert deactivated(a).name == "A"


# --- which records are purged -------------------------------------------------------------

OLD_LEFT = left(
    visit(id=1, checked_in_at=NOW - 400 * D, recorded_at=NOW - 400 * D), NOW - 400 * D + 3 * H
)


@pytest.mark.parametrize(
    ("record", "policy", "purge"),
    [
        pytest.param(OLD_LEFT, None, True, id="left 400 days ago"),
        pytest.param(
            left(visit(checked_in_at=NOW - 366 * D, recorded_at=NOW - 366 * D), NOW - 364 * D),
            None,
            False,
            id="came 366 days ago but left 364 days ago",
        ),
        pytest.param(
            left(visit(checked_in_at=NOW - 365 * D, recorded_at=NOW - 365 * D), NOW - 365 * D),
            None,
            True,
            id="exactly at the retention period",
        ),
        pytest.param(
            visit(checked_in_at=NOW - 500 * D, recorded_at=NOW - 500 * D),
            None,
            False,
            id="still on site (forgotten check-out) is never purged",
        ),
        pytest.param(
            visit(
                status=VisitStatus.DENIED,
                checked_in_at=None,
                badge_number=None,
                badge_expires_at=None,
                recorded_at=NOW - 100 * D,
                denial_reason="Ivan Petrov is not on the list",
            ),
            RetentionPolicy(purge_after_days=90),
            True,
            id="denied 100 days ago, 90-day retention",
        ),
        pytest.param(
            visit(status=VisitStatus.NO_SHOW, checked_in_at=None, recorded_at=NOW - 80 * D),
            RetentionPolicy(purge_after_days=90),
            False,
            id="no-show 80 days ago, 90-day retention",
        ),
    ],
)
def test_visits_past_retention_are_purged(record, policy, purge):
    assert (visits_to_purge([record], NOW, policy) == [record]) is purge


def test_request_is_purged_after_retention_unless_someone_is_still_inside_under_it():
    old = request(window_start=NOW - 401 * D, window_end=NOW - 400 * D)
    recent = request(id=101, window_start=NOW - 10 * D, window_end=NOW - 9 * D)
    stuck = visit(id=9, request_id=100, authorised_person_id=None, person_name="Maria Schmidt")

    assert requests_to_purge([old, recent], [], NOW) == [old]
    assert requests_to_purge([old], [stuck], NOW) == []


# --- what is left after the purge ---------------------------------------------------------

PERSONAL = ["Ivan Petrov", "Karl Gast", "Olga Duty", "Anna Contact", "B-XY 1234", "4567", "B001"]


def _all_text(record) -> str:
    return repr(dataclasses.astuple(record))


def test_anonymised_visit_has_no_personal_data_but_keeps_the_facts():
    ivan = dataclasses.replace(
        OLD_LEFT,
        purpose="meet Karl Gast at rack 4",
        escort_staff=None,
        badge_returned=False,
        badge_lost_recorded_by="Olga Duty",
    )
    guest = left(
        visit(
            id=2,
            person_name="Karl Gast",
            authorised_person_id=None,
            escort_visit_id=1,
            badge_number="B002",
            checked_in_at=NOW - 400 * D,
            recorded_at=NOW - 400 * D,
        ),
        NOW - 400 * D + H,
    )
    moves = [
        EquipmentMovement(visit_id=1, direction=Direction.IN, description="server", serial="S1"),
        EquipmentMovement(
            visit_id=1,
            direction=Direction.OUT,
            description="old disk",
            removal_approved_by="Olga Duty",
        ),
        EquipmentMovement(visit_id=1, direction=Direction.OUT, description="old PSU"),
        EquipmentMovement(visit_id=2, direction=Direction.OUT, description="not Ivan's"),
    ]

    anon = anonymise_visit(ivan, movements=moves, visits=[ivan, guest], purged_at=NOW)

    text = _all_text(anon)
    for secret in [*PERSONAL, "rack 4", "server", "old disk"]:
        assert secret not in text
    assert (anon.id, anon.client_id, anon.status) == (1, 1, VisitStatus.LEFT)
    assert (anon.checked_in_at, anon.checked_out_at) == (ivan.checked_in_at, ivan.checked_out_at)
    assert anon.areas == ivan.areas
    assert (anon.guest_count, anon.equipment_in_count, anon.equipment_out_count) == (1, 1, 2)
    assert anon.on_authorised_list and not anon.escorted
    assert anon.badge_lost and not anon.badge_returned
    assert anon.purged_at == NOW


def test_anonymised_denied_visit_keeps_the_code_not_the_reason_with_the_name():
    denied = visit(
        status=VisitStatus.DENIED,
        checked_in_at=None,
        badge_number=None,
        badge_expires_at=None,
        recorded_at=NOW - 200 * D,
        denial_code="authorisation_expired",
        denial_reason="the authorisation of Ivan Petrov expired",
    )

    anon = anonymise_visit(denied, purged_at=NOW)

    assert anon.denial_code == "authorisation_expired"
    assert "Ivan" not in _all_text(anon)


def test_anonymised_request_has_no_names_plate_or_contact():
    req = request(people=("Ivan Petrov", "Karl Gast"), purpose="Olga Duty lets them in")

    anon = anonymise_request(req, purged_at=NOW)

    text = _all_text(anon)
    for secret in PERSONAL:
        assert secret not in text
    assert (anon.client_id, anon.people_count, anon.had_vehicle) == (1, 2, True)
    assert (anon.window_start, anon.window_end, anon.areas) == (
        req.window_start,
        req.window_end,
        req.areas,
    )


def test_purge_plan_leaves_no_personal_data_past_retention_and_touches_nothing_recent():
    old_req = request(people=("Karl Gast",), window_start=NOW - 401 * D, window_end=NOW - 400 * D)
    guest = left(
        visit(
            id=2,
            person_name="Karl Gast",
            authorised_person_id=None,
            request_id=100,
            badge_number="B002",
            checked_in_at=NOW - 401 * D + H,
            recorded_at=NOW - 401 * D + H,
        ),
        NOW - 401 * D + 2 * H,
    )
    recent = left(visit(id=3, checked_in_at=NOW - 5 * D, recorded_at=NOW - 5 * D), NOW - 4 * D)
    inside = visit(id=4, badge_number="B009", person_name="Still Inside")

    plan = plan_purge(
        visits=[OLD_LEFT, guest, recent, inside], requests=[old_req], movements=[], now=NOW
    )

    assert sorted(v.id for v in plan.visits) == [1, 2]
    assert [r.id for r in plan.requests] == [100]
    text = repr(plan)
    for secret in PERSONAL:
        assert secret not in text


_text = st.text(min_size=1, max_size=30).filter(lambda s: s.strip())


@settings(max_examples=200, deadline=None)
@given(name=_text, purpose=st.text(max_size=40), checker=_text, badge=_text, reason=_text)
def test_anonymised_visit_does_not_depend_on_any_personal_field(
    name, purpose, checker, badge, reason
):
    # If the anonymised record is the same whatever the personal fields held, it holds none.
    personal = dataclasses.replace(
        OLD_LEFT,
        person_name=name,
        purpose=purpose,
        id_checked_by=checker,
        badge_number=badge,
        escort_staff=checker,
        denial_reason=reason,
        authorised_person_id=7,
    )
    plain = dataclasses.replace(OLD_LEFT, escort_staff="x", authorised_person_id=8)

    assert anonymise_visit(personal, purged_at=NOW) == anonymise_visit(plain, purged_at=NOW)


def test_retention_functions_reject_naive_now():
    naive = datetime(2025, 6, 10, 9)
    with pytest.raises(NaiveDatetimeError):
        visits_to_purge([OLD_LEFT], naive)
    with pytest.raises(NaiveDatetimeError):
        persons_to_deactivate([person()], naive)
