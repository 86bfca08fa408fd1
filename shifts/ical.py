"""iCalendar (RFC 5545) feeds of on-call duty, per schedule and per person.

One ``VEVENT`` per continuous duty of one person in one schedule (``shifts.oncall.person_shifts``:
consecutive shifts of the same person are one event). Subscribed calendars re-fetch the whole
feed, so events must keep their identity across exports:

* ``UID`` = schedule id + person + the duty's start in UTC (``shift_uid``). A re-export of an
  unchanged duty has the same UID (the calendar updates it in place); a duty whose start moved
  (an override took its first hours) is a new event and the old one disappears with the feed.
* ``DTSTART``/``DTEND`` are UTC by default (``…Z``, understood by every client). With
  ``local_times=True`` they carry ``TZID=<schedule zone>`` and the feed includes the
  ``VTIMEZONE`` definitions; an instant in the repeated hour after clocks go back cannot be
  written unambiguously in local time (RFC 5545 reads it as the first occurrence), so such an
  instant stays in UTC.
* ``SUMMARY`` "On call: First line (Kyiv)" (a schedule feed adds " — <name>");
  ``DTSTAMP`` is the ``now`` passed in (pure: no clock is read here).
* A ``VALARM`` reminds ``reminder`` before the start (``None`` for no reminder).
* ``X-WR-CALNAME`` names the calendar; ``REFRESH-INTERVAL`` (RFC 7986) and ``X-PUBLISHED-TTL``
  (Outlook, Google) ask clients to re-fetch every ``refresh``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from icalendar import Alarm, Calendar, Event, vDuration

from shifts.errors import ScheduleError, ShiftConfigError
from shifts.localtime import require_utc
from shifts.oncall import Shift, person_shifts
from shifts.rotation import PersonId
from shifts.schedule import Schedule

__all__ = ["PRODID", "person_calendar", "schedule_calendar", "shift_uid"]

PRODID = "-//DutyDesk//On-call schedules//EN"
UID_DOMAIN = "dutydesk"


def shift_uid(schedule: Schedule, person: PersonId, start: datetime) -> str:
    """Stable event UID from the schedule's id, the person and the duty's start (UTC)."""
    if schedule.id is None:
        raise ScheduleError(
            f"schedule {schedule.name!r} needs an id for stable calendar UIDs, got None"
        )
    start = require_utc(start, "shift start")
    return (
        f"{quote(str(schedule.id), safe='')}-{quote(str(person), safe='')}-"
        f"{start:%Y%m%dT%H%M%SZ}@{UID_DOMAIN}"
    )


def schedule_calendar(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    names: Mapping[PersonId, str] | None = None,
    reminder: timedelta | None = timedelta(hours=1),
    refresh: timedelta = timedelta(hours=1),
    local_times: bool = False,
) -> bytes:
    """The feed of everyone's duties in ``schedule`` overlapping [start, end) (UTC).

    ``names`` maps person ids to display names (the id is shown otherwise).
    """
    names = names or {}
    calendar = _calendar(f"On call: {schedule.title}", schedule.time_zone, refresh)
    duties = person_shifts(schedule, start, end)
    for duty in duties:
        person = duty.people[0]
        title = f"On call: {schedule.title} — {names.get(person, str(person))}"
        calendar.add_component(
            _event(schedule, person, duty, title, now, reminder, local_times, names)
        )
    return _finish(calendar, duties, local_times)


def person_calendar(
    person: PersonId,
    schedules: Iterable[Schedule],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    names: Mapping[PersonId, str] | None = None,
    reminder: timedelta | None = timedelta(hours=1),
    refresh: timedelta = timedelta(hours=1),
    local_times: bool = False,
) -> bytes:
    """The feed of one person's duties in all ``schedules`` overlapping [start, end) (UTC)."""
    names = names or {}
    schedules = list(schedules)
    zone = schedules[0].time_zone if schedules else "UTC"
    calendar = _calendar(f"On call: {names.get(person, str(person))}", zone, refresh)
    duties = [
        (duty, schedule)
        for schedule in schedules
        for duty in person_shifts(schedule, start, end, person)
    ]
    duties.sort(key=lambda item: (item[0].start, item[1].name))
    for duty, schedule in duties:
        title = f"On call: {schedule.title}"
        calendar.add_component(
            _event(schedule, person, duty, title, now, reminder, local_times, names)
        )
    return _finish(calendar, [duty for duty, _ in duties], local_times)


def _calendar(name: str, zone: str, refresh: timedelta) -> Calendar:
    if refresh <= timedelta(0):
        raise ShiftConfigError(f"calendar refresh interval must be positive, got {refresh}")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone)
    calendar.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    return calendar


def _event(
    schedule: Schedule,
    person: PersonId,
    duty: Shift,
    title: str,
    now: datetime,
    reminder: timedelta | None,
    local_times: bool,
    names: Mapping[PersonId, str],
) -> Event:
    event = Event()
    event.add("uid", shift_uid(schedule, person, duty.start))
    event.add("dtstamp", require_utc(now, "now"))
    event.add("dtstart", _when(duty.start, schedule, local_times))
    event.add("dtend", _when(duty.end, schedule, local_times))
    event.add("summary", title)
    shown = names.get(person, str(person))
    local_start = duty.start.astimezone(schedule.zone)
    local_end = duty.end.astimezone(schedule.zone)
    event.add(
        "description",
        f"{shown} is on duty for {schedule.title} from {local_start:%Y-%m-%d %H:%M} to "
        f"{local_end:%Y-%m-%d %H:%M} ({schedule.time_zone} time).",
    )
    event.add("categories", ["On call"])
    if reminder is not None:
        if reminder < timedelta(0):
            raise ShiftConfigError(
                f"reminder must be zero or more before the start, got {reminder}"
            )
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{title} starts in {_humane(reminder)}")
        alarm.add("trigger", -reminder)
        event.add_component(alarm)
    return event


def _when(moment: datetime, schedule: Schedule, local_times: bool) -> datetime:
    if not local_times:
        return moment.astimezone(UTC)
    local = moment.astimezone(schedule.zone)
    if local.fold:
        # Second pass of a repeated hour: TZID form would be read as the first pass.
        return moment.astimezone(UTC)
    return local


def _finish(calendar: Calendar, duties: list[Shift], local_times: bool) -> bytes:
    if local_times and duties:
        # Keep VTIMEZONE short: transitions a year either side of the events are plenty.
        first = min(duty.start for duty in duties).date() - timedelta(days=366)
        last = max(duty.end for duty in duties).date() + timedelta(days=366)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


def _humane(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
