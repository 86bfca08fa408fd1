"""Records refuse inconsistent values with a message naming the field and what is allowed."""

from __future__ import annotations

from datetime import datetime

import pytest

from shifts.visitors.model import NaiveDatetimeError, RequestStatus, VisitorDataError, VisitStatus
from tests.shifts.visitors.builders import NOW, H, person, request, visit

NAIVE = datetime(2025, 6, 10, 9)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: person(name="  "), "name must not be empty", id="blank person name"),
        pytest.param(lambda: person(scope=()), "at least one hall", id="empty scope"),
        pytest.param(lambda: person(guest_limit=-1), "0 or more, got -1", id="negative limit"),
        pytest.param(
            lambda: person(valid_until=NOW - 400 * 24 * H),
            "must not be before valid_from",
            id="authorisation ends before it starts",
        ),
        pytest.param(
            lambda: person(id_document_type="library card"),
            "id_document_type must be one of passport",
            id="unknown document type",
        ),
        pytest.param(lambda: request(people=()), "at least one person", id="request names nobody"),
        pytest.param(
            lambda: request(window_end=NOW - H),
            "must be after window_start",
            id="request window ends before it starts",
        ),
        pytest.param(lambda: request(areas=()), "at least one hall", id="request without areas"),
        pytest.param(
            lambda: request(status=RequestStatus.APPROVED, decided_by=None),
            "decided_by",
            id="approved by nobody",
        ),
        pytest.param(lambda: visit(badge_number=None), "badge_number", id="on site without badge"),
        pytest.param(
            lambda: visit(checked_in_at=None), "needs checked_in_at", id="on site without check-in"
        ),
        pytest.param(
            lambda: visit(status=VisitStatus.LEFT, checked_out_at=NOW),
            "badge returned or its loss recorded",
            id="left without the badge back",
        ),
        pytest.param(
            lambda: visit(status=VisitStatus.LEFT, checked_out_at=NOW - 3 * H, badge_returned=True),
            "must not be before checked_in_at",
            id="left before arriving",
        ),
        pytest.param(
            lambda: visit(checked_out_at=NOW),
            "cannot have checked_out_at",
            id="on site with a check-out time",
        ),
        pytest.param(
            lambda: visit(status=VisitStatus.DENIED, checked_in_at=None),
            "denial_reason",
            id="denied without reason",
        ),
        pytest.param(
            lambda: visit(escort_visit_id=7, escort_staff="Olga Duty"),
            "one escort",
            id="two escorts",
        ),
        pytest.param(lambda: visit(status="gone"), "status must be one of", id="unknown status"),
    ],
)
def test_inconsistent_record_is_refused(build, message):
    with pytest.raises(VisitorDataError, match=message):
        build()


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: person(valid_from=NAIVE), id="person valid_from"),
        pytest.param(lambda: request(window_start=NAIVE), id="request window"),
        pytest.param(lambda: visit(checked_in_at=NAIVE), id="visit check-in"),
    ],
)
def test_naive_datetimes_are_refused(build):
    with pytest.raises(NaiveDatetimeError, match="timezone-aware"):
        build()


def test_enum_values_from_storage_are_accepted_as_text():
    stored = visit(status="on_site")
    assert stored.status is VisitStatus.ON_SITE
