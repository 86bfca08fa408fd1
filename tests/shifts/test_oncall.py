"""Who is on duty: layers by priority, restrictions, overrides, swaps and the final schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from shifts.errors import ShiftConfigError, SwapError
from shifts.oncall import (
    Shift,
    check_swap,
    final_schedule,
    layer_shifts,
    next_shift_for,
    on_duty,
    on_duty_by_line,
    person_shifts,
)
from shifts.patterns import day_night, fixed_length
from shifts.rotation import WEEKEND, Rotation, TimeWindow
from shifts.schedule import Line, Override, Schedule, Swap


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def kyiv_winter(year, month, day, hour=0, minute=0):
    """Kyiv wall clock in winter (EET, UTC+2) as a UTC instant — written out by hand."""
    return utc(year, month, day, hour, minute) - timedelta(hours=2)


# Kyiv first line, January 2026 (no DST in play): a weekly 24/7 base layer handing over on
# Monday 09:00, and a daily weekend layer on top that only applies on Saturday and Sunday.
BASE = Rotation("24/7", ["olena", "taras"], fixed_length(weeks=1), time(9), date(2026, 1, 5))
WEEKEND_LAYER = Rotation(
    "Weekend", ["iryna", "andriy"], fixed_length(days=1), time(9), date(2026, 1, 3),
    restrictions=(TimeWindow.whole_days(WEEKEND),),
)
KYIV = Schedule("Kyiv", Line.FIRST_LINE, "Europe/Kyiv", (BASE, WEEKEND_LAYER), id=1)


@pytest.mark.parametrize(
    ("local", "people", "layer"),
    [
        pytest.param(kyiv_winter(2026, 1, 5, 8, 59), (), None,
                     id="Monday before the base layer's first handoff, weekend layer off"),
        pytest.param(kyiv_winter(2026, 1, 5, 9), ("olena",), "24/7",
                     id="first handoff of the base layer"),
        pytest.param(kyiv_winter(2026, 1, 6, 12), ("olena",), "24/7", id="Tuesday midday"),
        pytest.param(kyiv_winter(2026, 1, 9, 23), ("olena",), "24/7",
                     id="Friday night: weekend layer restricted, base shows through"),
        pytest.param(kyiv_winter(2026, 1, 10, 0), ("iryna",), "Weekend",
                     id="Saturday midnight: weekend layer takes over mid-occurrence"),
        pytest.param(kyiv_winter(2026, 1, 10, 8, 59), ("iryna",), "Weekend",
                     id="Saturday before the weekend layer's daily handoff"),
        pytest.param(kyiv_winter(2026, 1, 10, 9), ("andriy",), "Weekend",
                     id="Saturday daily handoff"),
        pytest.param(kyiv_winter(2026, 1, 11, 23, 59), ("iryna",), "Weekend",
                     id="last minute of Sunday"),
        pytest.param(kyiv_winter(2026, 1, 12, 0), ("olena",), "24/7",
                     id="Monday midnight: back to the base week"),
        pytest.param(kyiv_winter(2026, 1, 12, 8, 59), ("olena",), "24/7",
                     id="Monday a minute before the weekly handoff"),
        pytest.param(kyiv_winter(2026, 1, 12, 9), ("taras",), "24/7", id="weekly handoff"),
        pytest.param(kyiv_winter(2026, 1, 4, 12), ("andriy",), "Weekend",
                     id="Sunday before the base layer starts: the weekend layer alone"),
    ],
)
def test_on_duty_follows_layers_by_priority_and_restrictions(local, people, layer):
    found = on_duty(KYIV, local)
    assert (found.people, found.layer) == (people, layer)
    assert found.line is Line.FIRST_LINE and found.schedule == "Kyiv"


@pytest.mark.parametrize(
    ("at", "since", "until"),
    [
        pytest.param(kyiv_winter(2026, 1, 6, 12), kyiv_winter(2026, 1, 5, 9),
                     kyiv_winter(2026, 1, 10, 0), id="base week until the weekend starts"),
        pytest.param(kyiv_winter(2026, 1, 10, 3), kyiv_winter(2026, 1, 10, 0),
                     kyiv_winter(2026, 1, 10, 9), id="weekend layer's first piece"),
        pytest.param(kyiv_winter(2026, 1, 12, 3), kyiv_winter(2026, 1, 12, 0),
                     kyiv_winter(2026, 1, 12, 9), id="Monday morning remainder of the week"),
    ],
)
def test_on_duty_tells_when_the_current_duty_started_and_ends(at, since, until):
    found = on_duty(KYIV, at)
    assert (found.since, found.until) == (since, until)


def test_on_duty_rejects_a_naive_instant():
    with pytest.raises(ShiftConfigError, match="at must be timezone-aware"):
        on_duty(KYIV, datetime(2026, 1, 6, 12))


def test_on_duty_accepts_an_aware_instant_in_another_zone_and_reports_utc():
    from zoneinfo import ZoneInfo

    local = datetime(2026, 1, 12, 9, tzinfo=ZoneInfo("Europe/Kyiv"))
    found = on_duty(KYIV, local)
    assert found.people == ("taras",) and found.at == utc(2026, 1, 12, 7)


# Moscow (UTC+3 all year) 12 h day/night for overrides: day 05:00–17:00 UTC, night after.
DAY_NIGHT = Rotation("12/12", ["olena", "taras"], day_night(), time(8), date(2026, 2, 1))
MOSCOW = Schedule("Moscow", Line.SECOND_LINE, "Europe/Moscow", (DAY_NIGHT,), id="msk")


@pytest.mark.parametrize(
    ("overrides", "at", "people"),
    [
        pytest.param([Override("add", "iryna", utc(2026, 2, 2, 10), utc(2026, 2, 2, 12))],
                     utc(2026, 2, 2, 11), ("olena", "iryna"), id="add during olena's day"),
        pytest.param([Override("add", "iryna", utc(2026, 2, 2, 10), utc(2026, 2, 2, 12))],
                     utc(2026, 2, 2, 12), ("olena",), id="override end is exclusive"),
        pytest.param([Override("remove", "taras", utc(2026, 2, 2, 17), utc(2026, 2, 3, 5))],
                     utc(2026, 2, 2, 20), (), id="removing the night engineer leaves a gap"),
        pytest.param([Override("replace", "iryna", utc(2026, 2, 2, 0), utc(2026, 2, 3, 0),
                               replaces="olena")],
                     utc(2026, 2, 2, 20), ("taras",),
                     id="replacing olena does not touch taras's night"),
        pytest.param([Override("replace", "iryna", utc(2026, 2, 2, 0), utc(2026, 2, 3, 0),
                               replaces="olena")],
                     utc(2026, 2, 2, 6), ("iryna",), id="replacing olena during her day"),
        pytest.param([Override("add", "iryna", utc(2026, 2, 2), utc(2026, 2, 3)),
                      Override("remove", "olena", utc(2026, 2, 2), utc(2026, 2, 3))],
                     utc(2026, 2, 2, 6), ("iryna",), id="overrides apply in list order"),
        pytest.param([Override("remove", "olena", utc(2026, 2, 2), utc(2026, 2, 3)),
                      Override("replace", "iryna", utc(2026, 2, 2), utc(2026, 2, 3),
                               replaces="olena")],
                     utc(2026, 2, 2, 6), (),
                     id="a replace after a remove finds nobody to replace"),
        pytest.param([Override("replace", "oncall-bot", utc(2026, 1, 31), utc(2026, 2, 1, 5))],
                     utc(2026, 1, 31, 12), ("oncall-bot",),
                     id="a take-everything override covers time before the rotation starts"),
    ],
)
def test_overrides_apply_on_top_of_the_layers(overrides, at, people):
    schedule = MOSCOW.with_overrides(*overrides)
    found = on_duty(schedule, at)
    assert found.people == people
    assert found.overrides == tuple(o for o in overrides if o.start <= at < o.end)


def test_final_schedule_splits_exactly_at_override_edges():
    schedule = MOSCOW.with_overrides(
        Override("replace", "iryna", utc(2026, 2, 2, 10), utc(2026, 2, 2, 12), replaces="olena")
    )
    assert final_schedule(schedule, utc(2026, 2, 2, 5), utc(2026, 2, 2, 17)) == [
        Shift(utc(2026, 2, 2, 5), utc(2026, 2, 2, 10), ("olena",)),
        Shift(utc(2026, 2, 2, 10), utc(2026, 2, 2, 12), ("iryna",)),
        Shift(utc(2026, 2, 2, 12), utc(2026, 2, 2, 17), ("olena",)),
    ]


def test_final_schedule_merges_consecutive_shifts_of_the_same_person():
    solo = Schedule("Solo", "shift_lead", "Europe/Moscow",
                    [Rotation("Lead", ["maria"], fixed_length(days=1), time(9), date(2026, 2, 1))])
    assert final_schedule(solo, utc(2026, 2, 2), utc(2026, 2, 9)) == [
        Shift(utc(2026, 2, 2), utc(2026, 2, 9), ("maria",)),
    ]


def test_final_schedule_with_gaps_tiles_the_period_and_marks_the_gap():
    schedule = MOSCOW.with_overrides(
        Override("remove", "taras", utc(2026, 2, 2, 17), utc(2026, 2, 2, 20))
    )
    segments = final_schedule(schedule, utc(2026, 2, 2, 12), utc(2026, 2, 2, 22),
                              include_gaps=True)
    assert segments == [
        Shift(utc(2026, 2, 2, 12), utc(2026, 2, 2, 17), ("olena",)),
        Shift(utc(2026, 2, 2, 17), utc(2026, 2, 2, 20), ()),
        Shift(utc(2026, 2, 2, 20), utc(2026, 2, 2, 22), ("taras",)),
    ]
    assert [s.covered for s in segments] == [True, False, True]
    without_gaps = final_schedule(schedule, utc(2026, 2, 2, 12), utc(2026, 2, 2, 22))
    assert without_gaps == [segments[0], segments[2]]


def test_final_schedule_rejects_an_empty_or_reversed_period():
    with pytest.raises(ValueError, match="must be after its start"):
        final_schedule(MOSCOW, utc(2026, 2, 2), utc(2026, 2, 1))


def test_on_duty_until_is_unknown_when_nothing_changes_within_the_horizon():
    solo = Schedule("Solo", "shift_lead", "Europe/Moscow",
                    [Rotation("Lead", ["maria"], fixed_length(weeks=1), time(9), date(2026, 2, 2))])
    found = on_duty(solo, utc(2026, 3, 1), horizon=timedelta(days=30))
    assert found.people == ("maria",)
    assert found.since == utc(2026, 2, 2, 6)  # the first handoff is within 30 days back
    assert found.until is None


def test_on_duty_in_a_schedule_without_layers_is_a_gap_without_bounds():
    empty = Schedule("New", "second_line", "Europe/Kyiv")
    found = on_duty(empty, utc(2026, 3, 1), horizon=timedelta(days=10))
    assert (found.people, found.covered, found.primary, found.since, found.until) == (
        (), False, None, None, None,
    )


def test_person_shifts_keep_a_duty_whole_when_someone_is_added_for_part_of_it():
    schedule = MOSCOW.with_overrides(
        Override("add", "iryna", utc(2026, 2, 2, 10), utc(2026, 2, 2, 12))
    )
    duties = person_shifts(schedule, utc(2026, 2, 2, 11), utc(2026, 2, 2, 11, 30))
    assert duties == [
        Shift(utc(2026, 2, 2, 5), utc(2026, 2, 2, 17), ("olena",)),
        Shift(utc(2026, 2, 2, 10), utc(2026, 2, 2, 12), ("iryna",)),
    ]


def test_person_shifts_for_one_person_reach_back_to_the_true_start():
    schedule = MOSCOW.with_overrides(
        Override("add", "iryna", utc(2026, 2, 2, 10), utc(2026, 2, 2, 12))
    )
    assert person_shifts(schedule, utc(2026, 2, 2, 13), utc(2026, 2, 2, 14), "olena") == [
        Shift(utc(2026, 2, 2, 5), utc(2026, 2, 2, 17), ("olena",)),
    ]


def test_next_shift_for_skips_the_duty_in_progress():
    assert next_shift_for(MOSCOW, "olena", utc(2026, 2, 2, 9)) == Shift(
        utc(2026, 2, 3, 5), utc(2026, 2, 3, 17), ("olena",)
    )
    assert next_shift_for(MOSCOW, "taras", utc(2026, 2, 2, 9)) == Shift(
        utc(2026, 2, 2, 17), utc(2026, 2, 3, 5), ("taras",)
    )


def test_next_shift_for_someone_not_in_the_schedule_is_none():
    assert next_shift_for(MOSCOW, "stranger", utc(2026, 2, 2), within=timedelta(days=7)) is None


def test_layer_shifts_show_a_restricted_layer_only_inside_its_windows():
    pieces = layer_shifts(KYIV, "Weekend", kyiv_winter(2026, 1, 9), kyiv_winter(2026, 1, 13))
    assert pieces == [
        Shift(kyiv_winter(2026, 1, 10, 0), kyiv_winter(2026, 1, 10, 9), ("iryna",)),
        Shift(kyiv_winter(2026, 1, 10, 9), kyiv_winter(2026, 1, 11, 9), ("andriy",)),
        Shift(kyiv_winter(2026, 1, 11, 9), kyiv_winter(2026, 1, 12, 0), ("iryna",)),
    ]


def test_layer_shifts_name_an_unknown_layer():
    with pytest.raises(ValueError, match="has no layer 'Nights'; layers: '24/7', 'Weekend'"):
        layer_shifts(KYIV, "Nights", utc(2026, 1, 9), utc(2026, 1, 10))


def test_follow_the_sun_layers_hand_over_by_time_of_day():
    day = Rotation("Day desk", ["olena"], fixed_length(days=1), time(8), date(2026, 1, 1),
                   restrictions=(TimeWindow(time(8), time(20)),))
    night = Rotation("Night desk", ["taras"], fixed_length(days=1), time(20), date(2026, 1, 1),
                     restrictions=(TimeWindow(time(20), time(8)),))
    schedule = Schedule("Kyiv", "first_line", "Europe/Kyiv", [day, night])
    assert final_schedule(schedule, kyiv_winter(2026, 1, 5, 6), kyiv_winter(2026, 1, 6, 6)) == [
        Shift(kyiv_winter(2026, 1, 5, 6), kyiv_winter(2026, 1, 5, 8), ("taras",)),
        Shift(kyiv_winter(2026, 1, 5, 8), kyiv_winter(2026, 1, 5, 20), ("olena",)),
        Shift(kyiv_winter(2026, 1, 5, 20), kyiv_winter(2026, 1, 6, 6), ("taras",)),
    ]


def test_a_swap_moves_the_offered_shift_and_the_trade_back():
    offered = (utc(2026, 2, 3, 5), utc(2026, 2, 3, 17))  # olena's day
    back = (utc(2026, 2, 4, 17), utc(2026, 2, 5, 5))  # taras's night
    swap = Swap("olena", "taras", (offered,), given_back=(back,))
    check_swap(MOSCOW, swap)
    swapped = MOSCOW.with_swap(swap)
    assert on_duty(swapped, utc(2026, 2, 3, 12)).people == ("taras",)
    assert on_duty(swapped, utc(2026, 2, 4, 20)).people == ("olena",)
    assert on_duty(swapped, utc(2026, 2, 4, 12)).people == ("olena",)  # untouched day


@pytest.mark.parametrize(
    ("swap", "message"),
    [
        pytest.param(Swap("olena", "taras", ((utc(2026, 2, 3, 17), utc(2026, 2, 4, 5)),)),
                     "'olena' is not on duty 2026-02-03 17:00 UTC – 2026-02-04 05:00 UTC",
                     id="offering someone else's night"),
        pytest.param(Swap("olena", "taras", ((utc(2026, 2, 3, 12), utc(2026, 2, 3, 20)),)),
                     "'olena' is not on duty 2026-02-03 17:00 UTC",
                     id="offered range runs past her shift"),
        pytest.param(Swap("olena", "taras", ((utc(2026, 2, 3, 5), utc(2026, 2, 3, 17)),),
                          given_back=((utc(2026, 2, 4, 5), utc(2026, 2, 4, 17)),)),
                     "'taras' is not on duty 2026-02-04 05:00 UTC",
                     id="giving back a shift that is not the taker's"),
    ],
)
def test_check_swap_refuses_shifts_that_are_not_the_givers(swap, message):
    with pytest.raises(SwapError, match=message):
        check_swap(MOSCOW, swap)


def test_check_swap_refuses_a_taker_who_is_already_on_duty():
    schedule = MOSCOW.with_overrides(
        Override("add", "taras", utc(2026, 2, 3, 5), utc(2026, 2, 3, 17))
    )
    swap = Swap("olena", "taras", ((utc(2026, 2, 3, 5), utc(2026, 2, 3, 17)),))
    with pytest.raises(SwapError, match="'taras' is already on duty"):
        check_swap(schedule, swap)


def test_on_duty_by_line_groups_schedules_for_the_wall():
    grouped = on_duty_by_line([KYIV, MOSCOW], kyiv_winter(2026, 1, 6, 12))
    assert set(grouped) == {Line.FIRST_LINE, Line.SECOND_LINE}
    assert grouped[Line.FIRST_LINE][0].people == ("olena",)
    assert grouped[Line.SECOND_LINE][0].people == ()  # Moscow's rotation starts in February


def test_a_rotation_that_ends_lets_the_next_layer_take_over():
    old = Rotation("Old", ["olena"], fixed_length(weeks=1), time(9), date(2026, 1, 5),
                   ends_at=kyiv_winter(2026, 1, 19, 9))
    new = Rotation("New", ["taras"], fixed_length(weeks=1), time(9), date(2026, 1, 19))
    schedule = Schedule("Kyiv", "first_line", "Europe/Kyiv", [new, old])
    assert final_schedule(schedule, kyiv_winter(2026, 1, 18), kyiv_winter(2026, 1, 20)) == [
        Shift(kyiv_winter(2026, 1, 18), kyiv_winter(2026, 1, 19, 9), ("olena",)),
        Shift(kyiv_winter(2026, 1, 19, 9), kyiv_winter(2026, 1, 20), ("taras",)),
    ]
