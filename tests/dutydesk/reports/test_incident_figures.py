"""Incident figures from hand-made records: SLA tallies, MTTA/MTTR statistics, counts, ping-pong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dutydesk.reports import incident_figures as F
from dutydesk.reports.period import Filters, month_period
from dutydesk.reports.records import ClockOutcome, IncidentRecord, Outcome, TimelineSummary

OCTOBER = month_period("2026-10", ZoneInfo("Europe/Kyiv"))
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # Monday 12:00 in Kyiv


def clock(outcome: str, target_min: float) -> ClockOutcome:
    """A clock under its target (met, open) or 5 min over it (breached) for ack; 60 min for
    resolve (target 240)."""
    over = {"met": -5, "open": -5, "breached": 5 if target_min == 15 else 60}[outcome]
    return ClockOutcome(Outcome(outcome), (target_min + over) * 60, target_min * 60)


def record(n: int, priority: str = "P3", *, at: datetime = T0, ack_min: float | None = None,
           fix_min: float | None = None, ack: str = "met", resolve: str = "met",
           **fields: object) -> IncidentRecord:
    summary = TimelineSummary(
        first_ack_at=at + timedelta(minutes=ack_min) if ack_min is not None else None,
        first_ack_by="anna@dc.example" if ack_min is not None else None,
        resolved_at=at + timedelta(minutes=fix_min) if fix_min is not None else None,
        resolved_by="boris@dc.example" if fix_min is not None else None,
        ack=clock(ack, 15), resolve=clock(resolve, 240),
        **{k: v for k, v in fields.items() if k in ("line_moves", "moves_to_second_line",
                                                     "hand_backs")},
    )
    rest = {k: v for k, v in fields.items() if k in ("source", "service", "lines_seen",
                                                       "assignee")}
    return IncidentRecord(n, f"incident {n}", str(rest.pop("source", "check")),
                          rest.pop("service", "Mail"), priority,  # type: ignore[arg-type]
                          "resolved" if fix_min is not None else "acknowledged", at,
                          summary=summary, **rest)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([], None, None),
        ([7.0], 7.0, 7.0),
        ([10.0, 20.0], 15.0, 20.0),  # p90: rank ceil(1.8) = 2
        ([30.0, 5.0, 20.0, 10.0, 30.0], 20.0, 30.0),  # sorted 5 10 20 30 30; rank ceil(4.5) = 5
        ([float(n) for n in range(1, 11)], 5.5, 9.0),  # rank ceil(9.0) = 9
        ([float(n) for n in range(1, 12)], 6.0, 10.0),  # rank ceil(9.9) = 10
    ],
)
def test_median_and_nearest_rank_p90(values: list[float], median: float | None,
                                     p90: float | None) -> None:
    assert (F.median(values), F.p90(values)) == (median, p90)


def test_sla_compliance_counts_met_breached_and_open_per_priority() -> None:
    records = [
        record(1, "P1", ack="met", resolve="met"),
        record(2, "P1", ack="breached", resolve="met"),
        record(3, "P2", ack="met", resolve="breached"),
        record(4, "P4", ack="met", resolve="open"),
    ]
    figures = F.sla_compliance(records)
    p1, p2, p3, p4, total = figures.rows
    assert (p1.priority, p1.incidents, p1.acknowledge, p1.resolve) == (
        "P1", 2, F.ClockTally(1, 1, 0), F.ClockTally(2, 0, 0))
    assert (p1.acknowledge.percent_met, p1.resolve.percent_met) == (50.0, 100.0)
    assert p2.resolve.percent_met == 0.0
    assert p3.incidents == 0 and p3.acknowledge.percent_met is None
    assert p4.resolve == F.ClockTally(0, 0, 1) and p4.resolve.percent_met is None  # undecided
    assert (total.priority, total.incidents) == ("", 4)
    assert (total.acknowledge, total.resolve) == (F.ClockTally(3, 1, 0), F.ClockTally(2, 1, 1))
    # Worst overrun first: 60 min over on #3's resolve clock, 5 min over on #2's acknowledge.
    assert [(b.incident_id, b.clock, b.over_s) for b in figures.breaches] == [
        (3, "resolve", 3600.0), (2, "acknowledge", 300.0)]


def test_breaches_are_listed_by_overrun_worst_first() -> None:
    late = IncidentRecord(7, "late", "check", "VPN", "P2", "resolved", T0, summary=TimelineSummary(
        ack=ClockOutcome(Outcome.BREACHED, 35 * 60, 30 * 60),
        resolve=ClockOutcome(Outcome.BREACHED, 540 * 60, 480 * 60)))
    [first, second] = F.sla_compliance([late]).breaches
    assert (first.clock, first.over_s, second.clock, second.over_s) == (
        "resolve", 3600.0, "acknowledge", 300.0)


def test_mtta_and_mttr_per_priority_and_in_total() -> None:
    records = [
        record(1, "P1", ack_min=10, fix_min=180),
        record(2, "P1", ack_min=20, fix_min=300),
        record(3, "P3", fix_min=60),  # never acknowledged: no MTTA sample
        record(4, "P4", ack_min=30),  # still open: no MTTR sample
    ]
    p1, p2, _p3, p4, total = F.response_times(records)
    assert (p1.mtta, p1.mttr) == (F.TimeStats(2, 900.0, 1200.0), F.TimeStats(2, 14400.0, 18000.0))
    assert p2 == F.ResponseRow("P2", 0, F.TimeStats(0, None, None), F.TimeStats(0, None, None))
    assert p4.mtta == F.TimeStats(1, 1800.0, 1800.0) and p4.mttr.count == 0
    # All: acks 10, 20, 30 min; fixes 60, 180, 300 min.
    assert total.mtta == F.TimeStats(3, 1200.0, 1800.0)
    assert total.mttr == F.TimeStats(3, 10800.0, 18000.0)


def test_the_weekly_trend_has_every_monday_of_the_period_in_local_time() -> None:
    records = [
        # 21:30 UTC on 30 September is 00:30 on Thursday 1 October in Kyiv: week of 28 Sept.
        record(1, at=datetime(2026, 9, 30, 21, 30, tzinfo=UTC), ack_min=30, fix_min=120),
        record(2, at=T0, ack_min=10, fix_min=180),
        record(3, at=T0 + timedelta(days=2), ack_min=20, fix_min=300),
    ]
    weeks = F.weekly_trend(records, OCTOBER)
    assert [w.start.isoformat() for w in weeks] == [
        "2026-09-28", "2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"]
    assert [w.incidents for w in weeks] == [1, 2, 0, 0, 0]
    assert weeks[1].mtta.median_s == 900.0 and weeks[1].mttr.median_s == 14400.0
    assert weeks[2].mtta == F.TimeStats(0, None, None)


def test_sources_always_list_the_four_known_ones_and_services_go_by_count() -> None:
    records = [record(1, source="check"), record(2, source="manual", service="VPN"),
               record(3, source="check", service=None), record(4, source="zabbix")]
    assert F.by_source(records) == (("check", 2), ("alertmanager", 0), ("pagerduty", 0),
                                    ("manual", 1), ("zabbix", 1))
    assert F.by_service(records) == (("Mail", 2), ("", 1), ("VPN", 1))


def test_the_heat_map_counts_in_the_site_zone_by_weekday_and_hour() -> None:
    grid = F.hour_weekday([
        record(1, at=T0),  # Monday 12:00 Kyiv
        record(2, at=datetime(2026, 10, 31, 20, 0, tzinfo=UTC)),  # Saturday 22:00 (UTC+2 now)
        record(3, at=datetime(2026, 10, 31, 20, 10, tzinfo=UTC)),
    ], OCTOBER)
    assert grid[0][12] == 1 and grid[5][22] == 2
    assert sum(map(sum, grid)) == 3


def test_select_keeps_the_period_and_the_filters() -> None:
    records = [
        record(1, "P1", lines_seen=("first_line", "second_line")),
        record(2, "P2", service="VPN"),
        record(3, "P1", at=datetime(2026, 10, 31, 22, 0, tzinfo=UTC)),  # 1 November in Kyiv
        IncidentRecord(4, "x", "check", "Mail", "P3", "resolved", T0, assignee="boris@dc.example"),
    ]
    ids = [r.id for r in F.select(records, OCTOBER, Filters())]
    assert ids == [1, 2, 4]
    assert [r.id for r in F.select(records, OCTOBER, Filters(priority="P1"))] == [1]
    assert [r.id for r in F.select(records, OCTOBER, Filters(service="VPN"))] == [2]
    assert [r.id for r in F.select(records, OCTOBER, Filters(line="second_line"))] == [1]
    # record() makes Anna the acknowledger and Boris the resolver of resolved ones.
    assert [r.id for r in F.select(records, OCTOBER,
                                   Filters(engineer="boris@dc.example"))] == [4]


def test_reassignments_count_moves_hand_backs_and_rank_the_ping_pong() -> None:
    records = [
        record(1, line_moves=3, moves_to_second_line=2, hand_backs=2),
        record(2, line_moves=1, moves_to_second_line=1),
        record(3, line_moves=2, moves_to_second_line=1, hand_backs=1),
        record(4),
    ]
    moves = F.reassignments(records, top=2)
    assert (moves.incidents, moves.reassigned, moves.reassignments, moves.escalations,
            moves.returns, moves.with_ping_pong, moves.hand_backs) == (4, 3, 6, 4, 2, 2, 3)
    assert [(p.incident_id, p.reassignments, p.hand_backs) for p in moves.top] == [
        (1, 3, 2), (3, 2, 1)]
