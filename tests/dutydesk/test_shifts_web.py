"""Shifts over HTTP: the API agrees with the pure core, the iCal feed parses back to the computed
schedule, the editor refuses bad input and saves nothing, handoff reports carry real content."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.security import Principal
from dutydesk.incidents import service as incidents
from dutydesk.models import AuditEntry, Role
from shifts import handoff, service
from shifts.jobs import run_shift_clock
from shifts.models import (
    HandoffReportRow,
    ShiftRotationRow,
    ShiftScheduleRow,
    ShiftSwapRow,
)
from shifts.oncall import final_schedule, on_duty, person_shifts
from shifts.storage import load_schedule
from shifts.visitors import service as visitors
from tests.shifts.visitors.builders import POLICY, attempt

from ..conftest import bearer, form_token, make_user

LEAD = Principal(kind="user", role=Role.SHIFT_LEAD, label="lead@dc.example")
HANDOFF = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)  # 08:00 Kyiv


@pytest.fixture
def kyiv(db: Database) -> dict[str, Any]:
    """First line in Kyiv: Olena and Taras alternate 12-hour shifts from 2026-03-02 08:00."""
    olena = make_user(db, Role.ENGINEER, "olena@dc.example", name="Olena")
    taras = make_user(db, Role.ENGINEER, "taras@dc.example", name="Taras")
    with db.session() as s:
        row = service.create_schedule(s, LEAD, name="Kyiv", line="first_line",
                                      time_zone="Europe/Kyiv")
        service.add_rotation(s, LEAD, row.id, service.rotation_fields({
            "name": "main", "participants": [olena.id, taras.id], "pattern": "fixed_length",
            "pattern_params": {"hours": 12}, "handoff_time": "08:00",
            "start_date": "2026-03-02"}), HANDOFF)
        s.commit()
        return {"id": row.id, "olena": olena, "taras": taras}


@pytest.mark.parametrize("hours", [0, 5, 11.99, 12, 13, 30, 200])
def test_oncall_api_names_the_people_the_pure_resolution_names(
    client: Any, api_token: Any, db: Database, kyiv: dict, hours: float
) -> None:
    at = HANDOFF + timedelta(hours=hours)
    body = client.get("/api/v1/oncall", query_string={"at": at.isoformat()},
                      headers=bearer(api_token(Role.VIEWER))).get_json()
    with db.session() as s:
        expected = on_duty(load_schedule(s, kyiv["id"]), at)
    (line,) = body["lines"]
    assert line["line"] == "first_line"
    assert [p["id"] for p in line["people"]] == list(expected.people)
    assert line["since"] == expected.since.isoformat()
    assert line["until"] == expected.until.isoformat()


def test_final_schedule_api_and_schedule_list(client: Any, api_token: Any, db: Database,
                                              kyiv: dict) -> None:
    token = bearer(api_token(Role.VIEWER))
    listed = client.get("/api/v1/schedules", headers=token).get_json()["items"]
    assert [(s["name"], s["line"]) for s in listed] == [("Kyiv", "first_line")]
    end = HANDOFF + timedelta(days=2)
    body = client.get(f"/api/v1/schedules/{kyiv['id']}/final", headers=token,
                      query_string={"start": HANDOFF.isoformat(), "end": end.isoformat()},
                      ).get_json()
    with db.session() as s:
        expected = final_schedule(load_schedule(s, kyiv["id"]), HANDOFF, end, include_gaps=True)
    assert [(x["start"], x["end"], [p["id"] for p in x["people"]]) for x in body["segments"]] == [
        (x.start.isoformat(), x.end.isoformat(), list(x.people)) for x in expected]
    bad = client.get(f"/api/v1/schedules/{kyiv['id']}/final?start=2026-03-04T08:00",
                     headers=token)
    assert bad.status_code == 400 and "offset" in bad.get_json()["error"]


def test_ical_feed_with_a_secret_parses_back_to_the_computed_shifts_and_can_be_revoked(
    app: Any, db: Database, kyiv: dict
) -> None:
    olena = kyiv["olena"]
    with db.session() as s:
        token = service.new_calendar_token(s, LEAD, olena.id, HANDOFF)
        s.commit()
    anonymous = app.test_client()
    response = anonymous.get(f"/shifts/people/{olena.id}.ics?token={token}")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    events = sorted((e.decoded("dtstart"), e.decoded("dtend")) for e in calendar.walk("VEVENT"))
    with db.session() as s:
        schedule = load_schedule(s, kyiv["id"])
    first, last = events[0][0], events[-1][1]
    expected = [(d.start, d.end) for d in person_shifts(schedule, first, last, olena.id)]
    assert events == expected and len(events) > 10
    other = anonymous.get(f"/shifts/people/{kyiv['taras'].id}.ics?token={token}")
    assert other.status_code == 404  # a secret opens its owner's feed only
    schedule_feed = anonymous.get(f"/shifts/schedules/{kyiv['id']}.ics?token={token}")
    names = {str(e["summary"]) for e in icalendar.Calendar.from_ical(schedule_feed.data)
             .walk("VEVENT")}
    assert any("Olena" in n for n in names) and any("Taras" in n for n in names)
    with db.session() as s:
        service.revoke_calendar_tokens(s, LEAD, olena.id, HANDOFF)
        s.commit()
    assert anonymous.get(f"/shifts/people/{olena.id}.ics?token={token}").status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"participants": ""}, "has no participants"),
        ({"hours": "0"}, "shift length must be positive"),
        ({"hours": "-12"}, "shift length must be positive"),
    ],
    ids=["no-participants", "zero-length", "negative-length"],
)
def test_the_editor_refuses_a_bad_rotation_and_stores_nothing(
    signed_in: Any, db: Database, kyiv: dict, form: dict, message: str
) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    page = f"/shifts/schedules/{kyiv['id']}"
    data = {"csrf_token": form_token(lead, page), "name": "extra", "pattern": "fixed_length",
            "participants": "olena@dc.example", "handoff_time": "09:00", "hours": "12",
            "start_date": "2026-03-02", **form}
    response = lead.post(f"{page}/rotations", data=data, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert message in html, re.findall(r'class="flash[^<]*', html)
    with db.session() as s:
        assert s.scalar(select(func.count(ShiftRotationRow.id))) == 1


def test_override_ending_before_it_starts_and_unknown_zone_are_refused(
    signed_in: Any, db: Database, kyiv: dict
) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    page = f"/shifts/schedules/{kyiv['id']}"
    response = lead.post(f"{page}/overrides", follow_redirects=True, data={
        "csrf_token": form_token(lead, page), "kind": "replace", "person": "taras@dc.example",
        "start": "2026-03-05T10:00", "end": "2026-03-05T08:00"})
    assert "before it starts" in response.get_data(as_text=True)
    response = lead.post("/shifts/schedules", follow_redirects=True, data={
        "csrf_token": form_token(lead, "/shifts"), "name": "Mars", "line": "second_line",
        "time_zone": "Mars/Olympus"})
    assert "Mars/Olympus" in response.get_data(as_text=True)
    with db.session() as s:
        schedule = load_schedule(s, kyiv["id"])
        assert schedule.overrides == ()
        assert s.scalar(select(func.count(ShiftScheduleRow.id))) == 1


def test_engineers_read_the_editor_but_cannot_change_it(signed_in: Any, kyiv: dict) -> None:
    engineer = signed_in(Role.ENGINEER)
    page = engineer.get(f"/shifts/schedules/{kyiv['id']}?view=week&date=2026-03-04")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Olena" in html and "Taras" in html
    assert "add-rotation" not in html
    denied = engineer.post(f"/shifts/schedules/{kyiv['id']}/rotations",
                           data={"csrf_token": form_token(engineer, "/shifts")})
    assert denied.status_code == 403


def test_handoff_report_lists_the_incident_and_the_visitor_and_is_accepted_by_the_incoming(
    db: Database, settings: Any, signed_in: Any, kyiv: dict
) -> None:
    with db.session() as s:
        incident_id = incidents.report_manually(
            s, LEAD, title="UPS-A on battery", service="power", severity="critical",
            details="", settings=settings, now=HANDOFF - timedelta(hours=2))
        client = visitors.create_client(s, "test", name="Acme")
        visitors.add_authorised_person(
            s, "test", client_id=client.id, name="Ivan Petrov", id_document_type="passport",
            id_number="AB1234567", scope="Hall A", valid_from=HANDOFF - timedelta(days=5))
        visitors.check_in(s, "test", client_id=client.id, attempt=attempt(),
                          policy=POLICY, now=HANDOFF - timedelta(hours=3))
        service.add_journal_entry(s, LEAD, kind="round", text="Hall A: CRAC-2 filter dirty",
                                  at=HANDOFF - timedelta(hours=4), schedule_id=kyiv["id"])
        s.commit()
        schedule = load_schedule(s, kyiv["id"])
        report = handoff.ensure_report(s, settings, schedule, HANDOFF + timedelta(minutes=1))
        again = handoff.ensure_report(s, settings, schedule, HANDOFF + timedelta(hours=3))
        s.commit()
        assert again.id == report.id
        report_id = report.id
    content = report.content
    assert [i["id"] for i in content["open_incidents"]] == [incident_id]
    assert content["open_incidents"][0]["resolve_remaining_s"] > 0
    assert [i["title"] for i in content["opened"]] == ["UPS-A on battery"]
    assert [(v["person"], v["badge"]) for v in content["visitors"]] == [("Ivan Petrov", "B017")]
    assert (content["outgoing"], content["incoming"]) == (["Taras"], ["Olena"])
    assert [e["text"] for e in content["journal"]] == ["Hall A: CRAC-2 filter dirty"]

    olena = signed_in_as(signed_in, db, "olena@dc.example")
    page = f"/shifts/handoffs/{report_id}"
    html = olena.get(page).get_data(as_text=True)
    assert "UPS-A on battery" in html and "B017" in html
    # Times stored in the report's JSON are shown in the viewer's zone, not as raw ISO text.
    journal = html.split('id="journal"', 1)[1].split("</ul>", 1)[0]
    assert "CRAC-2" in journal and "T02:00" not in journal and "+00:00" not in journal
    assert localtime_in_page(olena, HANDOFF - timedelta(hours=4)) in journal
    olena.post(f"{page}/accept", data={"csrf_token": form_token(olena, page)})
    with db.session() as s:
        row = s.get(HandoffReportRow, report_id)
        assert row.accepted_by_id == kyiv["olena"].id
        assert s.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "shifts.handoff.accept")) == 1


def localtime_in_page(client: Any, at: datetime) -> str:
    """How the page shows ``at``: "yyyy-MM-dd HH:mm" in the zone the app picks for this viewer."""
    with client.application.test_request_context():
        from dutydesk.i18n import user_zone

        return at.astimezone(user_zone()).strftime("%Y-%m-%d %H:%M")


def signed_in_as(signed_in: Any, db: Database, email: str) -> Any:
    from ..conftest import login

    client = signed_in(Role.VIEWER).application.test_client()
    assert login(client, email).status_code == 302
    return client


def test_shift_clock_sends_each_reminder_and_gap_warning_once(
    db: Database, settings: Any, kyiv: dict
) -> None:
    make_user(db, Role.SHIFT_LEAD, "lead@dc.example")
    now = HANDOFF + timedelta(hours=10, minutes=30)  # Taras starts in 1.5 h
    with db.session() as s:
        service.add_override(s, LEAD, kyiv["id"], kind="remove", person_id=kyiv["olena"].id,
                             starts_at=HANDOFF + timedelta(days=2),
                             ends_at=HANDOFF + timedelta(days=2, hours=4), now=HANDOFF)
        s.commit()
        first = run_shift_clock(s, settings, now)
        s.commit()
        second = run_shift_clock(s, settings, now + timedelta(minutes=1))
        s.commit()
        subjects = list(s.scalars(select(OutboxMessage.subject)))
    assert first["reminders"] == 1 and first["gaps"] == 1
    assert second["reminders"] == 0 and second["gaps"] == 0
    assert any(subject.startswith("Your shift starts in 2 h") for subject in subjects)
    assert sum(subject.startswith("Duty gap") for subject in subjects) == 1


def test_journal_entries_are_found_by_search(signed_in: Any, kyiv: dict) -> None:
    engineer = signed_in(Role.ENGINEER)
    for text in ("Round of hall B: all fine", "Call from Acme about rack 12"):
        engineer.post("/shifts/journal", data={
            "csrf_token": form_token(engineer, "/shifts/journal"), "kind": "round",
            "schedule_id": str(kyiv["id"]), "text": text})
    html = engineer.get("/shifts/journal?q=acme").get_data(as_text=True)
    assert "rack 12" in html and "hall B" not in html


def test_home_page_warns_about_a_gap(signed_in: Any, db: Database) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    with db.session() as s:
        service.create_schedule(s, LEAD, name="Empty", line="second_line", time_zone="UTC")
        s.commit()
    html = lead.get("/").get_data(as_text=True)
    assert 'id="shift-gaps"' in html


def test_a_swap_offered_taken_and_approved_on_screen_changes_who_is_on_duty(
    signed_in: Any, db: Database, kyiv: dict, api_token: Any
) -> None:
    olena = signed_in_as(signed_in, db, "olena@dc.example")
    taras = signed_in_as(signed_in, db, "taras@dc.example")
    lead = signed_in(Role.SHIFT_LEAD)
    with db.session() as s:
        schedule = load_schedule(s, kyiv["id"])
    from dutydesk.core.db import utcnow

    duty = next(d for d in person_shifts(schedule, utcnow(), utcnow() + timedelta(days=3),
                                         kyiv["olena"].id) if d.start > utcnow())
    olena.post("/shifts/swaps", data={
        "csrf_token": form_token(olena, "/shifts/swaps"), "schedule_id": str(kyiv["id"]),
        "start": duty.start.isoformat(), "end": duty.end.isoformat(), "note": "exam"})
    with db.session() as s:
        (swap_id,) = s.scalars(select(ShiftSwapRow.id))
    refused = olena.post(f"/shifts/swaps/{swap_id}/take", follow_redirects=True,
                         data={"csrf_token": form_token(olena, "/shifts/swaps")})
    assert "two different people" in refused.get_data(as_text=True)  # a swap with oneself
    taras.post(f"/shifts/swaps/{swap_id}/take",
               data={"csrf_token": form_token(taras, "/shifts/swaps")})
    assert taras.post(f"/shifts/swaps/{swap_id}/approve", data={
        "csrf_token": form_token(taras, "/shifts/swaps")}).status_code == 403
    lead.post(f"/shifts/swaps/{swap_id}/approve",
              data={"csrf_token": form_token(lead, "/shifts/swaps")})
    middle = duty.start + (duty.end - duty.start) / 2
    body = lead.get("/api/v1/oncall", query_string={"at": middle.isoformat()}).get_json()
    assert [p["name"] for p in body["lines"][0]["people"]] == ["Taras"]
    with db.session() as s:
        assert s.get(ShiftSwapRow, swap_id).status == "approved"


def test_the_shift_clock_writes_the_handoff_report_and_tells_the_incoming_engineer(
    db: Database, settings: Any, kyiv: dict
) -> None:
    now = HANDOFF + timedelta(minutes=5)
    with db.session() as s:
        run_shift_clock(s, settings, now)
        run_shift_clock(s, settings, now + timedelta(minutes=1))
        s.commit()
        reports = list(s.scalars(select(HandoffReportRow)))
        on_duty_mail = list(s.scalars(select(OutboxMessage.target).where(
            OutboxMessage.subject.startswith("You are now on duty"))))
    assert [(r.shift_start, r.incoming_user_id) for r in reports] == [
        (HANDOFF, kyiv["olena"].id)]
    assert on_duty_mail == ["olena@dc.example"]
