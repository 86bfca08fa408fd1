"""The calendar preview shows the final schedule day by day in local time, DST days included."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from shifts.errors import ShiftConfigError
from shifts.patterns import day_night
from shifts.preview import calendar_grid
from shifts.rotation import Rotation, TimeWindow
from shifts.schedule import Line, Schedule

NAMES = {1: "Olena", 2: "Taras"}


def kyiv(*restrictions: TimeWindow) -> Schedule:
    layer = Rotation("main", (1, 2), day_night(12), time(8), date(2026, 3, 1), restrictions)
    return Schedule("Kyiv", Line.FIRST_LINE, "Europe/Kyiv", (layer,), id=1)


def test_month_view_starts_on_monday_and_marks_days_outside_the_month() -> None:
    weeks = calendar_grid(kyiv(), date(2026, 3, 15), "month", NAMES)
    days = [day for week in weeks for day in week]
    assert all(len(week) == 7 for week in weeks)
    assert days[0].day == date(2026, 2, 23) and days[0].day.weekday() == 0
    assert [d.day for d in days if d.in_period] == [
        date(2026, 3, 1) + timedelta(days=i) for i in range(31)]


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 10)],
                         ids=["clocks-forward", "clocks-back", "ordinary"])
def test_each_day_shows_the_handoffs_at_local_08_and_20(day: date) -> None:
    (week,) = calendar_grid(kyiv(), day, "week", NAMES)
    shown = next(d for d in week if d.day == day)
    assert [(p.start, p.end) for p in shown.pieces] == [
        ("00:00", "08:00"), ("08:00", "20:00"), ("20:00", "24:00")]
    night_before, day_shift, night = (p.people for p in shown.pieces)
    assert night_before == night != day_shift and {day_shift[0], night[0]} == {"Olena", "Taras"}


def test_gaps_left_by_restrictions_are_shown_as_gaps() -> None:
    weekdays_only = TimeWindow.whole_days(range(5))
    (week,) = calendar_grid(kyiv(weekdays_only), date(2026, 3, 14), "week", NAMES)
    saturday = next(d for d in week if d.day == date(2026, 3, 14))
    assert [(p.start, p.end, p.gap) for p in saturday.pieces] == [("00:00", "24:00", True)]


def test_an_unknown_view_is_refused() -> None:
    with pytest.raises(ShiftConfigError, match="view must be one of month, week"):
        calendar_grid(kyiv(), date(2026, 3, 14), "year", NAMES)
