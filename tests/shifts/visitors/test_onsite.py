"""People on site now (evacuation list), today's expected visitors, no-shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shifts.visitors.model import RequestStatus, VisitorDataError, VisitStatus
from shifts.visitors.onsite import expected_today, no_shows, people_on_site
from tests.shifts.visitors.builders import BERLIN, NOW, D, H, left, request, visit

M = timedelta(minutes=1)
IVAN = visit()  # in since NOW - 2 h
KARL = visit(
    id=501,
    person_name="Karl Gast",
    badge_number="B002",
    authorised_person_id=None,
    escort_visit_id=500,
    checked_in_at=NOW - H,
    recorded_at=NOW - H,
)
TOM = visit(
    id=502,
    person_name="Tom Contractor",
    badge_number="B003",
    authorised_person_id=None,
    escort_staff="Olga Duty",
    checked_in_at=NOW - 30 * M,
    recorded_at=NOW - 30 * M,
)
GONE = left(visit(id=503, person_name="Gone Home", badge_number="B004"), NOW - M)
DENIED = visit(
    id=504,
    person_name="John Doe",
    status=VisitStatus.DENIED,
    checked_in_at=None,
    badge_number=None,
    badge_expires_at=None,
    denial_code="not_authorised",
    denial_reason="not on any list",
)


def test_people_on_site_lists_who_is_inside_longest_first_with_escort():
    inside = people_on_site([TOM, GONE, KARL, DENIED, IVAN], NOW)

    assert [(p.visit.person_name, p.time_inside, p.escort_name) for p in inside] == [
        ("Ivan Petrov", 2 * H, None),
        ("Karl Gast", H, "Ivan Petrov"),
        ("Tom Contractor", 30 * M, "Olga Duty"),
    ]


def test_people_on_site_is_empty_when_everyone_left():
    assert people_on_site([GONE, DENIED], NOW) == []


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "status", "listed"),
    [
        pytest.param(NOW - H, NOW + 4 * H, RequestStatus.APPROVED, True, id="window around now"),
        pytest.param(NOW + 3 * H, NOW + 5 * H, RequestStatus.APPROVED, True, id="this afternoon"),
        pytest.param(
            NOW - 5 * H, NOW - 3 * H, RequestStatus.APPROVED, True, id="ended this morning"
        ),
        pytest.param(NOW - D, NOW + D, RequestStatus.APPROVED, True, id="spans several days"),
        pytest.param(
            utc(2025, 6, 10, 21, 30),
            utc(2025, 6, 10, 23, 0),
            RequestStatus.APPROVED,
            True,
            id="starts 23:30 local today",
        ),
        pytest.param(
            utc(2025, 6, 10, 22, 0),
            utc(2025, 6, 10, 23, 0),
            RequestStatus.APPROVED,
            False,
            id="starts at local midnight: tomorrow",
        ),
        pytest.param(
            utc(2025, 6, 9, 20, 0),
            utc(2025, 6, 9, 22, 0),
            RequestStatus.APPROVED,
            False,
            id="ended at local midnight: yesterday",
        ),
        pytest.param(NOW - H, NOW + H, RequestStatus.PENDING, False, id="pending request"),
        pytest.param(NOW - H, NOW + H, RequestStatus.REJECTED, False, id="rejected request"),
    ],
)
def test_expected_today_follows_the_local_day(start, end, status, listed):
    req = request(
        window_start=start,
        window_end=end,
        status=status,
        decided_by=None if status is RequestStatus.PENDING else "Olga Duty",
    )

    names = [e.person_name for e in expected_today([req], [], NOW, BERLIN)]

    assert names == (["Maria Schmidt"] if listed else [])


def test_expected_today_shows_who_arrived_and_who_is_late():
    req = request(people=("Maria Schmidt", "Ivan Petrov", "Lena Late", "John Doe"))
    maria_in = visit(
        id=600,
        person_name="Maria Schmidt",
        request_id=100,
        badge_number="B5",
        authorised_person_id=None,
    )
    # Ivan came in on his own list entry, not under the request: still counts as arrived.
    ivan_in = visit(checked_in_at=NOW - 30 * M, recorded_at=NOW - 30 * M)
    john_denied = visit(
        id=601,
        person_name="John Doe",
        request_id=100,
        status=VisitStatus.DENIED,
        checked_in_at=None,
        badge_number=None,
        badge_expires_at=None,
        denial_reason="name mismatch",
    )

    rows = {
        e.person_name: e
        for e in expected_today([req], [maria_in, ivan_in, john_denied], NOW, "Europe/Berlin")
    }

    assert {n: (r.status, r.arrived, r.late) for n, r in rows.items()} == {
        "Maria Schmidt": (VisitStatus.ON_SITE, True, False),
        "Ivan Petrov": (VisitStatus.ON_SITE, True, False),
        "Lena Late": (VisitStatus.EXPECTED, False, True),
        "John Doe": (VisitStatus.DENIED, True, False),
    }


def test_expected_today_sorts_by_window_then_name():
    later = request(id=101, people=("Anna Later",), window_start=NOW + H, window_end=NOW + 2 * H)
    now_req = request(people=("Zoe Now", "Bob Now"))

    names = [e.person_name for e in expected_today([later, now_req], [], NOW, BERLIN)]

    assert names == ["Bob Now", "Zoe Now", "Anna Later"]


def test_expected_today_rejects_an_unknown_zone():
    with pytest.raises(VisitorDataError, match="IANA zone"):
        expected_today([], [], NOW, "Nowhere/Special")


def test_no_shows_are_people_whose_window_ended_without_them():
    ended = request(
        people=("Maria Schmidt", "Lena Late"), window_start=NOW - 5 * H, window_end=NOW - H
    )
    running = request(id=101, people=("Anna Running",))
    maria_came = left(
        visit(
            id=600,
            person_name="Maria Schmidt",
            request_id=100,
            authorised_person_id=None,
            checked_in_at=NOW - 4 * H,
            recorded_at=NOW - 4 * H,
        ),
        NOW - 2 * H,
    )

    missing = no_shows([ended, running], [maria_came], NOW)

    assert [e.person_name for e in missing] == ["Lena Late"]


def test_a_recorded_no_show_is_not_listed_again():
    ended = request(people=("Lena Late",), window_start=NOW - 5 * H, window_end=NOW - H)
    recorded = visit(
        id=700,
        person_name="Lena Late",
        request_id=100,
        status=VisitStatus.NO_SHOW,
        checked_in_at=None,
        badge_number=None,
        badge_expires_at=None,
    )

    assert no_shows([ended], [recorded], NOW) == []
