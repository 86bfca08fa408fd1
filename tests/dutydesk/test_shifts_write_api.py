"""The shifts write API: a shift lead builds a schedule end to end over JSON, with the screens'
validation and roles; junk gets a 4xx that matches the OpenAPI document, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from dutydesk.core.db import Database, utcnow
from dutydesk.models import AuditEntry, Role
from shifts.models import ShiftOverrideRow, ShiftScheduleRow
from shifts.oncall import on_duty, person_shifts
from shifts.storage import load_schedule

from ..conftest import bearer, make_user


def _schema(app: Any, path: str, method: str, status: str) -> dict[str, Any]:
    from dutydesk.openapi import build_document

    doc = build_document(app)
    schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"][
        "schema"]
    return {**schema, "components": doc["components"]} if "$ref" in schema else schema


def _conforms(app: Any, path: str, method: str, response: Any) -> None:
    """The answer is one the OpenAPI document promises for this operation and status."""
    schema = _schema(app, path, method, str(response.status_code))
    if "$ref" in schema:
        schema = schema["components"]["schemas"]["Error"]
    errors = list(Draft202012Validator(schema).iter_errors(response.get_json()))
    assert not errors, errors


@pytest.fixture
def people(db: Database) -> dict[str, Any]:
    return {"olena": make_user(db, Role.ENGINEER, "olena@dc.example", name="Olena"),
            "taras": make_user(db, Role.ENGINEER, "taras@dc.example", name="Taras")}


def test_a_lead_creates_reads_changes_and_deletes_a_schedule_with_its_layer_and_override(
    app: Any, client: Any, api_token: Any, db: Database, people: dict
) -> None:
    lead = bearer(api_token(Role.SHIFT_LEAD))
    created = client.post("/api/v1/schedules", headers=lead, json={
        "name": "Kyiv", "line": "first_line", "time_zone": "Europe/Kyiv"})
    assert created.status_code == 201
    _conforms(app, "/api/v1/schedules", "post", created)
    sid = created.get_json()["id"]
    layer = client.post(f"/api/v1/schedules/{sid}/rotations", headers=lead, json={
        "name": "main", "participants": [people["olena"].id, people["taras"].id],
        "pattern": "fixed_length", "pattern_params": {"hours": 12}, "handoff_time": "08:00",
        "start_date": "2026-03-02"})
    assert layer.status_code == 201, layer.get_json()
    rid = layer.get_json()["id"]
    _conforms(app, "/api/v1/schedules/{schedule_id}/rotations", "post", layer)
    at = datetime(2026, 3, 4, 7, tzinfo=UTC)  # 09:00 Kyiv: Olena's day shift
    override = client.post(f"/api/v1/schedules/{sid}/overrides", headers=lead, json={
        "kind": "replace", "person_id": people["taras"].id, "replaces_id": people["olena"].id,
        "starts_at": at.isoformat(), "ends_at": (at + timedelta(hours=2)).isoformat()})
    assert override.status_code == 201, override.get_json()
    with db.session() as s:
        assert on_duty(load_schedule(s, sid), at).people == (people["taras"].id,)
    renamed = client.patch(f"/api/v1/schedules/{sid}", headers=lead, json={"name": "Kyiv L1"})
    assert renamed.get_json()["name"] == "Kyiv L1"
    moved = client.put(f"/api/v1/schedules/{sid}/rotations/{rid}", headers=lead, json={
        "name": "main", "participants": [people["taras"].id, people["olena"].id],
        "pattern": "fixed_length", "pattern_params": {"hours": 12}, "handoff_time": "08:00",
        "start_date": "2026-03-02"})
    assert moved.status_code == 200
    read = client.get(f"/api/v1/schedules/{sid}", headers=lead)
    _conforms(app, "/api/v1/schedules/{schedule_id}", "get", read)
    assert read.get_json()["rotations"][0]["participants"] == [people["taras"].id,
                                                               people["olena"].id]
    oid = override.get_json()["id"]
    assert client.delete(f"/api/v1/schedules/{sid}/overrides/{oid}",
                         headers=lead).status_code == 204
    assert client.delete(f"/api/v1/schedules/{sid}/rotations/{rid}",
                         headers=lead).status_code == 204
    assert client.delete(f"/api/v1/schedules/{sid}", headers=lead).status_code == 204
    assert client.get(f"/api/v1/schedules/{sid}", headers=lead).status_code == 404
    with db.session() as s:
        assert s.scalar(select(func.count(ShiftScheduleRow.id))) == 0
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"shifts.schedule.create", "shifts.rotation.update", "shifts.schedule.delete"} <= actions


@pytest.mark.parametrize("body, status, message", [
    ({"name": "Kyiv", "line": "first_line", "time_zone": "Mars/Olympus"}, 422, "Mars/Olympus"),
    ({"name": "Kyiv", "line": "tenth_line", "time_zone": "UTC"}, 400, "tenth_line"),
    ({"name": "Kyiv", "line": "first_line"}, 400, "time_zone"),
    ([1, 2], 400, "JSON object"),
    ({"name": "Kyiv", "line": "first_line", "time_zone": "UTC", "colour": "red"}, 400, "colour"),
], ids=["unknown-zone", "unknown-line", "missing-zone", "array-body", "unknown-field"])
def test_a_refused_schedule_says_why_and_saves_nothing(
    app: Any, client: Any, api_token: Any, db: Database, body: Any, status: int, message: str
) -> None:
    response = client.post("/api/v1/schedules", headers=bearer(api_token(Role.SHIFT_LEAD)),
                           json=body)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    _conforms(app, "/api/v1/schedules", "post", response)
    with db.session() as s:
        assert s.scalar(select(func.count(ShiftScheduleRow.id))) == 0


def test_a_second_schedule_with_the_same_name_is_a_conflict(client: Any, api_token: Any) -> None:
    lead = bearer(api_token(Role.SHIFT_LEAD))
    body = {"name": "Kyiv", "line": "first_line", "time_zone": "Europe/Kyiv"}
    assert client.post("/api/v1/schedules", headers=lead, json=body).status_code == 201
    again = client.post("/api/v1/schedules", headers=lead, json=body)
    assert again.status_code == 409 and "already exists" in again.get_json()["error"]


@pytest.mark.parametrize("layer, status", [
    ({"restrictions": [{"weekdays": ["sat"], "start": "00:00", "end": "00:00"}]}, 201),
    ({"restrictions": [{"weekdays": [""], "start": "00:00", "end": "00:00"}]}, 400),
    ({"pattern_params": {"hours": 1e20}}, 422),
    ({"pattern_params": {"hours": 0}}, 422),
    ({"participants": [2**63 + 5]}, 400),
    ({"participants": [2**31 - 1]}, 422),
    ({"start_date": "04.03.2026"}, 422),
    ({"pattern_params": [12]}, 400),
], ids=["sat", "empty-weekday", "huge-hours", "zero-hours", "id-beyond-2^63", "unknown-user",
        "non-iso-date", "array-params"])
def test_layers_are_judged_like_the_editor_judges_them(
    client: Any, api_token: Any, people: dict, layer: dict, status: int
) -> None:
    lead = bearer(api_token(Role.SHIFT_LEAD))
    sid = client.post("/api/v1/schedules", headers=lead, json={
        "name": "K", "line": "first_line", "time_zone": "Europe/Kyiv"}).get_json()["id"]
    body = {"name": "main", "participants": [people["olena"].id, people["taras"].id],
            "pattern": "fixed_length", "pattern_params": {"hours": 12},
            "handoff_time": "08:00", "start_date": "2026-03-02", **layer}
    response = client.post(f"/api/v1/schedules/{sid}/rotations", headers=lead, json=body)
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("path", [
    f"/api/v1/schedules/{2**63 + 1}", f"/api/v1/schedules/{2**31}/overrides/1",
    f"/api/v1/swaps/{2**64}", "/api/v1/schedules/1/rotations/99999999999999999999",
    f"/api/v1/schedules/{2**63 + 1}/final",
])
def test_ids_beyond_storage_are_simply_not_found(client: Any, api_token: Any, path: str) -> None:
    assert client.get(path, headers=bearer(api_token(Role.SHIFT_LEAD))).status_code == 404


def test_engineers_read_but_only_leads_write_schedules(
    client: Any, api_token: Any, db: Database
) -> None:
    engineer = bearer(api_token(Role.ENGINEER))
    denied = client.post("/api/v1/schedules", headers=engineer, json={
        "name": "K", "line": "first_line", "time_zone": "UTC"})
    assert denied.status_code == 403
    viewer = bearer(api_token(Role.VIEWER))
    assert client.get("/api/v1/swaps", headers=viewer).status_code == 403


def test_an_engineer_offers_a_colleague_takes_and_the_lead_approves_over_the_api(
    app: Any, signed_in: Any, db: Database, people: dict, api_token: Any
) -> None:
    from ..conftest import form_token, login

    lead = bearer(api_token(Role.SHIFT_LEAD))
    client = app.test_client()
    sid = client.post("/api/v1/schedules", headers=lead, json={
        "name": "K", "line": "first_line", "time_zone": "Europe/Kyiv"}).get_json()["id"]
    client.post(f"/api/v1/schedules/{sid}/rotations", headers=lead, json={
        "name": "main", "participants": [people["olena"].id, people["taras"].id],
        "pattern": "fixed_length", "pattern_params": {"hours": 12}, "handoff_time": "08:00",
        "start_date": (utcnow() - timedelta(days=3)).date().isoformat()})
    with db.session() as s:
        schedule = load_schedule(s, sid)
    now = utcnow()
    duty = next(d for d in person_shifts(schedule, now, now + timedelta(days=3),
                                         people["olena"].id) if d.start > now)
    olena, taras = app.test_client(), app.test_client()
    login(olena, "olena@dc.example")
    login(taras, "taras@dc.example")
    csrf = {"X-CSRFToken": form_token(olena, "/shifts")}
    offered = olena.post("/api/v1/swaps", headers=csrf, json={
        "schedule_id": sid, "shifts": [{"start": duty.start.isoformat(),
                                        "end": duty.end.isoformat()}]})
    assert offered.status_code == 201, offered.get_json()
    _conforms(app, "/api/v1/swaps", "post", offered)
    swap = offered.get_json()["id"]
    not_hers = olena.post("/api/v1/swaps", headers=csrf, json={
        "schedule_id": sid, "offered_by": people["taras"].id,
        "shifts": [{"start": duty.start.isoformat(), "end": duty.end.isoformat()}]})
    assert not_hers.status_code == 403
    taken = taras.post(f"/api/v1/swaps/{swap}/take",
                       headers={"X-CSRFToken": form_token(taras, "/shifts")})
    assert taken.status_code == 200 and taken.get_json()["status"] == "taken"
    assert taras.post(f"/api/v1/swaps/{swap}/approve", headers={
        "X-CSRFToken": form_token(taras, "/shifts")}).status_code == 403
    approved = client.post(f"/api/v1/swaps/{swap}/approve", headers=lead)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    again = client.post(f"/api/v1/swaps/{swap}/reject", headers=lead)
    assert again.status_code == 409
    _conforms(app, "/api/v1/swaps/{swap_id}/reject", "post", again)
    with db.session() as s:
        assert on_duty(load_schedule(s, sid), duty.start).people == (people["taras"].id,)
        assert s.scalar(select(func.count(ShiftOverrideRow.id))) == 1


def test_created_items_link_to_reading_changing_and_deleting_them(app: Any) -> None:
    """Stateful fuzzers (and people reading the document) follow create → read → delete."""
    from dutydesk.openapi import build_document

    doc = build_document(app)
    operations = {op["operationId"]: op for path in doc["paths"].values() for op in path.values()}
    made = doc["paths"]["/api/v1/schedules"]["post"]["responses"]["201"]["links"]
    [item] = [p for p in doc["paths"] if p.startswith("/api/v1/schedules/{") and p.count("/") == 4]
    wanted = {doc["paths"][item][m]["operationId"] for m in ("get", "patch", "delete")}
    assert wanted <= {link["operationId"] for link in made.values()}
    for path in doc["paths"].values():
        for op in path.values():
            for answer in op["responses"].values():
                for link in answer.get("links", {}).values():
                    assert link["operationId"] in operations, link
