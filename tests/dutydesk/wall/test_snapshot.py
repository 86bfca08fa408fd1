"""The wall's pure decisions: what comes first, how problems group, when data is stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dutydesk.wall.rows import (
    CheckRow,
    CheckStatus,
    Freshness,
    IncidentRow,
    SlaReading,
    VisitorRow,
    WallInputError,
    WallLimits,
)
from dutydesk.wall.snapshot import Counts, build_wall, sla_view, stale_reasons

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
FRESH = Freshness(newest_result_at=NOW, heartbeat_at=NOW)
C, W, U, OK = CheckStatus.CRITICAL, CheckStatus.WARNING, CheckStatus.UNKNOWN, CheckStatus.OK

_ids = iter(range(1, 10_000))


def check(
    status: CheckStatus, hall: str = "H1", system: str = "power", **extra: object
) -> CheckRow:
    n = next(_ids)
    return CheckRow(
        id=n,
        name=extra.pop("name", f"check-{n}"),  # type: ignore[arg-type]
        hall=hall,
        system=system,
        service=extra.pop("service", "ups"),  # type: ignore[arg-type]
        status=status,
        last_result_at=NOW,
        **extra,  # type: ignore[arg-type]
    )


def tile_statuses(view: object) -> list[str]:
    return [t.status.value for g in view.groups for t in g.tiles]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        # the order the rows arrive in does not matter: worst first
        ([U, W, C], ["critical", "warning", "unknown"]),
        ([OK, W, OK, U], ["warning", "unknown"]),
        # OK checks are never tiles
        ([OK, OK], []),
        ([C, C, OK], ["critical", "critical"]),
    ],
    ids=["all-three", "ok-hidden", "all-green", "two-critical"],
)
def test_problems_come_worst_first_and_ok_checks_are_not_tiles(
    statuses: list[CheckStatus], expected: list[str]
) -> None:
    view = build_wall([check(s) for s in statuses], NOW, freshness=FRESH)
    assert tile_statuses(view) == expected
    assert view.all_green is (not expected)


def test_groups_by_hall_and_system_worst_group_first_with_counts() -> None:
    checks = [
        check(W, "H1", "cooling"),
        check(OK, "H1", "cooling"),
        check(C, "H2", "power"),
        check(C, "H2", "power"),
        check(OK, "H2", "power"),
        check(U, "H3", "network"),
        check(OK, "H4", "network"),  # a healthy group is not listed
    ]
    view = build_wall(checks, NOW, freshness=FRESH)
    assert [(g.hall, g.system) for g in view.groups] == [
        ("H2", "power"),
        ("H1", "cooling"),
        ("H3", "network"),
    ]
    power = view.groups[0]
    assert (power.counts.critical, power.counts.ok, power.counts.total) == (2, 1, 3)
    assert (view.counts.critical, view.counts.warning, view.counts.unknown) == (2, 1, 1)
    assert view.counts.ok == 3


def test_group_with_more_critical_problems_comes_first_among_equals() -> None:
    checks = [check(C, "A", "x"), check(C, "B", "y"), check(C, "B", "y")]
    view = build_wall(checks, NOW, freshness=FRESH)
    assert [g.hall for g in view.groups] == ["B", "A"]


@pytest.mark.parametrize(
    ("extra", "is_tile"),
    [
        ({"in_maintenance": True}, False),  # maintenance is counted, not shown as a problem
        ({"hard": False, "attempt": 1, "max_attempts": 3}, True),  # soft: shown, after hard
        ({"reachable": False}, True),  # parent down: shown, after reachable ones
    ],
    ids=["maintenance", "soft", "unreachable"],
)
def test_special_states_are_sorted_after_confirmed_problems(
    extra: dict[str, object], is_tile: bool
) -> None:
    special = check(C, name="special", **extra)
    confirmed = check(C, name="zz-confirmed")
    view = build_wall([special, confirmed], NOW, freshness=FRESH)
    names = [t.check.name for g in view.groups for t in g.tiles]
    assert names == (["zz-confirmed", "special"] if is_tile else ["zz-confirmed"])
    assert view.counts.maintenance == (1 if not is_tile else 0)


def test_a_group_on_fire_shows_a_bounded_number_of_tiles_and_says_how_many_more() -> None:
    checks = [check(C) for _ in range(30)] + [check(W) for _ in range(5)]
    view = build_wall(checks, NOW, freshness=FRESH, limits=WallLimits(tiles_per_group=12))
    (group,) = view.groups
    assert len(group.tiles) == 12
    assert group.hidden == 23
    assert all(t.status is C for t in group.tiles)


# --- storage passes problem rows plus per-group counts of the healthy checks -----------------


def split_healthy(
    checks: list[CheckRow],
) -> tuple[list[CheckRow], dict[tuple[str, str], Counts]]:
    """What storage reads: full rows for the problems, counts per group for everything else."""
    problems = [c for c in checks if c.status in (C, W, U) and not c.in_maintenance]
    healthy: dict[tuple[str, str], Counts] = {}
    for c in checks:
        if c in problems:
            continue
        bucket = "maintenance" if c.in_maintenance else c.status.value
        key = (c.hall, c.system)
        healthy[key] = healthy.get(key, Counts()) + Counts(**{bucket: 1})
    return problems, healthy


check_strategy = st.builds(
    lambda status, hall, system, maintenance, hard: check(
        status, hall, system, in_maintenance=maintenance, hard=hard
    ),
    st.sampled_from(list(CheckStatus)),
    st.sampled_from(["H1", "H2"]),
    st.sampled_from(["power", "cooling", "network"]),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(check_strategy, max_size=40), st.integers(min_value=1, max_value=4))
def test_problem_rows_plus_healthy_counts_give_the_same_wall_as_every_row(
    checks: list[CheckRow], tiles: int
) -> None:
    limits = WallLimits(tiles_per_group=tiles)
    every_row = build_wall(checks, NOW, freshness=FRESH, limits=limits)
    problems, healthy = split_healthy(checks)
    counted = build_wall(problems, NOW, freshness=FRESH, healthy=healthy, limits=limits)
    assert counted.counts == every_row.counts
    assert counted.groups == every_row.groups


def test_a_group_with_only_healthy_counts_is_not_listed_but_counted_in_the_totals() -> None:
    problems = [check(C, "H1", "power")]
    healthy = {
        ("H1", "power"): Counts(ok=40, maintenance=2),
        ("H2", "cooling"): Counts(ok=500, pending=3),
    }
    view = build_wall(problems, NOW, freshness=FRESH, healthy=healthy)
    (group,) = view.groups
    assert (group.hall, group.system) == ("H1", "power")
    assert (group.counts.critical, group.counts.ok, group.counts.maintenance) == (1, 40, 2)
    assert view.counts == Counts(critical=1, ok=540, pending=3, maintenance=2)


def test_all_green_from_counts_alone() -> None:
    view = build_wall([], NOW, freshness=FRESH, healthy={("H1", "power"): Counts(ok=5000)})
    assert view.all_green
    assert view.counts.ok == 5000


def test_a_negative_healthy_count_is_refused_naming_the_group() -> None:
    with pytest.raises(WallInputError, match="ok of H1 / power must not be negative, got -1"):
        build_wall([], NOW, freshness=FRESH, healthy={("H1", "power"): Counts(ok=-1)})


def incident(
    id: int, priority: str, status: str = "triggered", opened_min: int = 10, **kw: object
) -> IncidentRow:
    return IncidentRow(
        id=id,
        title=f"incident {id}",
        priority=priority,
        status=status,
        opened_at=NOW - timedelta(minutes=opened_min),
        **kw,  # type: ignore[arg-type]
    )


def test_incidents_p1_first_then_unacknowledged_then_least_sla_left() -> None:
    def sla(elapsed: int) -> SlaReading:
        return SlaReading("acknowledge", timedelta(minutes=30), timedelta(minutes=elapsed), True)

    rows = [
        incident(1, "P3"),
        incident(2, "P1", "acknowledged"),
        incident(3, "P1", sla=sla(5)),
        incident(4, "P1", sla=sla(20)),
        incident(5, "P2"),
    ]
    view = build_wall([], NOW, freshness=FRESH, incidents=rows)
    assert view.incidents is not None
    assert [t.incident.id for t in view.incidents] == [4, 3, 2, 5, 1]
    assert view.incidents[0].age == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("elapsed_min", "running", "stopped", "state"),
    [
        (10, True, False, "ok"),  # 33 %
        (22, True, False, "ok"),  # 73 %: still below 75 %
        (23, True, False, "warning"),  # 77 %: amber
        (30, True, False, "breached"),  # exactly the target: red
        (45, True, False, "breached"),
        (10, False, False, "paused"),  # pending: the clock is paused
        (40, False, False, "breached"),  # paused after the breach: still red
        (10, False, True, "stopped"),  # acknowledged/resolved: the clock stopped
    ],
)
def test_sla_clock_turns_amber_at_75_percent_and_red_when_breached(
    elapsed_min: int, running: bool, stopped: bool, state: str
) -> None:
    row = incident(
        1,
        "P2",
        sla=SlaReading(
            "acknowledge", timedelta(minutes=30), timedelta(minutes=elapsed_min), running, stopped
        ),
    )
    view = sla_view(row, NOW, 0.75)
    assert view is not None
    assert view.state == state
    assert view.left == timedelta(minutes=30 - elapsed_min)
    assert (view.due_at is not None) is (running and not stopped)


def test_running_sla_clock_says_when_it_turns_amber_and_red() -> None:
    row = incident(
        1, "P1", sla=SlaReading("acknowledge", timedelta(minutes=20), timedelta(minutes=5), True)
    )
    view = sla_view(row, NOW, 0.75)
    assert view is not None
    assert view.warn_from == NOW + timedelta(minutes=10)
    assert view.due_at == NOW + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("fresh", "codes"),
    [
        (Freshness(NOW - timedelta(seconds=30), NOW - timedelta(seconds=10)), []),
        (Freshness(NOW, None), ["no_heartbeat"]),
        (Freshness(NOW, NOW - timedelta(seconds=61)), ["heartbeat_old"]),
        (Freshness(NOW - timedelta(minutes=6), NOW), ["results_old"]),
        (Freshness(None, NOW), ["no_results"]),
        # no checks configured: no result is expected, so none missing is not stale
        (Freshness(None, NOW, has_checks=False), []),
        (Freshness(NOW, NOW, poller_offline=True, poller_reason="refs down"), ["poller_offline"]),
        (
            Freshness(NOW - timedelta(hours=1), NOW - timedelta(hours=1)),
            ["heartbeat_old", "results_old"],
        ),
    ],
    ids=[
        "fresh",
        "no-worker",
        "worker-silent",
        "results-old",
        "no-results",
        "no-checks",
        "poller-offline",
        "everything-old",
    ],
)
def test_stale_banner_reasons(fresh: Freshness, codes: list[str]) -> None:
    limits = WallLimits(max_result_age=300, max_heartbeat_age=60)
    assert [r.code for r in stale_reasons(fresh, NOW, limits)] == codes


def test_missing_sources_are_none_and_empty_sources_are_empty() -> None:
    absent = build_wall([], NOW, freshness=FRESH)
    assert (absent.incidents, absent.duty, absent.visitors) == (None, None, None)
    empty = build_wall([], NOW, freshness=FRESH, incidents=[], duty=[], visitors=[])
    assert (empty.incidents, empty.duty, empty.visitors) == ((), (), ())


def test_visitors_overstaying_come_first_and_are_counted() -> None:
    visitors = [
        VisitorRow("Ann", "Acme", NOW - timedelta(hours=3)),
        VisitorRow("Bob", "Acme", NOW - timedelta(hours=1), overstay_by=timedelta(minutes=5)),
    ]
    view = build_wall([], NOW, freshness=FRESH, visitors=visitors)
    assert [v.name for v in view.visitors or ()] == ["Bob", "Ann"]
    assert view.overstays == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: build_wall([], datetime(2024, 1, 1), freshness=FRESH),
        lambda: Freshness(datetime(2024, 1, 1), None),
        lambda: incident(1, "P5"),
        lambda: WallLimits(tiles_per_group=0),
    ],
    ids=["naive-now", "naive-result-time", "bad-priority", "no-tiles"],
)
def test_bad_input_is_refused_with_a_clear_error(make: object) -> None:
    with pytest.raises(WallInputError):
        make()  # type: ignore[operator]
