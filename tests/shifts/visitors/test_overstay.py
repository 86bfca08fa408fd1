"""Rule 5: overstays past expected check-out, request end or badge expiry are flagged."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shifts.visitors.model import NaiveDatetimeError
from shifts.visitors.onsite import Limit, overstays
from tests.shifts.visitors.builders import NOW, H, left, request, visit

M = timedelta(minutes=1)
MARIA = {
    "id": 501,
    "person_name": "Maria Schmidt",
    "authorised_person_id": None,
    "request_id": 100,
    "badge_number": "B002",
}


@pytest.mark.parametrize(
    ("the_visit", "requests", "expected"),
    [
        pytest.param(
            visit(expected_checkout_at=NOW + H, badge_expires_at=NOW + 2 * H),
            (),
            [],
            id="within every limit",
        ),
        pytest.param(
            visit(expected_checkout_at=NOW - 30 * M),
            (),
            [(Limit.EXPECTED_CHECKOUT, 30 * M)],
            id="half an hour past expected check-out",
        ),
        pytest.param(
            visit(badge_expires_at=NOW - 5 * M),
            (),
            [(Limit.BADGE_EXPIRY, 5 * M)],
            id="badge expired five minutes ago",
        ),
        pytest.param(
            visit(**MARIA),
            (request(window_start=NOW - 5 * H, window_end=NOW - 2 * H),),
            [(Limit.REQUEST_END, 2 * H)],
            id="request window ended two hours ago",
        ),
        pytest.param(
            visit(**MARIA, expected_checkout_at=NOW - 3 * H, badge_expires_at=NOW - M),
            (request(window_start=NOW - 5 * H, window_end=NOW - 2 * H),),
            [(Limit.EXPECTED_CHECKOUT, 3 * H), (Limit.REQUEST_END, 2 * H), (Limit.BADGE_EXPIRY, M)],
            id="every limit passed, longest first",
        ),
        pytest.param(
            visit(expected_checkout_at=NOW, badge_expires_at=NOW),
            (),
            [],
            id="exactly at the limit is not yet over",
        ),
        pytest.param(
            visit(**MARIA),
            (),
            [],
            id="request not supplied is not checked",
        ),
        pytest.param(
            left(visit(expected_checkout_at=NOW - 3 * H, checked_in_at=NOW - 4 * H), NOW - H),
            (),
            [],
            id="visitor who left is not an overstay",
        ),
    ],
)
def test_overstays_name_each_passed_limit_and_by_how_long(the_visit, requests, expected):
    flagged = overstays([the_visit], requests, NOW)

    assert [(p.limit, p.over_by) for o in flagged for p in o.passed] == expected
    if expected:
        assert flagged[0].visit == the_visit
        assert flagged[0].over_by == expected[0][1]


def test_overstays_are_listed_longest_first():
    short = visit(id=1, person_name="A Short", badge_number="B1", expected_checkout_at=NOW - M)
    long = visit(id=2, person_name="B Long", badge_number="B2", expected_checkout_at=NOW - 2 * H)
    fine = visit(id=3, person_name="C Fine", badge_number="B3")

    flagged = overstays([short, fine, long], [], NOW)

    assert [o.visit.person_name for o in flagged] == ["B Long", "A Short"]
    assert flagged[0].limits == (Limit.EXPECTED_CHECKOUT,)


def test_overstays_reject_naive_now():
    with pytest.raises(NaiveDatetimeError):
        overstays([visit()], [], datetime(2025, 6, 10, 9))
