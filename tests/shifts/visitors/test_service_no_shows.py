"""No-shows: people on an approved request whose window ended without them get a NO_SHOW visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.models import AuditEntry, VisitRow
from shifts.visitors import service as svc

from .service_helpers import ACTOR, NOW, POLICY, arrive, make_site

H = timedelta(hours=1)


@pytest.fixture
def site(db: Database) -> dict[str, int]:
    return make_site(db)


def request_for(
    db: Database,
    site: dict[str, int],
    people: list[str],
    start: datetime,
    end: datetime,
    *,
    approve: bool | None = True,
) -> int:
    with db.session() as s:
        row = svc.create_request(
            s,
            ACTOR,
            client_id=site["client"],
            people=people,
            window_start=start,
            window_end=end,
            areas="Hall A",
            purpose="swap a PSU",
            now=start - H,
        )
        if approve is not None:
            svc.decide_request(s, "lead", row.id, approve=approve, now=start - H)
        return row.id


def check_in(db: Database, site: dict[str, int], name: str, at: datetime, **extra: Any) -> Any:
    with db.session() as s:
        return svc.check_in(
            s,
            ACTOR,
            client_id=site["client"],
            attempt=arrive(name, badge=name[:3], **extra),
            policy=POLICY,
            now=at,
        ).decision


def no_show_rows(db: Database) -> list[tuple[str | None, int | None]]:
    with db.session() as s:
        rows = s.scalars(select(VisitRow).where(VisitRow.status == "no_show").order_by(VisitRow.id))
        return [(r.person_name, r.request_id) for r in rows]


def test_only_people_who_never_came_to_an_ended_approved_window_are_marked(
    db: Database, site: dict[str, int]
) -> None:
    ended = request_for(db, site, ["Tom Field", "Anna Lee", "Dan Hall"], NOW - 4 * H, NOW - H)
    request_for(db, site, ["Rita Rejected"], NOW - 4 * H, NOW - H, approve=False)
    request_for(db, site, ["Paula Pending"], NOW - 4 * H, NOW - H, approve=None)
    request_for(db, site, ["Olga Open"], NOW - 2 * H, NOW + H)  # window still open
    # Tom came on the request; Dan came but was denied (wrong hall): he arrived, not a no-show.
    assert check_in(db, site, "Tom Field", NOW - 3 * H, request_id=ended).allowed
    denied = check_in(db, site, "Dan Hall", NOW - 3 * H, request_id=ended, areas=("Hall B",))
    assert not denied.allowed and not denied.correctable

    with db.session() as s:
        marked = svc.mark_no_shows(s, "system", now=NOW)
    assert [r.person_name for r in marked] == ["Anna Lee"]
    assert no_show_rows(db) == [("Anna Lee", ended)]


def test_someone_who_came_on_the_authorised_list_during_the_window_is_not_a_no_show(
    db: Database, site: dict[str, int]
) -> None:
    request_for(db, site, ["Ivan Petrov"], NOW - 4 * H, NOW - H)
    assert check_in(db, site, "Ivan Petrov", NOW - 3 * H).allowed  # on Acme's list
    with db.session() as s:
        assert svc.mark_no_shows(s, "system", now=NOW) == []


def test_marking_twice_records_each_no_show_once_and_audits_it_without_the_name(
    db: Database, site: dict[str, int]
) -> None:
    request_id = request_for(db, site, ["Anna Lee"], NOW - 4 * H, NOW - H)
    for minutes in (0, 15, 30):
        with db.session() as s:
            svc.mark_no_shows(s, "system", now=NOW + timedelta(minutes=minutes))
    assert no_show_rows(db) == [("Anna Lee", request_id)]
    with db.session() as s:
        entries = list(
            s.scalars(select(AuditEntry).where(AuditEntry.action == "visitors.visit.no_show"))
        )
    assert len(entries) == 1
    assert f"request #{request_id}" in entries[0].summary and "Anna" not in entries[0].summary


def test_a_window_that_ended_before_the_lookback_is_left_alone(
    db: Database, site: dict[str, int]
) -> None:
    request_for(db, site, ["Anna Lee"], NOW - 10 * 24 * H, NOW - 9 * 24 * H)
    with db.session() as s:
        assert svc.mark_no_shows(s, "system", now=NOW) == []


def test_the_no_show_job_is_scheduled_and_marks_as_of_the_real_clock(
    db: Database, site: dict[str, int], settings: Any
) -> None:
    from dutydesk.jobs import scheduled_jobs
    from shifts.visitors.jobs import no_shows_once

    assert "visitor-no-shows" in {j.id for j in scheduled_jobs(settings, db)}
    real_now = datetime.now(UTC)
    request_for(db, site, ["Anna Lee"], real_now - 3 * H, real_now - H)
    request_for(db, site, ["Olga Open"], real_now - H, real_now + H)
    assert no_shows_once(db) == 1
    assert [name for name, _ in no_show_rows(db)] == ["Anna Lee"]
