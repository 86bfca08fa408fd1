"""Rule 2 at the database level: one badge, one person on site, even when two desks race."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from dutydesk.core.db import Database
from dutydesk.models import VisitRow
from shifts.visitors import service as svc

from .service_helpers import ACTOR, NOW, POLICY, arrive, make_site


@pytest.fixture
def site(db: Database) -> dict[str, int]:
    return make_site(db)


def visit_row(client_id: int, name: str, status: str, badge: str) -> VisitRow:
    on_site = status == "on_site"
    return VisitRow(
        client_id=client_id,
        person_name=name,
        status=status,
        recorded_at=NOW,
        badge_number=badge,
        checked_in_at=NOW,
        checked_out_at=None if on_site else NOW + timedelta(hours=1),
        badge_returned=not on_site,
    )


def test_the_database_refuses_a_second_open_visit_with_the_same_badge(
    db: Database, site: dict[str, int]
) -> None:
    with db.session() as s:
        s.add(visit_row(site["client"], "Ivan Petrov", "on_site", "B7"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(visit_row(site["client"], "Maria Kovalenko", "on_site", "B7"))


def test_a_badge_handed_back_can_be_issued_again(db: Database, site: dict[str, int]) -> None:
    with db.session() as s:
        s.add(visit_row(site["client"], "Ivan Petrov", "left", "B7"))
        s.add(visit_row(site["client"], "Maria Kovalenko", "left", "B7"))
        s.add(visit_row(site["client"], "Ivan Petrov", "on_site", "B7"))
    with db.session() as s:
        assert s.scalar(select(func.count(VisitRow.id)).where(VisitRow.badge_number == "B7")) == 3


def test_two_simultaneous_check_ins_with_one_badge_let_only_one_person_in(
    db: Database, site: dict[str, int]
) -> None:
    """Desk A has written Ivan's visit with badge B7 but not committed; desk B checks Maria in
    with B7 at that moment. On PostgreSQL desk B's rule cannot see A's uncommitted row, so the
    unique index refuses it; on SQLite desk B waits for A's write lock and the rule refuses.
    Either way Maria is refused with badge_in_use and desk B can go on with another badge."""
    b_reached_insert = threading.Event()
    outcome_b: dict[str, Any] = {}

    def watch_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name == "desk-b" and statement.lstrip().upper().startswith(
            "INSERT INTO VISITOR_VISITS"
        ):
            b_reached_insert.set()

    def desk_b() -> None:
        try:
            with db.session() as s:
                outcome_b["first"] = svc.check_in(
                    s,
                    ACTOR,
                    client_id=site["client"],
                    attempt=arrive("Maria Kovalenko", badge="B7"),
                    policy=POLICY,
                    now=NOW,
                )
                # The refusal left desk B's transaction usable: another badge works.
                outcome_b["retry"] = svc.check_in(
                    s,
                    ACTOR,
                    client_id=site["client"],
                    attempt=arrive("Maria Kovalenko", badge="B8"),
                    policy=POLICY,
                    now=NOW,
                )
        except BaseException as exc:  # reported to the test thread below
            outcome_b["error"] = exc

    event.listen(db.engine, "before_cursor_execute", watch_insert)
    try:
        with db.session() as a:
            outcome_a = svc.check_in(
                a,
                ACTOR,
                client_id=site["client"],
                attempt=arrive("Ivan Petrov", badge="B7"),
                policy=POLICY,
                now=NOW,
            )
            thread = threading.Thread(target=desk_b, name="desk-b")
            thread.start()
            if db.dialect == "postgresql":
                # Desk B has read the on-site list (without A's row) and is about to insert.
                assert b_reached_insert.wait(20), "desk B never tried to store its visit"
        # Desk A committed; desk B's insert (or its BEGIN on SQLite) now goes ahead.
        thread.join(30)
    finally:
        event.remove(db.engine, "before_cursor_execute", watch_insert)
    assert not thread.is_alive()
    assert "error" not in outcome_b, outcome_b.get("error")
    assert outcome_a.decision.allowed
    refused = outcome_b["first"]
    assert (refused.decision.allowed, refused.decision.code.value) == (False, "badge_in_use")
    assert refused.row is None
    assert "B7" in refused.decision.reason
    if db.dialect == "postgresql":
        assert "just issued" in refused.decision.reason  # the index, not the rule, caught it
    assert outcome_b["retry"].decision.allowed
    with db.session() as s:
        on_site = {
            (v.person_name, v.badge_number)
            for v in s.scalars(select(VisitRow).where(VisitRow.status == "on_site"))
        }
    assert on_site == {("Ivan Petrov", "B7"), ("Maria Kovalenko", "B8")}
