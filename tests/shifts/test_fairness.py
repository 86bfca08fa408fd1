"""Fairness: hours per person per month, nights and weekends counted separately."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shifts.errors import ShiftConfigError
from shifts.fairness import NightWindow, fairness_report, tally_hours
from shifts.localtime import load_zone
from shifts.oncall import Shift
from shifts.patterns import day_night
from shifts.rotation import Rotation
from shifts.schedule import Override, Schedule

H = timedelta(hours=1)


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def twelve_twelve(zone, start):
    rotation = Rotation("12/12", ["dana", "nick"], day_night(), time(8), start)
    return Schedule("Site", "first_line", zone, [rotation])


def rows_by_person(rows):
    return {(row.person, row.month): (row.total, row.night, row.weekend, row.shifts)
            for row in rows}


def test_a_month_of_twelve_hour_days_and_nights_in_moscow():
    # February 2026 in Moscow (UTC+3, no DST): 1 Feb is a Sunday, 28 Feb a Saturday, so the
    # weekend days are 1, 7, 8, 14, 15, 21, 22 and 28. The rotation starts 1 Feb 08:00.
    schedule = twelve_twelve("Europe/Moscow", date(2026, 2, 1))
    rows = fairness_report(schedule, utc(2026, 1, 31, 21), utc(2026, 2, 28, 21))
    assert rows_by_person(rows) == {
        # 28 day shifts of 12 h, none in 22:00–06:00; 8 of them on a weekend day.
        ("dana", "2026-02"): (336 * H, 0 * H, 96 * H, 28),
        # 27 full nights (12 h, 8 h of it night) + the last night's 20:00–24:00 (2 h night).
        # Weekend: 4 h on Sun 1st; per weekend Fri→Sat 8 h + Sat→Sun 12 h + Sun 20–24 4 h
        # (three weekends: 72 h); Fri 27th→Sat 28th 8 h; Sat 28th 20:00–24:00 4 h.
        ("nick", "2026-02"): (328 * H, 218 * H, 88 * H, 28),
    }


def test_hours_are_real_time_so_the_short_dst_night_counts_eleven_hours():
    schedule = twelve_twelve("America/New_York", date(2026, 3, 1))
    # Just the night of 7→8 March (20:00 EST → 08:00 EDT): 11 real hours, and its
    # 22:00–06:00 night part is 7 real hours because 02:00–03:00 never happened.
    rows = fairness_report(schedule, utc(2026, 3, 8, 1), utc(2026, 3, 8, 12))
    assert rows_by_person(rows) == {("nick", "2026-03"): (11 * H, 7 * H, 11 * H, 1)}


def test_the_long_autumn_night_in_kyiv_counts_thirteen_hours_nine_of_them_night():
    schedule = twelve_twelve("Europe/Kyiv", date(2026, 10, 1))
    rows = fairness_report(schedule, utc(2026, 10, 24, 17), utc(2026, 10, 25, 6))
    # Saturday 20:00 EEST → Sunday 08:00 EET; all of it on the weekend.
    assert rows_by_person(rows) == {("nick", "2026-10"): (13 * H, 9 * H, 13 * H, 1)}


def test_a_night_across_the_month_end_is_split_between_the_months():
    schedule = twelve_twelve("Europe/Moscow", date(2026, 3, 1))
    # Night of 31 March → 1 April (Tuesday → Wednesday), 17:00Z → 05:00Z.
    rows = fairness_report(schedule, utc(2026, 3, 31, 17), utc(2026, 4, 1, 5))
    assert rows_by_person(rows) == {
        ("nick", "2026-03"): (4 * H, 2 * H, 0 * H, 1),
        ("nick", "2026-04"): (8 * H, 6 * H, 0 * H, 0),
    }


def test_two_people_on_duty_together_both_get_the_hours():
    schedule = twelve_twelve("Europe/Moscow", date(2026, 3, 1)).with_overrides(
        Override("add", "iryna", utc(2026, 3, 3, 5), utc(2026, 3, 3, 9))
    )
    rows = fairness_report(schedule, utc(2026, 3, 3, 5), utc(2026, 3, 3, 17))
    assert rows_by_person(rows) == {
        ("dana", "2026-03"): (12 * H, 0 * H, 0 * H, 1),
        ("iryna", "2026-03"): (4 * H, 0 * H, 0 * H, 1),
    }


def test_night_window_and_weekend_days_are_configurable():
    zone = load_zone("Asia/Jerusalem")
    # Thursday 2026-03-05 18:00 → Friday 06:00 local (UTC+2 in early March).
    shift = Shift(utc(2026, 3, 5, 16), utc(2026, 3, 6, 4), ("noa",))
    (row,) = tally_hours([shift], zone, night=NightWindow(time(0), time(7)),
                         weekend_days={4, 5})  # Friday and Saturday
    assert (row.total, row.night, row.weekend) == (12 * H, 6 * H, 6 * H)
    assert (row.total_hours, row.night_hours, row.weekend_hours) == (12.0, 6.0, 6.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: NightWindow(time(22), time(22)), "night window must have a length",
                     id="empty night"),
        pytest.param(lambda: NightWindow("22:00", time(6)),
                     "night window start must be a local time of day", id="text time"),
        pytest.param(lambda: tally_hours([], load_zone("UTC"), weekend_days={7}),
                     "weekend days must be 0 (Monday) … 6 (Sunday)", id="weekday 7"),
    ],
)
def test_bad_fairness_settings_are_rejected(build, message):
    with pytest.raises(ShiftConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()
