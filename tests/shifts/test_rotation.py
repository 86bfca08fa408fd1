"""Patterns, rotations, overrides and swaps: who works which slot, and bad input rejected."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shifts.errors import (
    OverrideError,
    PatternError,
    RotationError,
    ScheduleError,
    ShiftConfigError,
    SwapError,
    TimeZoneError,
)
from shifts.localtime import load_zone
from shifts.patterns import (
    Assignment,
    ShiftPattern,
    Slot,
    crew_cycle,
    day_night,
    day_night_off_off,
    fixed_length,
    two_on_two_off,
)
from shifts.rotation import WEEKEND, Rotation, TimeWindow, occurrence_at, occurrences
from shifts.schedule import Line, Override, OverrideKind, Schedule, Swap

MOSCOW = load_zone("Europe/Moscow")  # UTC+3 all year: wall clock = UTC + 3 h, no DST noise


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def worked_by_day(rotation, first_day, days):
    """[(day person, night person)] per local day, read at 12:00 and 00:00 of the next day."""
    table = []
    for number in range(days):
        day = first_day + timedelta(days=number)
        noon = datetime.combine(day, time(12)) - timedelta(hours=3)
        midnight = datetime.combine(day + timedelta(days=1), time(0)) - timedelta(hours=3)
        table.append(
            (
                occurrence_at(rotation, MOSCOW, noon.replace(tzinfo=UTC)).person,
                occurrence_at(rotation, MOSCOW, midnight.replace(tzinfo=UTC)).person,
            )
        )
    return table


# --- patterns -------------------------------------------------------------------------------


def test_weekly_rotation_hands_over_every_monday_at_handoff_time_in_order():
    rotation = Rotation("Weekly", ["ann", "bob", "cat"], fixed_length(weeks=1), time(9),
                        date(2026, 1, 5))
    found = occurrences(rotation, MOSCOW, utc(2026, 1, 5), utc(2026, 2, 2))
    assert [(o.person, o.start) for o in found] == [
        ("ann", utc(2026, 1, 5, 6)),  # Monday 09:00 Moscow = 06:00 UTC
        ("bob", utc(2026, 1, 12, 6)),
        ("cat", utc(2026, 1, 19, 6)),
        ("ann", utc(2026, 1, 26, 6)),
    ]
    assert all(o.end - o.start == timedelta(weeks=1) for o in found)


def test_eight_hour_shifts_start_at_handoff_and_every_eight_hours_after():
    rotation = Rotation("Eights", ["ann", "bob"], fixed_length(8), time(6), date(2026, 2, 1))
    found = occurrences(rotation, MOSCOW, utc(2026, 2, 1, 3), utc(2026, 2, 2, 3))
    local_starts = [(o.start + timedelta(hours=3)).time() for o in found]
    assert local_starts == [time(6), time(14), time(22)]
    assert [o.person for o in found] == ["ann", "bob", "ann"]


def test_twelve_hour_day_night_with_two_people_gives_one_days_and_one_nights():
    rotation = Rotation("12/12", ["dana", "nick"], day_night(), time(8), date(2026, 2, 1))
    assert worked_by_day(rotation, date(2026, 2, 1), 3) == [("dana", "nick")] * 3
    day = occurrence_at(rotation, MOSCOW, utc(2026, 2, 1, 9))
    assert (day.start, day.end, day.label) == (utc(2026, 2, 1, 5), utc(2026, 2, 1, 17), "day")


def test_day_night_with_four_people_takes_turns_over_the_slots():
    rotation = Rotation("12/12", ["a", "b", "c", "d"], day_night(), time(8), date(2026, 2, 1))
    assert worked_by_day(rotation, date(2026, 2, 1), 3) == [("a", "b"), ("c", "d"), ("a", "b")]


def test_day_night_with_a_ten_hour_day_puts_the_night_handoff_at_eighteen():
    rotation = Rotation("10/14", ["dana", "nick"], day_night(10), time(8), date(2026, 2, 1))
    night = occurrence_at(rotation, MOSCOW, utc(2026, 2, 1, 20))
    assert (night.person, night.start, night.end) == ("nick", utc(2026, 2, 1, 15),
                                                       utc(2026, 2, 2, 5))


def test_two_on_two_off_has_each_crew_work_two_then_rest_two():
    rotation = Rotation("2-2", ["A", "B", "C", "D"], two_on_two_off(), time(8), date(2026, 2, 1))
    assert worked_by_day(rotation, date(2026, 2, 1), 8) == [
        ("A", "C"), ("A", "C"), ("B", "D"), ("B", "D"),
        ("A", "C"), ("A", "C"), ("B", "D"), ("B", "D"),
    ]


def test_day_night_off_off_staggers_four_crews_so_each_works_day_then_night_then_rests():
    rotation = Rotation("DNOO", ["A", "B", "C", "D"], day_night_off_off(), time(8),
                        date(2026, 2, 1))
    table = worked_by_day(rotation, date(2026, 2, 1), 8)
    assert table == [
        ("A", "D"), ("B", "A"), ("C", "B"), ("D", "C"),
        ("A", "D"), ("B", "A"), ("C", "B"), ("D", "C"),
    ]
    # Every crew's own sequence over the days: day, night, off, off, repeating.
    for crew in "ABCD":
        start = next(day for day, (worker, _) in enumerate(table) if worker == crew)
        sequence = [
            "day" if table[d][0] == crew else "night" if table[d][1] == crew else "off"
            for d in range(start, start + 4)
        ]
        assert sequence == ["day", "night", "off", "off"], crew


def test_custom_crew_cycle_follows_its_table():
    pattern = crew_cycle("two crews", 12, day_crews=[0, 1], night_crews=[1, 0])
    rotation = Rotation("Custom", ["red", "blue"], pattern, time(7), date(2026, 2, 1))
    assert worked_by_day(rotation, date(2026, 2, 1), 4) == [
        ("red", "blue"), ("blue", "red"), ("red", "blue"), ("blue", "red"),
    ]


def test_a_hand_built_pattern_of_uneven_slots_hands_out_round_robin():
    pattern = ShiftPattern(
        "short day, long night", timedelta(days=1),
        (Slot(timedelta(0)), Slot(timedelta(hours=6)), Slot(timedelta(hours=14))),
    )
    rotation = Rotation("Uneven", ["a", "b"], pattern, time(6), date(2026, 2, 1))
    found = occurrences(rotation, MOSCOW, utc(2026, 2, 1, 3), utc(2026, 2, 2, 3))
    assert [(o.person, o.end - o.start) for o in found] == [
        ("a", timedelta(hours=6)), ("b", timedelta(hours=8)), ("a", timedelta(hours=10)),
    ]


def test_rotation_is_silent_before_its_first_handoff_and_from_its_end():
    rotation = Rotation("Weekly", ["ann"], fixed_length(weeks=1), time(9), date(2026, 1, 5),
                        ends_at=utc(2026, 1, 10))
    assert occurrence_at(rotation, MOSCOW, utc(2026, 1, 5, 5, 59)) is None
    assert occurrence_at(rotation, MOSCOW, utc(2026, 1, 5, 6)).person == "ann"
    assert occurrence_at(rotation, MOSCOW, utc(2026, 1, 9, 23, 59)).end == utc(2026, 1, 10)
    assert occurrence_at(rotation, MOSCOW, utc(2026, 1, 10)) is None


# --- overrides and swaps --------------------------------------------------------------------

WINDOW = (utc(2026, 3, 1, 8), utc(2026, 3, 1, 20))


@pytest.mark.parametrize(
    ("override", "before", "after"),
    [
        pytest.param(Override("add", "iryna", *WINDOW), ["olena"], ["olena", "iryna"],
                     id="add puts a second engineer alongside"),
        pytest.param(Override("add", "olena", *WINDOW), ["olena"], ["olena"],
                     id="adding someone already on duty changes nothing"),
        pytest.param(Override("remove", "olena", *WINDOW), ["olena"], [],
                     id="removing the only engineer leaves a gap"),
        pytest.param(Override("remove", "taras", *WINDOW), ["olena"], ["olena"],
                     id="removing someone not on duty changes nothing"),
        pytest.param(Override("replace", "taras", *WINDOW, replaces="olena"), ["olena"],
                     ["taras"], id="replace swaps the named engineer"),
        pytest.param(Override("replace", "taras", *WINDOW, replaces="olena"), ["iryna"],
                     ["iryna"], id="replace does nothing when the named one is not on duty"),
        pytest.param(Override("replace", "taras", *WINDOW), ["olena", "iryna"], ["taras"],
                     id="replace without a name takes the whole range"),
        pytest.param(Override("replace", "taras", *WINDOW), [], ["taras"],
                     id="replace without a name covers a gap"),
        pytest.param(Override("replace", "taras", *WINDOW, replaces="olena"),
                     ["olena", "taras"], ["taras"],
                     id="replacing with someone already on duty just removes the other"),
    ],
)
def test_override_changes_the_people_on_duty(override, before, after):
    assert override.apply(before) == after


def test_swap_becomes_replace_overrides_both_ways_for_a_trade():
    offered = (utc(2026, 3, 2, 6), utc(2026, 3, 2, 18))
    back = (utc(2026, 3, 4, 6), utc(2026, 3, 4, 18))
    swap = Swap("olena", "taras", (offered,), given_back=(back,))
    assert [(o.kind, o.person, o.replaces, o.start, o.end) for o in swap.overrides()] == [
        (OverrideKind.REPLACE, "taras", "olena", *offered),
        (OverrideKind.REPLACE, "olena", "taras", *back),
    ]


def test_schedule_with_swap_appends_the_swap_overrides_after_existing_ones():
    rotation = Rotation("Weekly", ["olena", "taras"], fixed_length(weeks=1), time(9),
                        date(2026, 1, 5))
    existing = Override("add", "iryna", utc(2026, 1, 6), utc(2026, 1, 7))
    schedule = Schedule("Kyiv", Line.FIRST_LINE, "Europe/Kyiv", [rotation], [existing])
    swap = Swap("olena", "taras", ((utc(2026, 1, 6), utc(2026, 1, 7)),))
    assert schedule.with_swap(swap).overrides == (existing, *swap.overrides())
    assert schedule.overrides == (existing,)  # value objects: the original is unchanged


def test_line_labels_and_schedule_title_read_as_on_the_wall():
    schedule = Schedule("Kyiv", "first_line", "Europe/Kyiv")
    assert schedule.line is Line.FIRST_LINE
    assert schedule.title == "First line (Kyiv)"
    assert [line.label for line in Line] == ["First line", "Second line", "Shift lead"]


def test_restriction_windows_accept_day_names_and_whole_days():
    assert TimeWindow(time(9), time(18), ("mon", "Tuesday")).weekdays == {0, 1}
    assert TimeWindow.whole_days(WEEKEND).weekdays == {5, 6}


# --- bad input --------------------------------------------------------------------------------


def _rotation(**changes):
    fields = {
        "name": "Night crew",
        "participants": ["olena", "taras"],
        "pattern": day_night(),
        "handoff": time(8),
        "start": date(2026, 3, 1),
    }
    fields.update(changes)
    return Rotation(**fields)


BAD_INPUT = [
    pytest.param(lambda: _rotation(participants=[]), RotationError,
                 "rotation 'Night crew' has no participants", id="no participants"),
    pytest.param(lambda: fixed_length(0), PatternError,
                 "shift length must be positive, got 0 h", id="zero shift length"),
    pytest.param(lambda: fixed_length(-12), PatternError,
                 "shift length must be positive, got -12 h", id="negative shift length"),
    pytest.param(lambda: ShiftPattern("empty", timedelta(0), (Slot(timedelta(0)),)),
                 PatternError, "shift length must be positive, got 0 h", id="zero cycle"),
    pytest.param(lambda: Override("replace", "taras", utc(2026, 3, 2, 8), utc(2026, 3, 1, 8)),
                 OverrideError,
                 "override ends (2026-03-01 08:00 UTC) before it starts (2026-03-02 08:00 UTC)",
                 id="override ends before it starts"),
    pytest.param(lambda: Override("add", "taras", utc(2026, 3, 2), utc(2026, 3, 2)),
                 OverrideError, "override must end after it starts", id="empty override"),
    pytest.param(lambda: Override("add", "taras", datetime(2026, 3, 1), utc(2026, 3, 2)),
                 ShiftConfigError, "override start must be timezone-aware (UTC), got naive",
                 id="naive override start"),
    pytest.param(lambda: Override("swap", "taras", utc(2026, 3, 1), utc(2026, 3, 2)),
                 OverrideError, "override kind must be one of add, remove, replace",
                 id="unknown override kind"),
    pytest.param(lambda: Override("replace", "taras", utc(2026, 3, 1), utc(2026, 3, 2),
                                  replaces="taras"),
                 OverrideError, "cannot replace 'taras' with themselves", id="replace self"),
    pytest.param(lambda: Override("add", "taras", utc(2026, 3, 1), utc(2026, 3, 2),
                                  replaces="olena"),
                 OverrideError, "only a replace override names who is replaced",
                 id="add with replaces"),
    pytest.param(lambda: Schedule("Kyiv", "first_line", "Europe/Kiev2"), TimeZoneError,
                 "unknown time zone 'Europe/Kiev2'", id="unknown time zone"),
    pytest.param(lambda: Schedule("Kyiv", "first_line", "../etc/passwd"), TimeZoneError,
                 "unknown time zone '../etc/passwd'", id="path as time zone"),
    pytest.param(lambda: Schedule("Kyiv", "third_line", "Europe/Kyiv"), ScheduleError,
                 "unknown line 'third_line'; allowed: first_line, second_line, shift_lead",
                 id="unknown line"),
    pytest.param(lambda: Schedule(" ", "first_line", "Europe/Kyiv"), ScheduleError,
                 "schedule name must be a non-empty text", id="blank schedule name"),
    pytest.param(lambda: Schedule("Kyiv", "first_line", "Europe/Kyiv",
                                  [_rotation(), _rotation()]),
                 ScheduleError, "schedule 'Kyiv' has two layers named 'Night crew'",
                 id="duplicate layer names"),
    pytest.param(lambda: Schedule("Kyiv", "first_line", "Europe/Kyiv",
                                  [_rotation(ends_at=utc(2026, 2, 1))]),
                 ScheduleError, "rotation 'Night crew' ends (2026-02-01 00:00 UTC) before it "
                 "starts (2026-03-01 06:00 UTC)", id="rotation ends before it starts"),
    pytest.param(lambda: Swap("olena", "olena", ((utc(2026, 3, 1), utc(2026, 3, 2)),)),
                 SwapError, "a swap needs two different people", id="swap with oneself"),
    pytest.param(lambda: Swap("olena", "taras", ()), SwapError,
                 "a swap needs at least one offered shift", id="swap of nothing"),
    pytest.param(lambda: Swap("olena", "taras", ((utc(2026, 3, 2), utc(2026, 3, 1)),)),
                 SwapError, "swapped shift ends (2026-03-01 00:00 UTC) before it starts",
                 id="swapped shift reversed"),
    pytest.param(lambda: _rotation(pattern=day_night_off_off()), PatternError,
                 "pattern 'day-night-off-off' is worked by 4 crews, so rotation 'Night crew' "
                 "needs exactly 4 participants (one per crew), got 2", id="too few crews"),
    pytest.param(lambda: _rotation(participants=["olena", ""]), RotationError,
                 "rotation 'Night crew': participant 2 must be a person id", id="blank person"),
    pytest.param(lambda: _rotation(participants=["olena", None]), RotationError,
                 "participant 2 must be a person id (text or number), got None",
                 id="missing person"),
    pytest.param(lambda: _rotation(participants=[True]), RotationError,
                 "participant 1 must be a person id", id="boolean person"),
    pytest.param(lambda: _rotation(handoff=time(8, tzinfo=UTC)), RotationError,
                 "handoff must be a local wall-clock time without a zone", id="aware handoff"),
    pytest.param(lambda: _rotation(start=datetime(2026, 3, 1, 8)), RotationError,
                 "start must be a date (the handoff time is separate)", id="datetime start"),
    pytest.param(lambda: _rotation(ends_at=datetime(2026, 4, 1)), ShiftConfigError,
                 "ends_at must be timezone-aware", id="naive rotation end"),
    pytest.param(lambda: _rotation(restrictions=[TimeWindow(time(9), time(18), [7])]),
                 RotationError, "weekday must be 0 (Monday) … 6 (Sunday)", id="weekday 7"),
    pytest.param(lambda: _rotation(restrictions=[TimeWindow(time(9), time(18), [])]),
                 RotationError, "needs at least one weekday", id="no weekdays"),
    pytest.param(lambda: day_night(24), PatternError,
                 "day shift must be longer than 0 h and shorter than 24 h, got 24 h",
                 id="day shift fills the whole day"),
    pytest.param(lambda: ShiftPattern("late", timedelta(days=1), (Slot(timedelta(hours=1)),)),
                 PatternError, "the first slot must start at the handoff", id="first slot late"),
    pytest.param(lambda: ShiftPattern("order", timedelta(days=1),
                                      (Slot(timedelta(0)), Slot(timedelta(hours=12)),
                                       Slot(timedelta(hours=8)))),
                 PatternError, "slot offsets must increase, got 8 h after 12 h",
                 id="slots out of order"),
    pytest.param(lambda: ShiftPattern("long", timedelta(days=1),
                                      (Slot(timedelta(0)), Slot(timedelta(hours=30)))),
                 PatternError, "slot offset 30 h is outside the 24 h cycle",
                 id="slot past the cycle"),
    pytest.param(lambda: ShiftPattern("holes", timedelta(days=1),
                                      (Slot(timedelta(0), 0), Slot(timedelta(hours=12), 2)),
                                      Assignment.CREWS),
                 PatternError, "crew 1 has no slot", id="crew numbers with a hole"),
]


@pytest.mark.parametrize(("build", "error", "message"), BAD_INPUT)
def test_bad_input_is_rejected_with_a_message_naming_the_problem(build, error, message):
    with pytest.raises(error) as raised:
        build()
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)
