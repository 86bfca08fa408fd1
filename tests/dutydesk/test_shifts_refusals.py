"""Shift screens refuse on the same page: a 4xx with the reason shown, in the lead's own zone and
with people by name, the form still filled in — and nothing saved."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database, utcnow
from dutydesk.core.security import Principal
from dutydesk.models import Role
from shifts import service
from shifts.models import ShiftOverrideRow, ShiftRotationRow, ShiftScheduleRow
from shifts.oncall import person_shifts
from shifts.storage import load_schedule

from ..conftest import form_token, login, make_user

LEAD = Principal(kind="user", role=Role.SHIFT_LEAD, label="lead@dc.example")


@pytest.fixture
def kyiv(db: Database) -> dict[str, Any]:
    """Olena and Taras alternate 12-hour shifts in Kyiv, from three days ago."""
    olena = make_user(db, Role.ENGINEER, "olena@dc.example", name="Olena")
    taras = make_user(db, Role.ENGINEER, "taras@dc.example", name="Taras")
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_rotation(s, LEAD, row.id, service.rotation_fields({
            "name": "main", "participants": [olena.id, taras.id], "pattern": "fixed_length",
            "pattern_params": {"hours": 12}, "handoff_time": "08:00",
            "start_date": (utcnow() - timedelta(days=3)).date().isoformat()}), utcnow())
        s.commit()
        return {"id": row.id, "olena": olena, "taras": taras}


@pytest.fixture
def lead_in_new_york(app: Any, db: Database) -> Any:
    make_user(db, Role.SHIFT_LEAD, "lead@dc.example", name="Lead", timezone="America/New_York")
    client = app.test_client()
    login(client, "lead@dc.example")
    return client


def _refusal(html: str) -> str:
    match = re.search(r'id="refusal">([^<]*)<', html)
    assert match, "no refusal shown"
    return match.group(1)


@pytest.mark.parametrize("form, status, message", [
    ({"participants": ""}, 422, "has no participants"),
    ({"hours": "1e20"}, 422, "hours: must be at most"),
    ({"r_weekdays": ""}, 422, "weekdays: expected a weekday"),
    ({"start_date": "04.03.2026"}, 422, "start_date: expected a date YYYY-MM-DD"),
    ({"participants": str(2**64)}, 422, "participants: must be between 1 and"),
    ({"hours": "nan"}, 422, "finite number"),
], ids=["no-participants", "huge-hours", "empty-weekday", "non-iso-date", "huge-id",
        "nan"])
def test_a_refused_layer_comes_back_on_the_editor_with_the_reason_and_saves_nothing(
    lead_in_new_york: Any, db: Database, kyiv: dict, form: dict, status: int, message: str
) -> None:
    lead = lead_in_new_york
    page = f"/shifts/schedules/{kyiv['id']}"
    data = {"csrf_token": form_token(lead, page), "name": "extra", "pattern": "fixed_length",
            "participants": "olena@dc.example", "handoff_time": "09:00", "hours": "12",
            "start_date": "2026-03-02", **form}
    response = lead.post(f"{page}/rotations", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in _refusal(html)
    assert 'value="extra"' in html  # what was typed is still there
    with db.session() as s:
        assert s.scalar(select(func.count(ShiftRotationRow.id))) == 1


def test_an_override_ending_before_it_starts_is_told_in_the_leads_zone(
    lead_in_new_york: Any, db: Database, kyiv: dict
) -> None:
    page = f"/shifts/schedules/{kyiv['id']}"
    response = lead_in_new_york.post(f"{page}/overrides", data={
        "csrf_token": form_token(lead_in_new_york, page), "kind": "replace",
        "person": "taras@dc.example", "start": "2026-03-05T10:00", "end": "2026-03-05T08:00"})
    assert response.status_code == 422
    text = _refusal(response.get_data(as_text=True))
    # 08:00 and 10:00 in Kyiv (EET, UTC+2) are 01:00 and 03:00 in New York (EST, UTC-5)
    assert "2026-03-05 01:00 EST" in text and "2026-03-05 03:00 EST" in text, text
    assert "UTC" not in text
    with db.session() as s:
        assert s.scalar(select(func.count(ShiftOverrideRow.id))) == 0


def test_replacing_someone_with_themselves_names_them(
    lead_in_new_york: Any, kyiv: dict
) -> None:
    page = f"/shifts/schedules/{kyiv['id']}"
    response = lead_in_new_york.post(f"{page}/overrides", data={
        "csrf_token": form_token(lead_in_new_york, page), "kind": "replace",
        "person": "taras@dc.example", "replaces": "taras@dc.example",
        "start": "2026-03-05T08:00", "end": "2026-03-05T10:00"})
    assert response.status_code == 422
    text = _refusal(response.get_data(as_text=True))
    assert "Taras" in text and str(kyiv["taras"].id) not in text


def test_a_schedule_name_already_taken_is_a_conflict_on_the_board(
    lead_in_new_york: Any, db: Database, kyiv: dict
) -> None:
    response = lead_in_new_york.post("/shifts/schedules", data={
        "csrf_token": form_token(lead_in_new_york, "/shifts"), "name": "Kyiv",
        "line": "second_line", "time_zone": "Europe/Kyiv"})
    assert response.status_code == 409
    assert "already exists" in _refusal(response.get_data(as_text=True))
    with db.session() as s:
        assert s.scalar(select(func.count(ShiftScheduleRow.id))) == 1


def test_offering_someone_elses_shift_is_refused_with_names_and_local_times(
    app: Any, db: Database, kyiv: dict
) -> None:
    with db.session() as s:
        schedule = load_schedule(s, kyiv["id"])
    now = utcnow()
    taras_duty = next(d for d in person_shifts(schedule, now, now + timedelta(days=3),
                                               kyiv["taras"].id) if d.start > now)
    olena = app.test_client()
    login(olena, "olena@dc.example")
    response = olena.post("/shifts/swaps", data={
        "csrf_token": form_token(olena, "/shifts/swaps"), "schedule_id": str(kyiv["id"]),
        "start": taras_duty.start.isoformat(), "end": taras_duty.end.isoformat()})
    assert response.status_code == 422
    text = _refusal(response.get_data(as_text=True))
    assert text.startswith("Not saved: Olena is not on duty"), text


@pytest.mark.parametrize("form", [
    {"schedule_id": "1", "start": "tomorrow", "end": "later"},
    {"schedule_id": str(2**63 + 7), "start": "2026-03-05T08:00:00+00:00",
     "end": "2026-03-05T20:00:00+00:00"},
    {"schedule_id": "", "start": "", "end": ""},
], ids=["non-iso-dates", "huge-schedule-id", "empty"])
def test_junk_in_the_swap_form_is_a_4xx_not_a_crash(
    app: Any, db: Database, kyiv: dict, form: dict
) -> None:
    olena = app.test_client()
    login(olena, "olena@dc.example")
    response = olena.post("/shifts/swaps", data={
        "csrf_token": form_token(olena, "/shifts/swaps"), **form})
    assert 400 <= response.status_code < 500
    assert "Not saved" in response.get_data(as_text=True)


def test_a_swap_decided_twice_is_a_conflict(signed_in: Any, db: Database, kyiv: dict) -> None:
    from shifts.models import ShiftSwapRow

    with db.session() as s:
        s.add(ShiftSwapRow(schedule_id=kyiv["id"], offered_by_id=kyiv["olena"].id,
                           status="rejected", shifts=[], created_at=utcnow()))
        s.commit()
        swap_id = s.scalar(select(ShiftSwapRow.id))
    lead = signed_in(Role.SHIFT_LEAD)
    response = lead.post(f"/shifts/swaps/{swap_id}/reject",
                         data={"csrf_token": form_token(lead, "/shifts/swaps")})
    assert response.status_code == 409
    assert "already rejected" in _refusal(response.get_data(as_text=True))


def test_the_overrides_table_names_who_is_replaced(
    lead_in_new_york: Any, db: Database, kyiv: dict
) -> None:
    marko = make_user(db, Role.ENGINEER, "marko@dc.example", name="Marko")  # not on a layer
    start = utcnow() + timedelta(days=1)
    with db.session() as s:
        service.add_override(s, LEAD, kyiv["id"], kind="replace", person_id=kyiv["taras"].id,
                             replaces_id=marko.id, starts_at=start,
                             ends_at=start + timedelta(hours=2), now=utcnow())
        s.commit()
    html = lead_in_new_york.get(f"/shifts/schedules/{kyiv['id']}").get_data(as_text=True)
    table = html.split('id="overrides"')[1].split("</table>")[0]
    assert "<td>Taras</td><td>Marko</td>" in table
