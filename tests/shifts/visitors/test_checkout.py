"""Check-out: only someone on site leaves (bad input), and rule 3: escorts leave after guests."""

from __future__ import annotations

from datetime import datetime

import pytest

from shifts.visitors.decision import RuleCode
from shifts.visitors.model import NaiveDatetimeError, VisitorDataError, VisitStatus
from shifts.visitors.rules import check_out, guests_inside
from tests.shifts.visitors.builders import NOW, H, left, visit

IVAN = visit()
KARL = visit(
    id=501,
    person_name="Karl Gast",
    badge_number="B002",
    authorised_person_id=None,
    escort_visit_id=500,
    checked_in_at=NOW - H,
    recorded_at=NOW - H,
)
EVA = visit(
    id=502,
    person_name="Eva Gast",
    badge_number="B003",
    authorised_person_id=None,
    escort_visit_id=500,
    checked_in_at=NOW - H,
    recorded_at=NOW - H,
)
# Someone else's guest and a staff-escorted contractor: they do not hold Ivan back.
OTTO = visit(
    id=601,
    person_name="Otto Host",
    badge_number="B010",
    authorised_person_id=20,
)
PAUL = visit(
    id=602,
    person_name="Paul Gast",
    badge_number="B011",
    authorised_person_id=None,
    escort_visit_id=601,
)
TOM = visit(
    id=603,
    person_name="Tom Contractor",
    badge_number="B012",
    authorised_person_id=None,
    escort_staff="Olga Duty",
)


def leave(v, visits, **kw):
    return check_out(v, visits=visits, badge_returned=kw.pop("badge_returned", True), now=NOW, **kw)


@pytest.mark.parametrize(
    ("who", "visits", "code", "mentions"),
    [
        pytest.param(IVAN, (IVAN,), RuleCode.OK, "", id="authorised person alone leaves"),
        pytest.param(KARL, (IVAN, KARL), RuleCode.OK, "", id="guest leaves before the escort"),
        pytest.param(
            IVAN,
            (IVAN, KARL),
            RuleCode.ESCORT_HAS_GUESTS_INSIDE,
            "Karl Gast",
            id="escort with a guest inside",
        ),
        pytest.param(
            IVAN,
            (IVAN, KARL, EVA),
            RuleCode.ESCORT_HAS_GUESTS_INSIDE,
            "Karl Gast, Eva Gast",
            id="escort with two guests inside names both",
        ),
        pytest.param(
            IVAN,
            (IVAN, left(KARL, NOW - H / 12)),
            RuleCode.OK,
            "",
            id="escort whose guest already left",
        ),
        pytest.param(
            IVAN,
            (IVAN, OTTO, PAUL, TOM),
            RuleCode.OK,
            "",
            id="other escorts' guests and staff-escorted visitors do not block",
        ),
        pytest.param(
            left(IVAN, NOW - H),
            (),
            RuleCode.NOT_ON_SITE,
            "left",
            id="check-out of someone who has left",
        ),
        pytest.param(
            visit(
                status=VisitStatus.DENIED,
                checked_in_at=None,
                badge_number=None,
                badge_expires_at=None,
                denial_code="not_authorised",
                denial_reason="unknown",
            ),
            (),
            RuleCode.NOT_ON_SITE,
            "denied",
            id="check-out of a denied visitor",
        ),
        pytest.param(
            visit(status=VisitStatus.EXPECTED, checked_in_at=None),
            (),
            RuleCode.NOT_ON_SITE,
            "expected",
            id="check-out of someone not yet arrived",
        ),
        pytest.param(
            visit(status=VisitStatus.NO_SHOW, checked_in_at=None),
            (),
            RuleCode.NOT_ON_SITE,
            "no_show",
            id="check-out of a no-show",
        ),
    ],
)
def test_check_out(who, visits, code, mentions):
    decision = leave(who, visits)

    assert decision.code is code
    assert mentions in decision.reason
    assert decision.allowed is (code is RuleCode.OK)


def test_checked_out_visit_is_left_at_now_with_the_badge_back():
    decision = leave(IVAN, (IVAN,))

    gone = decision.visit
    assert gone.status is VisitStatus.LEFT
    assert gone.checked_out_at == NOW
    assert gone.badge_returned and not gone.badge_lost
    assert gone.checked_in_at == IVAN.checked_in_at and gone.badge_number == "B001"


def test_refusals_at_check_out_are_desk_corrections_not_denials():
    assert leave(IVAN, (IVAN, KARL)).correctable
    assert leave(left(IVAN, NOW), ()).correctable


def test_escort_may_leave_once_guests_are_checked_out():
    karl_out = leave(KARL, (IVAN, KARL)).visit

    assert leave(IVAN, (IVAN, karl_out)).allowed


def test_guests_inside_lists_only_on_site_guests_of_that_escort():
    assert guests_inside(IVAN, (IVAN, KARL, left(EVA, NOW), PAUL)) == [KARL]


def test_check_out_before_check_in_is_a_data_error():
    with pytest.raises(VisitorDataError, match="before the check-in"):
        check_out(IVAN, visits=(IVAN,), badge_returned=True, now=IVAN.checked_in_at - H)


def test_check_out_rejects_naive_time():
    with pytest.raises(NaiveDatetimeError):
        check_out(IVAN, visits=(IVAN,), badge_returned=True, now=datetime(2025, 6, 10, 9))
