"""DST: shifts live in wall-clock time; handoffs stay put; no instant uncovered or doubled.

2026 transitions (expected instants below are worked out by hand from the offsets):
* Europe/Kyiv: EET (UTC+2) / EEST (UTC+3). Spring 2026-03-29 03:00 → 04:00 (01:00 UTC);
  autumn 2026-10-25 04:00 → 03:00 (01:00 UTC).
* Europe/Moscow: MSK (UTC+3) all year — the same dates must change nothing.
* America/New_York: EST (UTC−5) / EDT (UTC−4). Spring 2026-03-08 02:00 → 03:00 (07:00 UTC);
  autumn 2026-11-01 02:00 → 01:00 (06:00 UTC).

Rule for local times that do not exist or exist twice (shifts.localtime): a nonexistent
handoff happens at the instant the clocks jump; an ambiguous one at its first occurrence.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest

from shifts.oncall import Shift, final_schedule, on_duty
from shifts.patterns import day_night, day_night_off_off, fixed_length
from shifts.rotation import Rotation, TimeWindow
from shifts.schedule import Schedule


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


H = timedelta(hours=1)


def twelve_twelve(zone, start=date(2026, 1, 1)):
    """Days 08:00–20:00 by dana, nights 20:00–08:00 by nick, in ``zone``'s wall clock."""
    rotation = Rotation("12/12", ["dana", "nick"], day_night(), time(8), start)
    return Schedule(zone.split("/")[-1], "first_line", zone, [rotation])


def daily(zone, handoff, start=date(2026, 1, 1)):
    rotation = Rotation("Daily", ["a", "b"], fixed_length(days=1), handoff, start)
    return Schedule("Daily", "first_line", zone, [rotation])


# --- on_duty at instants around both transitions, three zones --------------------------------

ON_DUTY_CASES = [
    # Kyiv, spring forward: the night of 28→29 March is 11 h (18:00Z → 05:00Z).
    ("Europe/Kyiv", utc(2026, 3, 28, 17, 59), "dana", utc(2026, 3, 28, 6), utc(2026, 3, 28, 18)),
    ("Europe/Kyiv", utc(2026, 3, 29, 0, 59), "nick", utc(2026, 3, 28, 18), utc(2026, 3, 29, 5)),
    ("Europe/Kyiv", utc(2026, 3, 29, 1), "nick", utc(2026, 3, 28, 18), utc(2026, 3, 29, 5)),
    ("Europe/Kyiv", utc(2026, 3, 29, 4, 59), "nick", utc(2026, 3, 28, 18), utc(2026, 3, 29, 5)),
    ("Europe/Kyiv", utc(2026, 3, 29, 5), "dana", utc(2026, 3, 29, 5), utc(2026, 3, 29, 17)),
    # Kyiv, fall back: the night of 24→25 October is 13 h (17:00Z → 06:00Z).
    ("Europe/Kyiv", utc(2026, 10, 24, 17), "nick", utc(2026, 10, 24, 17), utc(2026, 10, 25, 6)),
    ("Europe/Kyiv", utc(2026, 10, 25, 0, 30), "nick", utc(2026, 10, 24, 17),
     utc(2026, 10, 25, 6)),  # 03:30 EEST, first pass of the repeated hour
    ("Europe/Kyiv", utc(2026, 10, 25, 1, 30), "nick", utc(2026, 10, 24, 17),
     utc(2026, 10, 25, 6)),  # 03:30 EET, second pass
    ("Europe/Kyiv", utc(2026, 10, 25, 5, 59), "nick", utc(2026, 10, 24, 17),
     utc(2026, 10, 25, 6)),
    ("Europe/Kyiv", utc(2026, 10, 25, 6), "dana", utc(2026, 10, 25, 6), utc(2026, 10, 25, 18)),
    # Moscow on the EU dates: always 05:00Z / 17:00Z, every night 12 h.
    ("Europe/Moscow", utc(2026, 3, 29, 4, 59), "nick", utc(2026, 3, 28, 17),
     utc(2026, 3, 29, 5)),
    ("Europe/Moscow", utc(2026, 3, 29, 5), "dana", utc(2026, 3, 29, 5), utc(2026, 3, 29, 17)),
    ("Europe/Moscow", utc(2026, 10, 25, 4, 59), "nick", utc(2026, 10, 24, 17),
     utc(2026, 10, 25, 5)),
    ("Europe/Moscow", utc(2026, 10, 25, 5), "dana", utc(2026, 10, 25, 5),
     utc(2026, 10, 25, 17)),
    # Moscow on the US dates, for good measure.
    ("Europe/Moscow", utc(2026, 3, 8, 4), "nick", utc(2026, 3, 7, 17), utc(2026, 3, 8, 5)),
    ("Europe/Moscow", utc(2026, 11, 1, 6), "dana", utc(2026, 11, 1, 5), utc(2026, 11, 1, 17)),
    # New York, spring forward: night of 7→8 March is 11 h (01:00Z → 12:00Z).
    ("America/New_York", utc(2026, 3, 8, 0, 59), "dana", utc(2026, 3, 7, 13),
     utc(2026, 3, 8, 1)),
    ("America/New_York", utc(2026, 3, 8, 6, 59), "nick", utc(2026, 3, 8, 1),
     utc(2026, 3, 8, 12)),  # 01:59 EST
    ("America/New_York", utc(2026, 3, 8, 7), "nick", utc(2026, 3, 8, 1),
     utc(2026, 3, 8, 12)),  # 03:00 EDT
    ("America/New_York", utc(2026, 3, 8, 12), "dana", utc(2026, 3, 8, 12), utc(2026, 3, 9)),
    # New York, fall back: night of 31 Oct → 1 Nov is 13 h (00:00Z → 13:00Z).
    ("America/New_York", utc(2026, 11, 1, 5, 30), "nick", utc(2026, 11, 1),
     utc(2026, 11, 1, 13)),  # 01:30 EDT
    ("America/New_York", utc(2026, 11, 1, 6, 30), "nick", utc(2026, 11, 1),
     utc(2026, 11, 1, 13)),  # 01:30 EST
    ("America/New_York", utc(2026, 11, 1, 12, 59), "nick", utc(2026, 11, 1),
     utc(2026, 11, 1, 13)),
    ("America/New_York", utc(2026, 11, 1, 13), "dana", utc(2026, 11, 1, 13),
     utc(2026, 11, 2, 1)),
]


@pytest.mark.parametrize(
    ("zone", "at", "person", "since", "until"),
    ON_DUTY_CASES,
    ids=[f"{case[0].split('/')[-1]} {case[1]:%m-%d %H:%MZ}" for case in ON_DUTY_CASES],
)
def test_on_duty_across_dst_keeps_handoffs_at_local_time(zone, at, person, since, until):
    found = on_duty(twelve_twelve(zone), at)
    assert (found.people, found.since, found.until) == ((person,), since, until)


# --- the shift that contains the change is shorter or longer ----------------------------------


@pytest.mark.parametrize(
    ("zone", "night_start", "night_end", "real_hours"),
    [
        pytest.param("Europe/Kyiv", utc(2026, 3, 28, 18), utc(2026, 3, 29, 5), 11,
                     id="Kyiv spring"),
        pytest.param("Europe/Kyiv", utc(2026, 10, 24, 17), utc(2026, 10, 25, 6), 13,
                     id="Kyiv autumn"),
        pytest.param("Europe/Moscow", utc(2026, 3, 28, 17), utc(2026, 3, 29, 5), 12,
                     id="Moscow on the EU spring date"),
        pytest.param("Europe/Moscow", utc(2026, 10, 24, 17), utc(2026, 10, 25, 5), 12,
                     id="Moscow on the EU autumn date"),
        pytest.param("America/New_York", utc(2026, 3, 8, 1), utc(2026, 3, 8, 12), 11,
                     id="New York spring"),
        pytest.param("America/New_York", utc(2026, 11, 1), utc(2026, 11, 1, 13), 13,
                     id="New York autumn"),
    ],
)
def test_twelve_hour_night_over_a_dst_change_is_eleven_or_thirteen_real_hours(
    zone, night_start, night_end, real_hours
):
    segments = final_schedule(twelve_twelve(zone), night_start - 12 * H, night_end + 12 * H)
    assert Shift(night_start, night_end, ("nick",)) in segments
    assert night_end - night_start == real_hours * H
    # The day shifts either side stay 12 real hours.
    assert [s.duration for s in segments if s.people == ("dana",)] == [12 * H, 12 * H]


# --- a handoff at a local time that does not exist, or exists twice ---------------------------

HANDOFF_CASES = [
    # Kyiv daily at 03:30: 29 March 03:30 does not exist → at the jump (01:00Z).
    ("Europe/Kyiv", time(3, 30), utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1),
     utc(2026, 3, 30, 0, 30)),
    # Kyiv daily at 03:30: 25 October 03:30 happens twice → the first (EEST, 00:30Z).
    ("Europe/Kyiv", time(3, 30), utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30),
     utc(2026, 10, 26, 1, 30)),
    # Moscow daily at 03:30 on the same dates: nothing special, always 00:30Z.
    ("Europe/Moscow", time(3, 30), utc(2026, 3, 28, 0, 30), utc(2026, 3, 29, 0, 30),
     utc(2026, 3, 30, 0, 30)),
    ("Europe/Moscow", time(3, 30), utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30),
     utc(2026, 10, 26, 0, 30)),
    # New York daily at 02:30: 8 March 02:30 does not exist → 03:00 EDT (07:00Z).
    ("America/New_York", time(2, 30), utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7),
     utc(2026, 3, 9, 6, 30)),
    # New York daily at 01:30: 1 November 01:30 happens twice → the first (EDT, 05:30Z).
    ("America/New_York", time(1, 30), utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30),
     utc(2026, 11, 2, 6, 30)),
]


@pytest.mark.parametrize(
    ("zone", "handoff", "day_before", "on_the_day", "day_after"),
    HANDOFF_CASES,
    ids=[f"{c[0].split('/')[-1]} {c[1]:%H:%M} {c[3]:%m-%d}" for c in HANDOFF_CASES],
)
def test_handoff_at_a_missing_or_repeated_local_time_follows_the_documented_rule(
    zone, handoff, day_before, on_the_day, day_after
):
    schedule = daily(zone, handoff)
    segments = final_schedule(schedule, day_before, day_after)
    assert [(s.start, s.end) for s in segments] == [(day_before, on_the_day),
                                                   (on_the_day, day_after)]
    assert segments[0].people != segments[1].people  # a real handoff, not a merge
    # on_duty agrees right at the handoff instant and just before it.
    assert on_duty(schedule, on_the_day).people == segments[1].people
    assert on_duty(schedule, on_the_day - timedelta(seconds=1)).people == segments[0].people


def test_during_the_repeated_hour_the_wall_clock_showing_the_handoff_again_changes_nothing():
    schedule = daily("America/New_York", time(1, 30))
    first = on_duty(schedule, utc(2026, 11, 1, 5, 30))  # 01:30 EDT: the handoff
    second = on_duty(schedule, utc(2026, 11, 1, 6, 30))  # 01:30 EST: same wall time again
    assert first.people == second.people
    assert (second.since, second.until) == (utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30))


# --- other patterns across the change --------------------------------------------------------


def test_eight_hour_shifts_around_new_york_changes_are_seven_and_nine_hours():
    rotation = Rotation("Eights", ["a", "b", "c"], fixed_length(8), time(6), date(2026, 1, 1))
    schedule = Schedule("NY", "first_line", "America/New_York", [rotation])
    spring = final_schedule(schedule, utc(2026, 3, 7, 19), utc(2026, 3, 8, 18))
    assert [(s.start, s.duration) for s in spring] == [
        (utc(2026, 3, 7, 19), 8 * H),  # 14:00–22:00 EST
        (utc(2026, 3, 8, 3), 7 * H),  # 22:00 EST → 06:00 EDT
        (utc(2026, 3, 8, 10), 8 * H),  # 06:00–14:00 EDT
    ]
    autumn = final_schedule(schedule, utc(2026, 10, 31, 18), utc(2026, 11, 1, 19))
    assert [(s.start, s.duration) for s in autumn] == [
        (utc(2026, 10, 31, 18), 8 * H),  # 14:00–22:00 EDT
        (utc(2026, 11, 1, 2), 9 * H),  # 22:00 EDT → 06:00 EST
        (utc(2026, 11, 1, 11), 8 * H),  # 06:00–14:00 EST
    ]


def test_weekly_handoff_stays_at_monday_nine_local_across_the_kyiv_spring_change():
    rotation = Rotation("Weekly", ["a", "b"], fixed_length(weeks=1), time(9), date(2026, 3, 16))
    schedule = Schedule("Kyiv", "first_line", "Europe/Kyiv", [rotation])
    segments = final_schedule(schedule, utc(2026, 3, 16, 7), utc(2026, 4, 6, 6))
    assert [(s.start, s.duration, s.people) for s in segments] == [
        (utc(2026, 3, 16, 7), 168 * H, ("a",)),  # 09:00 EET
        (utc(2026, 3, 23, 7), 167 * H, ("b",)),  # 09:00 EET → 09:00 EEST
        (utc(2026, 3, 30, 6), 168 * H, ("a",)),  # 09:00 EEST
    ]


def test_day_night_off_off_crews_keep_their_local_hours_across_the_new_york_change():
    rotation = Rotation("DNOO", ["A", "B", "C", "D"], day_night_off_off(), time(7),
                        date(2026, 3, 6))
    schedule = Schedule("NY", "first_line", "America/New_York", [rotation])
    segments = final_schedule(schedule, utc(2026, 3, 7, 12), utc(2026, 3, 9, 11))
    assert [(s.start, s.end, s.people) for s in segments] == [
        (utc(2026, 3, 7, 12), utc(2026, 3, 8, 0), ("B",)),  # Sat day 07:00–19:00 EST
        (utc(2026, 3, 8, 0), utc(2026, 3, 8, 11), ("A",)),  # night → 07:00 EDT, 11 h
        (utc(2026, 3, 8, 11), utc(2026, 3, 8, 23), ("C",)),  # Sun day 07:00–19:00 EDT
        (utc(2026, 3, 8, 23), utc(2026, 3, 9, 11), ("B",)),  # Sun night, 12 h
    ]


def test_business_hours_restriction_follows_local_time_across_the_change():
    office = Rotation("Office", ["olena"], fixed_length(days=1), time(9), date(2026, 3, 1),
                      restrictions=(TimeWindow(time(9), time(18)),))
    schedule = Schedule("Kyiv", "first_line", "Europe/Kyiv", [office])
    segments = final_schedule(schedule, utc(2026, 3, 28), utc(2026, 3, 30))
    assert [(s.start, s.end) for s in segments] == [
        (utc(2026, 3, 28, 7), utc(2026, 3, 28, 16)),  # 09:00–18:00 EET
        (utc(2026, 3, 29, 6), utc(2026, 3, 29, 15)),  # 09:00–18:00 EEST
    ]


# --- no instant uncovered, none covered twice ---------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        pytest.param("Europe/Kyiv", utc(2026, 3, 29, 1), id="Kyiv spring"),
        pytest.param("Europe/Kyiv", utc(2026, 10, 25, 1), id="Kyiv autumn"),
        pytest.param("Europe/Moscow", utc(2026, 3, 29, 1), id="Moscow EU spring date"),
        pytest.param("Europe/Moscow", utc(2026, 10, 25, 1), id="Moscow EU autumn date"),
        pytest.param("America/New_York", utc(2026, 3, 8, 7), id="New York spring"),
        pytest.param("America/New_York", utc(2026, 11, 1, 6), id="New York autumn"),
    ],
)
@pytest.mark.parametrize(
    "schedule_for",
    [
        pytest.param(twelve_twelve, id="12/12"),
        pytest.param(lambda zone: daily(zone, time(2, 30)), id="daily at 02:30"),
        pytest.param(lambda zone: daily(zone, time(3, 30)), id="daily at 03:30"),
    ],
)
def test_every_instant_around_a_change_has_exactly_one_engineer(zone, around, schedule_for):
    start, end = around - timedelta(days=3), around + timedelta(days=3)
    segments = final_schedule(schedule_for(zone), start, end, include_gaps=True)
    assert segments[0].start == start and segments[-1].end == end
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start  # no hole, no overlap
    assert all(len(segment.people) == 1 for segment in segments)
    # Sampled every 97 minutes, on_duty sees exactly one person and the same as the segments.
    at = start
    while at < end:
        (holder,) = [s for s in segments if s.start <= at < s.end]
        assert on_duty(schedule_for(zone), at, horizon=timedelta(days=4)).people == holder.people
        at += timedelta(minutes=97)
