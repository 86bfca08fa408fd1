"""Rule 2: unique badges among open visits, same-day expiry, badge back before leaving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shifts.visitors.badges import badge_expiry, check_badge_free, end_of_local_day
from shifts.visitors.decision import RuleCode
from shifts.visitors.model import NaiveDatetimeError, VisitStatus
from shifts.visitors.rules import check_out
from tests.shifts.visitors.builders import (
    BERLIN,
    MIDNIGHT_BERLIN,
    NOW,
    D,
    H,
    attempt,
    decide,
    left,
    person,
    request,
    visit,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


M = timedelta(minutes=1)
EVA = {"person_name": "Eva Gast", "authorised_person_id": None, "id": 501}


@pytest.mark.parametrize(
    ("number", "visits", "code"),
    [
        pytest.param("B017", (visit(),), RuleCode.OK, id="number nobody holds"),
        pytest.param("B001", (visit(),), RuleCode.BADGE_IN_USE, id="held by someone on site"),
        pytest.param(" b001 ", (visit(),), RuleCode.BADGE_IN_USE, id="same number, case/spaces"),
        pytest.param("B 001", (visit(),), RuleCode.BADGE_IN_USE, id="same number, inner space"),
        pytest.param(
            "B001", (left(visit(), NOW - H),), RuleCode.OK, id="last holder has left (badge back)"
        ),
        pytest.param("", (visit(),), RuleCode.BADGE_MISSING, id="empty number"),
        pytest.param(None, (), RuleCode.BADGE_MISSING, id="no number"),
    ],
)
def test_badge_number_is_unique_among_open_visits(number, visits, code):
    assert check_badge_free(number, visits).code is code


def test_check_in_with_a_badge_in_use_names_the_holder():
    decision = decide(attempt(badge_number="B001"), visits=(visit(**EVA),), persons=(person(),))

    assert decision.code is RuleCode.BADGE_IN_USE
    assert "Eva Gast" in decision.reason
    assert decision.correctable  # pick another badge; nothing to record as denied


@pytest.mark.parametrize(
    ("checked_in_at", "limits", "expires"),
    [
        pytest.param(NOW, {}, MIDNIGHT_BERLIN, id="end of the local day, not of the UTC day"),
        pytest.param(
            utc(2025, 6, 9, 22, 30),
            {},
            utc(2025, 6, 10, 22, 0),
            id="00:30 local belongs to the new local day",
        ),
        pytest.param(
            NOW,
            {"request": request(window_end=NOW + 4 * H)},
            NOW + 4 * H,
            id="request window ends before midnight",
        ),
        pytest.param(
            NOW,
            {"request": request(window_end=NOW + 2 * D)},
            MIDNIGHT_BERLIN,
            id="request runs for days: badge still ends at midnight",
        ),
        pytest.param(
            NOW,
            {"person": person(valid_until=NOW + 3 * H)},
            NOW + 3 * H,
            id="authorisation ends before midnight",
        ),
        pytest.param(
            NOW,
            {"escort_visit": visit(badge_expires_at=NOW + 90 * M)},
            NOW + 90 * M,
            id="guest badge ends with the escort's",
        ),
        pytest.param(
            utc(2025, 3, 30, 10, 0),
            {},
            utc(2025, 3, 30, 22, 0),
            id="spring-forward day is 23 hours long",
        ),
        pytest.param(
            utc(2025, 3, 29, 22, 30),
            {},
            utc(2025, 3, 29, 23, 0),
            id="23:30 CET the night before the change",
        ),
        pytest.param(
            utc(2025, 10, 26, 10, 0),
            {},
            utc(2025, 10, 26, 23, 0),
            id="fall-back day is 25 hours long",
        ),
    ],
)
def test_badge_expires_at_the_first_limit(checked_in_at, limits, expires):
    assert badge_expiry(checked_in_at, BERLIN, **limits) == expires


def test_admitted_request_visitor_gets_a_badge_ending_with_the_window():
    decision = decide(
        attempt(name_on_id="Maria Schmidt", areas=("Hall B / Cage 2",)),
        requests=(request(window_end=NOW + 2 * H),),
    )

    assert decision.visit.badge_expires_at == NOW + 2 * H


def test_end_of_local_day_rejects_naive_time():
    with pytest.raises(NaiveDatetimeError):
        end_of_local_day(datetime(2025, 6, 10, 9), BERLIN)


@pytest.mark.parametrize(
    ("returned", "lost_by", "code"),
    [
        pytest.param(True, None, RuleCode.OK, id="badge handed back"),
        pytest.param(False, "Olga Duty", RuleCode.OK, id="loss recorded by staff"),
        pytest.param(False, None, RuleCode.BADGE_NOT_RETURNED, id="neither back nor lost"),
        pytest.param(False, "   ", RuleCode.BADGE_NOT_RETURNED, id="loss recorded by nobody"),
    ],
)
def test_check_out_needs_the_badge_back_or_a_recorded_loss(returned, lost_by, code):
    decision = check_out(
        visit(), visits=(visit(),), badge_returned=returned, badge_lost_recorded_by=lost_by, now=NOW
    )

    assert decision.code is code
    if code is RuleCode.OK:
        assert decision.visit.status is VisitStatus.LEFT
        assert decision.visit.badge_returned is returned
        assert decision.visit.badge_lost is (not returned)
    else:
        assert "B001" in decision.reason
        assert decision.visit is None


def test_a_lost_badge_frees_nothing_until_its_holder_has_left():
    # After a recorded loss and check-out the number is free again for a new badge.
    gone = check_out(
        visit(), visits=(visit(),), badge_returned=False, badge_lost_recorded_by="Olga", now=NOW
    ).visit

    assert check_badge_free("B001", (visit(),)).code is RuleCode.BADGE_IN_USE
    assert check_badge_free("B001", (gone,)).allowed
