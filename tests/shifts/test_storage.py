"""Storage of schedules: rows round-trip to the pure core, bad input stores nothing, the wall and
incident routing see who is on duty."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database
from dutydesk.core.security import Principal
from dutydesk.incidents.recipients import resolve_people
from dutydesk.models import AuditEntry, Role
from shifts import service
from shifts.errors import ShiftConfigError
from shifts.models import ShiftOverrideRow, ShiftRotationRow, ShiftScheduleRow
from shifts.oncall import final_schedule, on_duty
from shifts.patterns import day_night, fixed_length
from shifts.rotation import Rotation, TimeWindow
from shifts.schedule import Line, Override, OverrideKind, Schedule
from shifts.storage import load_schedule, load_schedules, on_duty_now
from tests.conftest import make_user

LEAD = Principal(kind="user", role=Role.SHIFT_LEAD, label="lead@dc.example")
MONDAY = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 08:00 in Kyiv


def people(db: Database, *names: str) -> list[int]:
    return [make_user(db, Role.ENGINEER, f"{n}@dc.example", name=n.title()).id for n in names]


def rotation_form(ids: list[int], **extra: object) -> dict:
    form = {"name": "main", "participants": ids, "pattern": "day_night",
            "pattern_params": {"day_hours": 12}, "handoff_time": "08:00",
            "start_date": "2026-03-02"}
    form.update(extra)
    return service.rotation_fields(form)


def test_a_stored_schedule_comes_back_equal_to_the_pure_one(db: Database) -> None:
    olena, taras, ivan = people(db, "olena", "taras", "ivan")
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_rotation(s, LEAD, row.id, rotation_form([olena, taras]), MONDAY)
        weekend = rotation_form([ivan], name="weekend", pattern="fixed_length",
                                pattern_params={"days": 1},
                                restrictions=[{"weekdays": [5, 6], "start": "00:00",
                                               "end": "00:00"}])
        service.add_rotation(s, LEAD, row.id, weekend, MONDAY)
        service.add_override(s, LEAD, row.id, kind="replace", person_id=ivan,
                             starts_at=MONDAY, ends_at=MONDAY + timedelta(hours=3),
                             replaces_id=olena, note="dentist", now=MONDAY)
        s.commit()
        schedule_id = row.id
    expected = Schedule(
        "Kyiv", Line.FIRST_LINE, "Europe/Kyiv",
        layers=(
            Rotation("main", (olena, taras), day_night(12), time(8), date(2026, 3, 2)),
            Rotation("weekend", (ivan,), fixed_length(days=1), time(8), date(2026, 3, 2),
                     (TimeWindow.whole_days([5, 6]),)),
        ),
        overrides=(Override(OverrideKind.REPLACE, ivan, MONDAY, MONDAY + timedelta(hours=3),
                            olena, "dentist"),),
        id=schedule_id,
    )
    with db.session() as s:
        stored = load_schedule(s, schedule_id)
    assert stored == expected
    week = (MONDAY, MONDAY + timedelta(days=7))
    assert final_schedule(stored, *week) == final_schedule(expected, *week)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"participants": []}, "has no participants"),  # no participants
        ({"pattern": "fixed_length", "pattern_params": {"hours": 0}}, "must be positive"),
        ({"pattern": "fixed_length", "pattern_params": {"hours": -8}}, "must be positive"),
        ({"handoff_time": "25:00"}, "handoff time"),
        ({"pattern": "three_on_one_off"}, "unknown shift pattern"),
    ],
    ids=["no-participants", "zero-length", "negative-length", "bad-handoff", "unknown-pattern"],
)
def test_a_bad_rotation_is_refused_with_the_cores_message_and_nothing_is_saved(
    db: Database, form: dict, message: str
) -> None:
    (olena,) = people(db, "olena")
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        s.commit()
        audits = s.scalar(select(func.count(AuditEntry.id)))
        with pytest.raises(ShiftConfigError, match=message):
            service.add_rotation(s, LEAD, row.id, rotation_form([olena], **form), MONDAY)
        s.commit()
        assert s.scalar(select(func.count(ShiftRotationRow.id))) == 0
        assert s.scalar(select(func.count(AuditEntry.id))) == audits


def test_unknown_zone_override_backwards_and_swap_with_oneself_store_nothing(db: Database) -> None:
    olena, taras = people(db, "olena", "taras")
    with db.session() as s:
        with pytest.raises(ShiftConfigError, match="Europe/Kiev2"):
            service.create_schedule(s, LEAD, name="X", line="first_line",
                                    time_zone="Europe/Kiev2")
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_rotation(s, LEAD, row.id, rotation_form([olena, taras]), MONDAY)
        s.commit()
        with pytest.raises(ShiftConfigError, match="before it starts"):
            service.add_override(s, LEAD, row.id, kind="add", person_id=taras,
                                 starts_at=MONDAY, ends_at=MONDAY - timedelta(hours=1),
                                 now=MONDAY)
        swap = service.offer_swap(s, LEAD, row.id, olena, [(MONDAY, MONDAY + timedelta(hours=12))],
                                  "", MONDAY)
        s.commit()
        with pytest.raises(ShiftConfigError, match="two different people"):
            service.take_swap(s, LEAD, swap.id, olena, MONDAY)
        s.rollback()
        assert s.scalar(select(func.count(ShiftScheduleRow.id))) == 1
        assert s.scalar(select(func.count(ShiftOverrideRow.id))) == 0
        assert s.get(type(swap), swap.id).status == "offered"


def test_an_approved_swap_puts_the_taker_on_duty(db: Database) -> None:
    olena, taras = people(db, "olena", "taras")
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_rotation(s, LEAD, row.id, rotation_form([olena, taras]), MONDAY)
        day = (MONDAY, MONDAY + timedelta(hours=12))
        swap = service.offer_swap(s, LEAD, row.id, olena, [day], "wedding", MONDAY)
        service.take_swap(s, LEAD, swap.id, taras, MONDAY)
        assert on_duty(load_schedule(s, row.id), MONDAY + timedelta(hours=1)).people == (olena,)
        service.decide_swap(s, LEAD, swap.id, True, MONDAY)
        s.commit()
        assert on_duty(load_schedule(s, row.id), MONDAY + timedelta(hours=1)).people == (taras,)
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"shifts.swap.offer", "shifts.swap.take", "shifts.swap.approve"} <= actions


def test_wall_and_routing_see_the_engineer_on_duty(db: Database, settings) -> None:
    olena, taras = people(db, "olena", "taras")
    with db.session() as s:
        assert on_duty_now(s, MONDAY) == []
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_rotation(s, LEAD, row.id, rotation_form([olena, taras]), MONDAY)
        s.commit()
        night = MONDAY + timedelta(hours=13)  # 21:00 Kyiv: the night shift, Taras
        (duty,) = on_duty_now(s, night)
        assert (duty.line, duty.people) == (Line.FIRST_LINE, ("Taras",))
        assert duty.until == MONDAY + timedelta(hours=24)
        assert resolve_people(s, settings, "first_line", night) == ("taras@dc.example",)
        # A line without a schedule still falls back (here: every active engineer).
        assert "olena@dc.example" in resolve_people(s, settings, "second_line", night)
        assert len(load_schedules(s, line="first_line")) == 1


def test_self_service_schedules_apply_a_taken_swap_without_the_shift_lead(db: Database) -> None:
    olena, taras = people(db, "olena", "taras")
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv", self_service=True)
        service.add_rotation(s, LEAD, row.id, rotation_form([olena, taras]), MONDAY)
        day = (MONDAY, MONDAY + timedelta(hours=12))
        swap = service.offer_swap(s, LEAD, row.id, olena, [day], "", MONDAY)
        service.take_swap(s, LEAD, swap.id, taras, MONDAY)
        s.commit()
        assert swap.status == "approved"
        assert on_duty(load_schedule(s, row.id), MONDAY + timedelta(hours=1)).people == (taras,)


def test_offering_a_shift_that_is_not_yours_is_refused(db: Database) -> None:
    olena, taras = people(db, "olena", "taras")
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_rotation(s, LEAD, row.id, rotation_form([olena, taras]), MONDAY)
        night = (MONDAY + timedelta(hours=12), MONDAY + timedelta(hours=24))  # Taras's
        with pytest.raises(ShiftConfigError, match="is not on duty"):
            service.offer_swap(s, LEAD, row.id, olena, [night], "", MONDAY)
