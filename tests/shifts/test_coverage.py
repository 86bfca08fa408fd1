"""Gap and overlap detection for the weeks ahead, across schedules and lines."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shifts.coverage import Gap, Overlap, OverlapKind, check_coverage, coverage_ahead
from shifts.patterns import fixed_length
from shifts.rotation import WEEKEND, Rotation, TimeWindow
from shifts.schedule import Line, Override, Schedule


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def office_hours(name, zone, people):
    """A first-line desk staffed 08:00–20:00 local every day, one person a day."""
    rotation = Rotation(f"{name} desk", people, fixed_length(days=1), time(8), date(2026, 1, 1),
                        restrictions=(TimeWindow(time(8), time(20)),))
    return Schedule(name, Line.FIRST_LINE, zone, [rotation])


# Follow the sun with a hole in it: Kyiv and New York each cover 08:00–20:00 local time.
KYIV = office_hours("Kyiv", "Europe/Kyiv", ["olena", "taras"])
NEW_YORK = office_hours("New York", "America/New_York", ["mike", "jane"])


@pytest.mark.parametrize(
    ("day", "gap", "overlap"),
    [
        # Winter: Kyiv 06:00–18:00Z, New York 13:00–01:00Z.
        pytest.param(utc(2026, 3, 2), (utc(2026, 3, 2, 1), utc(2026, 3, 2, 6)),
                     (utc(2026, 3, 2, 13), utc(2026, 3, 2, 18)), id="both on winter time"),
        # US summer time from 8 March: New York 12:00–00:00Z.
        pytest.param(utc(2026, 3, 16), (utc(2026, 3, 16, 0), utc(2026, 3, 16, 6)),
                     (utc(2026, 3, 16, 12), utc(2026, 3, 16, 18)),
                     id="US on summer time, EU not yet"),
        # EU summer time from 29 March: Kyiv 05:00–17:00Z.
        pytest.param(utc(2026, 3, 30), (utc(2026, 3, 30, 0), utc(2026, 3, 30, 5)),
                     (utc(2026, 3, 30, 12), utc(2026, 3, 30, 17)), id="both on summer time"),
    ],
)
def test_follow_the_sun_gap_and_overlap_move_with_each_sites_clock(day, gap, overlap):
    report = check_coverage([KYIV, NEW_YORK], day, day + timedelta(days=1))
    assert [(g.line, g.start, g.end) for g in report.gaps] == [(Line.FIRST_LINE, *gap)]
    assert report.gaps[0].schedules == ("Kyiv", "New York")
    assert [(o.kind, o.start, o.end, o.sources) for o in report.overlaps] == [
        (OverlapKind.SCHEDULES, *overlap, ("Kyiv", "New York")),
    ]
    assert not report.ok


def test_overlap_names_the_people_who_would_both_be_paged():
    report = check_coverage([KYIV, NEW_YORK], utc(2026, 3, 2), utc(2026, 3, 3))
    # 2 March is day 60 of both rotations (started 1 January): the first person of each.
    assert report.overlaps[0].people == ("olena", "mike")
    assert report.overlaps[0].duration == timedelta(hours=5)


def test_a_required_line_without_any_schedule_is_one_long_gap():
    report = check_coverage([KYIV], utc(2026, 3, 2), utc(2026, 3, 3), lines=["second_line"])
    assert Gap(Line.SECOND_LINE, utc(2026, 3, 2), utc(2026, 3, 3), ()) in report.gaps
    assert report.gaps_for("second_line") == (
        Gap(Line.SECOND_LINE, utc(2026, 3, 2), utc(2026, 3, 3), ()),
    )


def test_a_fully_covered_period_is_ok():
    around_the_clock = Schedule(
        "Kyiv", "first_line", "Europe/Kyiv",
        [Rotation("24/7", ["olena", "taras"], fixed_length(12), time(8), date(2026, 1, 1))],
    )
    report = check_coverage([around_the_clock], utc(2026, 3, 1), utc(2026, 4, 1))
    assert report.ok and report.gaps == () and report.overlaps == ()


def test_a_removed_engineer_shows_up_as_a_gap_on_their_line():
    around_the_clock = Schedule(
        "Moscow", "second_line", "Europe/Moscow",
        [Rotation("24/7", ["ivan"], fixed_length(days=1), time(9), date(2026, 1, 1))],
        [Override("remove", "ivan", utc(2026, 3, 3, 10), utc(2026, 3, 3, 14))],
    )
    report = check_coverage([around_the_clock], utc(2026, 3, 1), utc(2026, 3, 8))
    assert report.gaps == (Gap(Line.SECOND_LINE, utc(2026, 3, 3, 10), utc(2026, 3, 3, 14),
                               ("Moscow",)),)


def test_min_gap_ignores_a_minute_lost_between_two_layers():
    day = Rotation("Day", ["olena"], fixed_length(days=1), time(8), date(2026, 1, 1),
                   restrictions=(TimeWindow(time(8), time(20)),))
    night = Rotation("Night", ["taras"], fixed_length(days=1), time(20, 1), date(2026, 1, 1),
                     restrictions=(TimeWindow(time(20, 1), time(8)),))
    schedule = Schedule("Moscow", "first_line", "Europe/Moscow", [day, night])
    strict = check_coverage([schedule], utc(2026, 3, 2), utc(2026, 3, 4))
    assert [(g.start, g.duration) for g in strict.gaps] == [
        (utc(2026, 3, 2, 17), timedelta(minutes=1)),  # 20:00–20:01 Moscow
        (utc(2026, 3, 3, 17), timedelta(minutes=1)),
    ]
    relaxed = check_coverage([schedule], utc(2026, 3, 2), utc(2026, 3, 4),
                             min_gap=timedelta(minutes=5))
    assert relaxed.ok


def test_layer_overlaps_are_reported_only_when_asked_for():
    base = Rotation("24/7", ["olena"], fixed_length(weeks=1), time(9), date(2026, 1, 5))
    weekend = Rotation("Weekend", ["iryna"], fixed_length(days=1), time(9), date(2026, 1, 3),
                       restrictions=(TimeWindow.whole_days(WEEKEND),))
    schedule = Schedule("Kyiv", "first_line", "Europe/Kyiv", [base, weekend])
    monday, next_monday = utc(2026, 3, 1, 22), utc(2026, 3, 8, 22)  # Kyiv midnights (UTC+2)
    assert check_coverage([schedule], monday, next_monday).overlaps == ()
    report = check_coverage([schedule], monday, next_monday, layer_overlaps=True)
    assert report.overlaps == (
        Overlap(Line.FIRST_LINE, OverlapKind.LAYERS, utc(2026, 3, 6, 22), utc(2026, 3, 8, 22),
                ("Kyiv / 24/7", "Kyiv / Weekend"), ("olena", "iryna")),
    )


def test_coverage_ahead_looks_the_given_number_of_weeks_from_now():
    now = utc(2026, 3, 2, 12)
    report = coverage_ahead([KYIV, NEW_YORK], now, weeks=2)
    assert (report.start, report.end) == (now, now + timedelta(weeks=2))
    assert len(report.gaps) == 14  # one early-morning hole per day


@pytest.mark.parametrize("weeks", [0, -1, 1.5, True])
def test_coverage_ahead_rejects_a_silly_number_of_weeks(weeks):
    with pytest.raises(ValueError, match="weeks must be a whole number of at least 1"):
        coverage_ahead([KYIV], utc(2026, 3, 2), weeks=weeks)


def test_check_coverage_rejects_a_reversed_period():
    with pytest.raises(ValueError, match="must be after its start"):
        check_coverage([KYIV], utc(2026, 3, 3), utc(2026, 3, 2))
