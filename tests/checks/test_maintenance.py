"""Maintenance windows: when they start, across DST changes, and how bad input is rejected.

DST facts used below (tz database):
- Europe/Kyiv 2024: 31 Mar 03:00 EET (+02) -> 04:00 EEST (+03); 27 Oct 04:00 EEST -> 03:00 EET.
- America/New_York 2024: 10 Mar 02:00 EST (-05) -> 03:00 EDT (-04); 3 Nov 02:00 EDT -> 01:00 EST.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from checks.cron import CronError, CronExpression
from checks.maintenance import (
    CronWindow,
    MaintenanceError,
    MonthlyWindow,
    OneOffWindow,
    WeeklyWindow,
    active_occurrence,
    active_window,
    next_occurrences,
)

KYIV = "Europe/Kyiv"
NEW_YORK = "America/New_York"
H = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(window, after: datetime, count: int) -> list[datetime]:
    return [o.start for o in next_occurrences(window, after, count)]


# --- recurring windows across DST ------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "after", "expected"),
    [
        pytest.param(
            WeeklyWindow({"sun"}, time(3, 30), 2 * H, KYIV),
            utc(2024, 3, 20),
            [utc(2024, 3, 24, 1, 30), utc(2024, 3, 31, 1, 30), utc(2024, 4, 7, 0, 30)],
            # 31 Mar 03:30 does not exist in Kyiv: it starts 03:30 after the jump = 04:30 EEST.
            id="kyiv weekly across spring forward, start time in the gap",
        ),
        pytest.param(
            WeeklyWindow({"sun"}, time(3, 30), 2 * H, KYIV),
            utc(2024, 10, 15),
            [utc(2024, 10, 20, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 11, 3, 1, 30)],
            # 27 Oct 03:30 happens twice in Kyiv: the first one (EEST, 00:30 UTC) is used.
            id="kyiv weekly across fall back, start time repeated",
        ),
        pytest.param(
            WeeklyWindow(["sat", "sun"], "22:00", 4 * H, NEW_YORK),
            utc(2024, 3, 8),
            [utc(2024, 3, 10, 3, 0), utc(2024, 3, 11, 2, 0), utc(2024, 3, 17, 2, 0)],
            id="new york weekend nights keep 22:00 local across spring forward",
        ),
        pytest.param(
            WeeklyWindow({6}, time(1, 30), H, NEW_YORK),
            utc(2024, 10, 25),
            [utc(2024, 10, 27, 5, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 10, 6, 30)],
            id="new york weekly at 01:30 on fall-back night starts at the first 01:30",
        ),
        pytest.param(
            CronWindow("30 2 * * *", H, NEW_YORK),
            utc(2024, 3, 9),
            [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 30)],
            # 10 Mar 02:30 is skipped: runs at 03:30 EDT = 07:30 UTC, once.
            id="new york daily cron at 02:30 across spring forward",
        ),
        pytest.param(
            CronWindow("*/30 2-3 * * *", timedelta(minutes=20), NEW_YORK),
            utc(2024, 3, 10, 5),
            [utc(2024, 3, 10, 7, 0), utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 0)],
            # skipped 02:00/02:30 land on 03:00/03:30 EDT, which are also real starts: no doubles.
            id="new york cron in the skipped hour does not start twice",
        ),
        pytest.param(
            CronWindow("*/30 1-2 * * *", timedelta(minutes=20), NEW_YORK),
            utc(2024, 11, 3, 4),
            [utc(2024, 11, 3, 5, 0), utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 7, 0),
             utc(2024, 11, 3, 7, 30)],
            # 01:00 and 01:30 happen twice; each starts once (first time), then 02:00 EST.
            id="new york cron in the repeated hour starts once per wall time",
        ),
        pytest.param(
            CronWindow("0 4 * * sun", 2 * H, KYIV),
            utc(2024, 3, 30),
            [utc(2024, 3, 31, 1, 0), utc(2024, 4, 7, 1, 0)],
            id="kyiv cron right after the jump",
        ),
        pytest.param(
            MonthlyWindow(time(2, 0), 3 * H, KYIV, nth=1, weekday="sun"),
            utc(2024, 3, 1),
            [utc(2024, 3, 3, 0, 0), utc(2024, 4, 6, 23, 0), utc(2024, 5, 4, 23, 0)],
            id="kyiv first sunday of the month at 02:00 local",
        ),
    ],
)
def test_recurring_windows_start_at_local_time_across_dst(window, after, expected):
    assert starts(window, after, len(expected)) == expected


def test_duration_is_elapsed_time_on_the_night_the_clocks_jump():
    # Sunday 02:00 EET for 3 h on 31 Mar 2024 = 00:00-03:00 UTC = until 06:00 EEST local.
    window = WeeklyWindow({"sun"}, time(2, 0), 3 * H, KYIV, name="UPS battery swap")
    assert active_window([window], utc(2024, 3, 31, 2, 59)) is window
    assert active_window([window], utc(2024, 3, 31, 3, 0)) is None


# --- monthly and cron calendars --------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "after", "expected"),
    [
        pytest.param(
            MonthlyWindow("06:00", H, "UTC", day=31), utc(2024, 3, 1),
            [utc(2024, 3, 31, 6), utc(2024, 5, 31, 6), utc(2024, 7, 31, 6)],
            id="day 31 skips months without a 31st",
        ),
        pytest.param(
            MonthlyWindow("06:00", H, "UTC", day=-1), utc(2024, 2, 1),
            [utc(2024, 2, 29, 6), utc(2024, 3, 31, 6), utc(2024, 4, 30, 6)],
            id="day -1 is the last day of each month",
        ),
        pytest.param(
            MonthlyWindow("06:00", H, "UTC", nth=-1, weekday="sun"), utc(2024, 3, 1),
            [utc(2024, 3, 31, 6), utc(2024, 4, 28, 6), utc(2024, 5, 26, 6)],
            id="last sunday of the month",
        ),
        pytest.param(
            MonthlyWindow("06:00", H, "UTC", nth=5, weekday=6), utc(2024, 1, 1),
            [utc(2024, 3, 31, 6), utc(2024, 6, 30, 6), utc(2024, 9, 29, 6)],
            id="fifth sunday only in months that have one",
        ),
        pytest.param(
            CronWindow("0 3 1 * mon", H, "UTC"), utc(2024, 4, 27),
            [utc(2024, 4, 29, 3), utc(2024, 5, 1, 3), utc(2024, 5, 6, 3)],
            id="cron with day of month and weekday matches either",
        ),
        pytest.param(
            CronWindow("0 0 29 2 *", H, "UTC"), utc(2024, 3, 1), [utc(2028, 2, 29)],
            id="cron on 29 february waits for the next leap year",
        ),
        pytest.param(
            CronWindow("15 22 * * 7", H, "UTC"), utc(2024, 5, 1), [utc(2024, 5, 5, 22, 15)],
            id="cron weekday 7 is sunday",
        ),
        pytest.param(
            CronWindow("@monthly", H, "UTC"), utc(2024, 5, 2), [utc(2024, 6, 1)],
            id="cron shortcut",
        ),
    ],
)
def test_monthly_and_cron_calendars(window, after, expected):
    assert starts(window, after, len(expected)) == expected


def test_next_occurrences_start_at_or_after_the_given_time_and_carry_their_end():
    window = WeeklyWindow({"mon"}, "09:00", 90 * 60, "UTC")
    (first, second) = next_occurrences(window, utc(2024, 5, 6, 9, 0), 2)
    assert (first.start, first.end) == (utc(2024, 5, 6, 9), utc(2024, 5, 6, 10, 30))
    assert second.start == utc(2024, 5, 13, 9)
    assert first.window is window


def test_running_occurrence_is_not_an_upcoming_one():
    window = WeeklyWindow({"mon"}, "09:00", H, "UTC")
    assert starts(window, utc(2024, 5, 6, 9, 30), 1) == [utc(2024, 5, 13, 9)]


# --- active window ---------------------------------------------------------------------------


def test_one_off_window_is_active_from_start_until_just_before_end():
    window = OneOffWindow(utc(2024, 5, 6, 22), utc(2024, 5, 7, 2), name="switch firmware")
    assert active_window([window], utc(2024, 5, 6, 21, 59)) is None
    assert active_window([window], utc(2024, 5, 6, 22)) is window
    assert active_window([window], utc(2024, 5, 7, 1, 59)) is window
    assert active_window([window], utc(2024, 5, 7, 2)) is None
    assert next_occurrences(window, utc(2024, 5, 6, 23), 3) == []


def test_one_off_window_in_local_time():
    window = OneOffWindow.from_local(
        datetime(2024, 10, 26, 23, 0), datetime(2024, 10, 27, 5, 0), KYIV
    )
    # 23:00 EEST (+03) to 05:00 EET (+02): 7 real hours because the night has 25.
    assert (window.start, window.end) == (utc(2024, 10, 26, 20), utc(2024, 10, 27, 3))


def test_recurring_window_that_started_yesterday_is_still_active():
    window = WeeklyWindow({"sun"}, "22:00", 6 * H, "UTC")
    assert active_window([window], utc(2024, 5, 6, 3, 59)) is window  # Monday 03:59
    assert active_window([window], utc(2024, 5, 6, 4, 0)) is None


def test_when_several_windows_cover_now_the_one_ending_last_wins():
    short = OneOffWindow(utc(2024, 5, 6, 8), utc(2024, 5, 6, 10), name="short")
    long = WeeklyWindow({"mon"}, "07:00", 6 * H, "UTC", name="long")
    occurrence = active_occurrence([short, long], utc(2024, 5, 6, 9))
    assert occurrence is not None
    assert occurrence.window is long
    assert occurrence.end == utc(2024, 5, 6, 13)


def test_no_window_means_no_maintenance():
    assert active_window([], utc(2024, 5, 6)) is None


def test_naive_now_is_rejected():
    window = WeeklyWindow({"mon"}, "07:00", H, "UTC")
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        active_window([window], datetime(2024, 5, 6, 9))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: WeeklyWindow({"sun"}, "02:00", H, "Europe/Kiyv"),
                     "zone 'Europe/Kiyv' is not a known IANA time zone", id="unknown zone"),
        pytest.param(lambda: CronWindow("0 2 * * *", H, ""),
                     "zone must be an IANA time zone name", id="empty zone"),
        pytest.param(lambda: WeeklyWindow({"sun"}, "02:00", timedelta(0), "UTC"),
                     "duration must be longer than zero, got 0:00:00", id="zero duration"),
        pytest.param(lambda: CronWindow("0 2 * * *", -60, "UTC"),
                     "duration must be longer than zero", id="negative duration"),
        pytest.param(lambda: WeeklyWindow({"sun"}, "02:00", timedelta(days=40), "UTC"),
                     "duration must be at most 31 days", id="endless recurring window"),
        pytest.param(lambda: WeeklyWindow({"sun"}, "2 am", H, "UTC"),
                     "start_time must be a local time like '02:30', got '2 am'",
                     id="unreadable start time"),
        pytest.param(lambda: WeeklyWindow(set(), "02:00", H, "UTC"),
                     "weekdays must name at least one day", id="no weekdays"),
        pytest.param(lambda: WeeklyWindow({"sunday", 9}, "02:00", H, "UTC"),
                     "weekdays must be 0-6 .* got 9", id="weekday 9"),
        pytest.param(lambda: MonthlyWindow("02:00", H, "UTC"),
                     "either day .* or nth and weekday", id="monthly without a day"),
        pytest.param(lambda: MonthlyWindow("02:00", H, "UTC", day=1, nth=1, weekday=6),
                     "not both or neither", id="monthly with both"),
        pytest.param(lambda: MonthlyWindow("02:00", H, "UTC", day=32),
                     "day must be 1-31 or -1 .*got 32", id="day 32"),
        pytest.param(lambda: MonthlyWindow("02:00", H, "UTC", nth=6, weekday="sun"),
                     "nth must be 1-5 or -1 .*got 6", id="sixth sunday"),
        pytest.param(lambda: MonthlyWindow("02:00", H, "UTC", nth=1),
                     "nth and weekday must be given together", id="nth without weekday"),
        pytest.param(lambda: OneOffWindow(datetime(2024, 5, 6), utc(2024, 5, 7)),
                     "start must be timezone-aware", id="naive one-off"),
        pytest.param(lambda: OneOffWindow(utc(2024, 5, 7), utc(2024, 5, 6)),
                     r"end \(2024-05-06T00:00:00\+00:00\) must be after start", id="end first"),
        pytest.param(lambda: next_occurrences(WeeklyWindow({0}, "02:00", H, "UTC"),
                                              utc(2024, 1, 1), -1),
                     "count must be 0-1000, got -1", id="negative count"),
    ],
)
def test_bad_windows_are_rejected_with_a_clear_message(build, message):
    with pytest.raises(MaintenanceError, match=message):
        build()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("0 2 * *", "must have 5 fields .*got 4", id="four fields"),
        pytest.param("", "must have 5 fields .*got 0", id="empty"),
        pytest.param("60 * * * *", "minute value 60 is out of range 0-59", id="minute 60"),
        pytest.param("0 24 * * *", "hour value 24 is out of range 0-23", id="hour 24"),
        pytest.param("0 0 0 * *", "day-of-month value 0 is out of range 1-31", id="day 0"),
        pytest.param("0 0 * 13 *", "month value 13 is out of range 1-12", id="month 13"),
        pytest.param("0 0 * * 8", "day-of-week value 8 is out of range 0-7", id="weekday 8"),
        pytest.param("0 0 * * fri-mon", "day-of-week range 'fri-mon' runs backwards",
                     id="backwards range"),
        pytest.param("*/0 * * * *", "minute step '0' must be a whole number of at least 1",
                     id="step 0"),
        pytest.param("1,,2 * * * *", "minute has an empty list item", id="empty list item"),
        pytest.param("x * * * *", "minute value 'x' is not 0-59", id="garbage"),
        pytest.param("0 0 * foo *", "month value 'foo' is not 1-12 or a name like jan",
                     id="bad month name"),
        pytest.param("0 0 30 2 *", "never matches", id="30 february"),
        pytest.param("@reboot", "unknown shortcut", id="reboot"),
    ],
)
def test_bad_cron_expressions_are_rejected_naming_the_field(expression, message):
    with pytest.raises(CronError, match=message):
        CronWindow(expression, H, "UTC")


def test_cron_error_quotes_the_expression():
    with pytest.raises(CronError, match=r"cron expression '0 24 \* \* \*'"):
        CronExpression.parse("0 24 * * *")


@pytest.mark.parametrize(
    ("expression", "hours", "minutes"),
    [
        pytest.param("*/15 8-18/2 * * mon-fri", {8, 10, 12, 14, 16, 18}, {0, 15, 30, 45},
                     id="steps on star and range"),
        pytest.param("5/20 0 * * *", {0}, {5, 25, 45}, id="start with step runs to the end"),
        pytest.param("0,30 1,13 * jan-mar *", {1, 13}, {0, 30}, id="lists and month names"),
    ],
)
def test_cron_field_syntax(expression, hours, minutes):
    cron = CronExpression.parse(expression)
    assert cron.hours == hours
    assert cron.minutes == minutes
