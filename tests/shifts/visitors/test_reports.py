"""Pure handoff badge list and wall summary (no database)."""

from __future__ import annotations

import pytest

from shifts.visitors.model import VisitStatus
from shifts.visitors.reports import first_name, open_badges, summarise_on_site

from .builders import ACME, NOW, H, left, request, visit


@pytest.mark.parametrize(
    ("numbers", "board_order"),
    [
        (["B10", "B2", "B1"], ["B1", "B2", "B10"]),  # numeric part in natural order
        (["C1", "b7", "A3"], ["A3", "b7", "C1"]),  # prefix ignores case
        (["X", "17", "9"], ["9", "17", "X"]),  # bare numbers come before lettered badges
    ],
)
def test_open_badges_read_in_board_order(numbers: list[str], board_order: list[str]) -> None:
    visits = [
        visit(id=i, badge_number=n, person_name=f"Person {i}") for i, n in enumerate(numbers, 1)
    ]
    assert [b.badge_number for b in open_badges(visits, [], NOW)] == board_order


def test_people_who_left_or_were_denied_hold_no_open_badge() -> None:
    inside = visit(id=1, badge_number="B1")
    gone = left(visit(id=2, badge_number="B2", person_name="Ann Lee"), NOW - H)
    denied = visit(
        id=3,
        status=VisitStatus.DENIED,
        badge_number=None,
        badge_expires_at=None,
        checked_in_at=None,
        denial_reason="not on the list",
        person_name="Bob Stone",
    )
    badges = open_badges([inside, gone, denied], [], NOW, {ACME.id: ACME.name})
    assert [(b.badge_number, b.client_name, b.time_inside) for b in badges] == [
        ("B1", ACME.name, 2 * H)
    ]


def test_a_visitor_past_the_request_end_is_flagged_with_that_limit() -> None:
    req = request(id=7, window_start=NOW - 4 * H, window_end=NOW - H)
    late = visit(id=1, request_id=7, authorised_person_id=None)
    [badge] = open_badges([late], [req], NOW)
    assert badge.overstay and badge.overstay_by == H and "request_end" in badge.limits


@pytest.mark.parametrize(
    ("full", "first"),
    [("Ivan Petrov", "Ivan"), ("  Olga  ", "Olga"), ("Jean-Luc Picard", "Jean-Luc"), ("", "")],
)
def test_first_name_is_the_first_word(full: str, first: str) -> None:
    assert first_name(full) == first


def test_the_summary_counts_overstays_and_keeps_first_names_only() -> None:
    ivan = visit(id=1, expected_checkout_at=NOW - H)
    olga = visit(id=2, person_name="Olga Shevchenko", badge_number="B2", checked_in_at=NOW - H)
    summary = summarise_on_site([ivan, olga], [], NOW)
    assert summary == (2, 1, ("Ivan", "Olga"))
    assert summary.count == 2 and summary.overstays_count == 1
