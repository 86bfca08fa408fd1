"""Fitting the wall on one screen: what a 1080-line screen shows when the site is on fire."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dutydesk.wall.fit import ScreenBudget, fit_pages, fit_screen
from dutydesk.wall.render import wall_title
from dutydesk.wall.rows import IncidentRow, SlaReading
from dutydesk.wall.snapshot import build_wall
from tests.dutydesk.wall.test_snapshot import FRESH, NOW, C, W, check

BUDGET = ScreenBudget(problem_units=12, tile_columns=2, tile_units=2, first_group_rows=2)


def site(groups: int, problems_each: int = 3, worst_extra: int = 0) -> list[object]:
    rows = [check(C, "Hall C", "Sensors") for _ in range(worst_extra)]
    for n in range(groups):
        rows += [check(W, f"Hall {n:02d}", "Power") for _ in range(problems_each)]
    return rows


def test_a_few_problem_groups_are_all_shown_as_tiles() -> None:
    view = build_wall(site(2, problems_each=2), NOW, freshness=FRESH)
    screen = fit_screen(view, BUDGET)
    assert [slot.collapsed for slot in screen.groups] == [False, False]
    assert screen.leftover is None


def test_many_groups_collapse_into_summaries_by_severity_and_the_worst_keeps_its_tiles() -> None:
    view = build_wall(site(40, worst_extra=7), NOW, freshness=FRESH)
    screen = fit_screen(view, BUDGET)
    worst = screen.groups[0]
    assert (worst.group.hall, worst.group.system) == ("Hall C", "Sensors")
    assert len(worst.tiles) == 4 and worst.hidden == 3  # two rows of two, "+3 more"
    assert all(slot.collapsed for slot in screen.groups[1:])
    # 12 units: 4 for the worst group's tiles, 1 its summary, 6 summaries, 1 "+N more groups"
    assert len(screen.groups) == 7
    assert screen.leftover is not None
    assert screen.leftover.groups == 41 - 7
    assert screen.leftover.counts.warning == 34 * 3


def test_a_less_severe_group_is_never_detailed_while_a_worse_one_is_cut() -> None:
    view = build_wall(site(1, problems_each=1, worst_extra=12), NOW, freshness=FRESH)
    screen = fit_screen(view, BUDGET)
    worst, other = screen.groups
    assert 0 < len(worst.tiles) < 12
    assert other.collapsed


def test_rotation_pages_detail_the_summarised_groups_and_keep_the_worst_on_top() -> None:
    view = build_wall(site(8, problems_each=2, worst_extra=6), NOW, freshness=FRESH)
    pages = fit_pages(view, BUDGET)
    assert len(pages) > 1
    first = pages[0]
    summarised = {s.key for s in first.groups if s.collapsed}
    detailed_later = {s.key for page in pages[1:] for s in page.groups[1:] if not s.collapsed}
    assert summarised <= detailed_later  # every group is detailed on some page
    for page in pages:
        assert page.groups[0].key == first.groups[0].key and page.groups[0].tiles


def incident(n: int, minutes_ago: int, priority: str = "P2") -> IncidentRow:
    return IncidentRow(
        id=n,
        title=f"incident {n}",
        priority=priority,
        status="triggered",
        opened_at=NOW - timedelta(minutes=minutes_ago),
        sla=SlaReading(
            clock="acknowledge",
            target=timedelta(minutes=30),
            elapsed=timedelta(minutes=minutes_ago),
            running=True,
        ),
    )


def test_the_incident_column_shows_the_most_urgent_and_counts_the_rest() -> None:
    rows = [incident(n, 40 if n % 5 == 0 else 5) for n in range(1, 201)]
    view = build_wall([], NOW, freshness=FRESH, incidents=rows)
    screen = fit_screen(view, ScreenBudget(incident_rows=9))
    assert screen.incidents is not None and len(screen.incidents) == 9
    assert all(t.sla is not None and t.sla.state == "breached" for t in screen.incidents)
    assert len(screen.more_incidents) == 191
    assert screen.incident_summary.breached == 40
    assert screen.incident_summary.open == 200 and screen.incident_summary.unacknowledged == 200


def test_acknowledged_muted_and_parent_down_problems_are_handled_not_unhandled() -> None:
    rows = [
        check(C),
        check(C, acknowledged=True),
        check(W, muted=True),
        check(W, reachable=False),
        check(W),
    ]
    view = build_wall(rows, NOW, freshness=FRESH)
    assert (view.unhandled.critical, view.unhandled.warning) == (1, 1)
    assert view.counts.problems - view.unhandled.problems == 3


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        (
            "UPS B is CRITICAL (HARD, attempt 2/2): on battery, 12 min left",
            "UPS B is CRITICAL: on battery, 12 min left",
        ),
        ("Rack B12 has no power", "Rack B12 has no power"),
    ],
    ids=["drops-the-attempt", "keeps-a-plain-title"],
)
def test_incident_titles_drop_what_the_wall_shows_elsewhere(title: str, shown: str) -> None:
    assert wall_title(title) == shown


def test_a_budget_without_room_for_summaries_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        ScreenBudget(problem_units=4, first_group_rows=2, tile_units=2)
