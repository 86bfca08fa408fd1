"""Open badges for the shift handoff and the wall's first-names-only summary, from storage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dutydesk.core.db import Database
from shifts.visitors import service as svc
from shifts.visitors.onsite import Limit

from .service_helpers import ACTOR, NOW, POLICY, arrive, make_site

H = timedelta(hours=1)


@pytest.fixture
def site(db: Database) -> dict[str, int]:
    """Ivan inside for 5 h, expected out an hour ago, badge B10; Maria inside for 1 h, B2."""
    ids = make_site(db)
    with db.session() as s:
        for name, badge, since, expected_out in (
            ("Ivan Petrov", "B10", NOW - 5 * H, NOW - H),
            ("Maria Kovalenko", "B2", NOW - H, None),
        ):
            outcome = svc.check_in(
                s,
                ACTOR,
                client_id=ids["client"],
                attempt=arrive(name, badge=badge, expected_checkout_at=expected_out),
                policy=POLICY,
                now=since,
            )
            assert outcome.decision.allowed, outcome.decision.reason
            ids[badge] = outcome.row.id
    return ids


def test_open_badges_list_everyone_inside_by_badge_with_time_inside_and_overstay(
    db: Database, site: dict[str, int]
) -> None:
    with db.session() as s:
        badges = svc.open_badges_now(s, NOW)
    assert [
        (b.badge_number, b.person_name, b.client_name, b.time_inside, b.overstay) for b in badges
    ] == [
        ("B2", "Maria Kovalenko", "Acme", H, False),
        ("B10", "Ivan Petrov", "Acme", 5 * H, True),
    ]
    ivan = badges[1]
    assert (ivan.visit_id, ivan.overstay_by, ivan.limits) == (
        site["B10"],
        H,
        (Limit.EXPECTED_CHECKOUT,),
    )


def test_a_badge_handed_back_is_no_longer_open(db: Database, site: dict[str, int]) -> None:
    with db.session() as s:
        assert svc.check_out(s, ACTOR, site["B2"], badge_returned=True, now=NOW).allowed
    with db.session() as s:
        assert [b.badge_number for b in svc.open_badges_now(s, NOW)] == ["B10"]


def test_the_wall_summary_counts_people_and_overstays_and_names_only_first_names(
    db: Database, site: dict[str, int]
) -> None:
    with db.session() as s:
        count, overstays_count, first_names = svc.on_site_summary(s, NOW)
    assert (count, overstays_count, first_names) == (2, 1, ("Ivan", "Maria"))
    with db.session() as s:
        summary = svc.on_site_summary(s, NOW)
    assert "Petrov" not in repr(summary) and "Kovalenko" not in repr(summary)


def test_the_wall_summary_of_an_empty_site_is_zero(db: Database, site: dict[str, int]) -> None:
    with db.session() as s:
        for visit_id in (site["B2"], site["B10"]):
            svc.check_out(s, ACTOR, visit_id, badge_returned=True, now=NOW)
    with db.session() as s:
        assert svc.on_site_summary(s, NOW) == (0, 0, ())
