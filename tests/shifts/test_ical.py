"""iCalendar feeds, parsed back with the icalendar library and compared to the schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar

from shifts.errors import ScheduleError
from shifts.ical import person_calendar, schedule_calendar, shift_uid
from shifts.oncall import final_schedule
from shifts.patterns import day_night, fixed_length
from shifts.rotation import Rotation
from shifts.schedule import Override, Schedule

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
NAMES = {"olena": "Olena Koval", "taras": "Taras Bondar"}


def utc(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def kyiv_first_line(**changes):
    rotation = Rotation("12/12", ["olena", "taras"], day_night(), time(8), date(2026, 3, 1))
    fields = {"name": "Kyiv", "line": "first_line", "time_zone": "Europe/Kyiv",
              "layers": [rotation], "id": 42}
    fields.update(changes)
    return Schedule(**fields)


def events_of(feed: bytes):
    calendar = Calendar.from_ical(feed)
    return calendar, [component for component in calendar.walk("VEVENT")]


def as_utc(event, name):
    return event.decoded(name).astimezone(UTC)


def test_schedule_feed_parses_back_to_exactly_the_final_schedule_across_the_dst_change():
    schedule = kyiv_first_line()
    start, end = utc(2026, 3, 27, 6), utc(2026, 3, 31, 5)  # each end is a handoff
    _, events = events_of(schedule_calendar(schedule, start, end, now=NOW, names=NAMES))
    parsed = [(as_utc(e, "DTSTART"), as_utc(e, "DTEND"), str(e["SUMMARY"])) for e in events]
    expected = [
        (shift.start, shift.end,
         f"On call: First line (Kyiv) — {NAMES[shift.people[0]]}")
        for shift in final_schedule(schedule, start, end)
    ]
    assert sorted(parsed) == expected
    # The 11-hour night of the spring change is in the feed as such.
    assert (utc(2026, 3, 28, 18), utc(2026, 3, 29, 5),
            "On call: First line (Kyiv) — Taras Bondar") in parsed


def test_person_feed_has_only_that_persons_duties_with_the_plain_summary():
    schedule = kyiv_first_line()
    start, end = utc(2026, 3, 27, 6), utc(2026, 3, 31, 5)
    calendar, events = events_of(
        person_calendar("olena", [schedule], start, end, now=NOW, names=NAMES)
    )
    expected = [(s.start, s.end) for s in final_schedule(schedule, start, end)
                if s.people == ("olena",)]
    assert [(as_utc(e, "DTSTART"), as_utc(e, "DTEND")) for e in events] == expected
    assert {str(e["SUMMARY"]) for e in events} == {"On call: First line (Kyiv)"}
    assert str(calendar["X-WR-CALNAME"]) == "On call: Olena Koval"


def test_a_duty_running_over_the_window_edges_keeps_its_true_start_and_end():
    schedule = kyiv_first_line()
    # The window starts and ends in the middle of shifts; events must not be cut, or their
    # UIDs would change every time the subscription window slides.
    _, events = events_of(schedule_calendar(schedule, utc(2026, 3, 27, 12),
                                            utc(2026, 3, 27, 20), now=NOW))
    assert [(as_utc(e, "DTSTART"), as_utc(e, "DTEND")) for e in events] == [
        (utc(2026, 3, 27, 6), utc(2026, 3, 27, 18)),
        (utc(2026, 3, 27, 18), utc(2026, 3, 28, 6)),
    ]


def test_re_exporting_later_keeps_the_uids_of_the_same_shifts_and_never_duplicates():
    schedule = kyiv_first_line()
    _, first = events_of(schedule_calendar(schedule, utc(2026, 3, 20), utc(2026, 3, 27),
                                           now=NOW))
    _, second = events_of(schedule_calendar(schedule, utc(2026, 3, 23), utc(2026, 3, 30),
                                            now=NOW + timedelta(days=3)))
    first_uids = {str(e["UID"]): as_utc(e, "DTSTART") for e in first}
    second_uids = {str(e["UID"]): as_utc(e, "DTSTART") for e in second}
    assert len(first_uids) == len(first) and len(second_uids) == len(second)
    shared = {uid: when for uid, when in second_uids.items() if uid in first_uids}
    assert shared == {uid: when for uid, when in first_uids.items()
                      if utc(2026, 3, 22, 18) <= when < utc(2026, 3, 27)}
    assert "42-olena-20260323T060000Z@dutydesk" in shared


def test_an_override_changes_the_event_in_the_next_export():
    schedule = kyiv_first_line()
    changed = schedule.with_overrides(
        Override("replace", "iryna", utc(2026, 3, 25, 6), utc(2026, 3, 25, 18),
                 replaces="olena")
    )
    _, events = events_of(schedule_calendar(changed, utc(2026, 3, 25, 6), utc(2026, 3, 25, 18),
                                            now=NOW))
    assert [str(e["UID"]) for e in events] == ["42-iryna-20260325T060000Z@dutydesk"]


def test_calendar_properties_for_subscribing_clients():
    calendar, events = events_of(
        schedule_calendar(kyiv_first_line(), utc(2026, 3, 27), utc(2026, 3, 28), now=NOW,
                          refresh=timedelta(minutes=30))
    )
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//DutyDesk//On-call schedules//EN"
    assert str(calendar["X-WR-CALNAME"]) == "On call: First line (Kyiv)"
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(minutes=30)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT30M" in calendar.to_ical().decode()
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT30M"
    for event in events:
        assert event.decoded("DTSTAMP") == NOW
        (alarm,) = event.walk("VALARM")
        assert str(alarm["ACTION"]) == "DISPLAY"
        assert alarm.decoded("TRIGGER") == -timedelta(hours=1)


def test_no_reminder_means_no_alarm():
    _, events = events_of(schedule_calendar(kyiv_first_line(), utc(2026, 3, 27),
                                            utc(2026, 3, 28), now=NOW, reminder=None))
    assert events and all(not event.walk("VALARM") for event in events)


def test_local_times_carry_the_zone_with_a_vtimezone_and_mean_the_same_instants():
    schedule = kyiv_first_line()
    start, end = utc(2026, 10, 23, 5), utc(2026, 10, 26, 6)
    utc_feed = schedule_calendar(schedule, start, end, now=NOW)
    local_feed = schedule_calendar(schedule, start, end, now=NOW, local_times=True)
    calendar, local_events = events_of(local_feed)
    _, utc_events = events_of(utc_feed)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Kyiv"]
    assert "DTSTART;TZID=Europe/Kyiv:20261024T200000" in local_feed.decode()
    assert [(as_utc(e, "DTSTART"), as_utc(e, "DTEND")) for e in local_events] == [
        (as_utc(e, "DTSTART"), as_utc(e, "DTEND")) for e in utc_events
    ]
    # The 13-hour night of the autumn change survives the round trip through local time.
    assert (utc(2026, 10, 24, 17), utc(2026, 10, 25, 6)) in [
        (as_utc(e, "DTSTART"), as_utc(e, "DTEND")) for e in local_events
    ]


def test_an_instant_in_the_repeated_hour_stays_in_utc_in_a_local_time_feed():
    schedule = kyiv_first_line().with_overrides(
        # 01:30 UTC on 25 October is 03:30 EET, the *second* 03:30 of that night.
        Override("add", "iryna", utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 4))
    )
    feed = person_calendar("iryna", [schedule], utc(2026, 10, 25), utc(2026, 10, 26), now=NOW,
                           local_times=True)
    _, (event,) = events_of(feed)
    assert as_utc(event, "DTSTART") == utc(2026, 10, 25, 1, 30)
    assert "DTSTART:20261025T013000Z" in feed.decode()


def test_person_feed_spans_several_schedules_with_their_own_summaries():
    first_line = kyiv_first_line()
    lead = Schedule("Kyiv", "shift_lead", "Europe/Kyiv",
                    [Rotation("Lead", ["olena", "maria"], fixed_length(weeks=1), time(9),
                              date(2026, 3, 2))], id=43)
    _, events = events_of(person_calendar("olena", [first_line, lead], utc(2026, 3, 2, 7),
                                          utc(2026, 3, 3), now=NOW))
    summaries = [(as_utc(e, "DTSTART"), str(e["SUMMARY"])) for e in events]
    assert summaries == [
        (utc(2026, 3, 2, 6), "On call: First line (Kyiv)"),
        (utc(2026, 3, 2, 7), "On call: Shift lead (Kyiv)"),
    ]
    assert len({str(e["UID"]) for e in events}) == 2


def test_uids_escape_odd_person_ids_and_require_a_schedule_id():
    schedule = kyiv_first_line()
    assert shift_uid(schedule, "o.k@x y", utc(2026, 3, 1, 6)) == (
        "42-o.k%40x%20y-20260301T060000Z@dutydesk"
    )
    with pytest.raises(ScheduleError, match="schedule 'Kyiv' needs an id"):
        shift_uid(kyiv_first_line(id=None), "olena", utc(2026, 3, 1, 6))
