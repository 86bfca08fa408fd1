"""The check editor's "Locations": a shift lead ticks the central workers and live probes of any
site and sets k; a refusal (k above the number of locations, a revoked probe, no location, one
probe of another site) is a 400 with the reason and nothing of the edit is stored. The checks
API documents and answers ``site``, ``min_locations_down`` and ``locations``."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from checks.models import Check
from dutydesk.core.db import Database, utcnow
from dutydesk.core.site_registry import create_site
from dutydesk.models import AuditEntry, Role
from dutydesk.sites.models import CheckProbe
from dutydesk.sites.service import create_probe, find_probe, revoke_probe, set_locations
from tests.conftest import bearer, form_token
from tests.dutydesk.test_checks_web import add_check, check_form, page_text


@pytest.fixture
def probes(db: Database) -> dict[str, int]:
    """probe-a at Kyiv DC2, probe-b at Lviv DC1 (both live)."""
    with db.session() as s:
        create_site(s, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv")
        create_site(s, "lviv-dc1", "Lviv DC1", "Europe/Kyiv")
        create_probe(s, "kyiv-dc2", "probe-a", utcnow())
        create_probe(s, "lviv-dc1", "probe-b", utcnow())
        return {"a": find_probe(s, "kyiv-dc2", "probe-a").id,
                "b": find_probe(s, "lviv-dc1", "probe-b").id}


def located(*places: str, k: str = "1", **overrides: str) -> dict[str, Any]:
    return {**check_form(**overrides), "locations_shown": "1", "location": list(places),
            "min_locations_down": k}


def stored(db: Database, slug: str = "ups-c") -> tuple[Check | None, set[int]]:
    with db.session() as s:
        check = s.scalar(select(Check).where(Check.slug == slug))
        links = set() if check is None else set(s.scalars(
            select(CheckProbe.probe_id).where(CheckProbe.check_id == check.id)))
        return check, links


def test_a_new_check_runs_at_the_centre_alone_by_default(
        signed_in: Any, db: Database, probes: dict[str, int]) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    form = page_text(lead.get("/checks/new"))
    assert "<legend>Locations</legend>" in form
    assert 'name="location" value="centre" checked' in form
    assert f'name="location" value="probe:{probes["a"]}" >' in form  # offered, not ticked
    assert 'name="min_locations_down" value="1"' in form
    made = lead.post("/checks/new", data=located("centre", csrf_token=form_token(lead, "/checks")))
    assert made.status_code == 303
    check, links = stored(db)
    assert (check.run_at_centre, check.min_locations_down, links) == (False, 1, set())


def test_the_editor_saves_several_locations_and_k_and_shows_them_again(
        signed_in: Any, db: Database, probes: dict[str, int]) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    form = page_text(lead.get("/checks/new"))
    assert "Kyiv DC2 / probe-a" in form and "Lviv DC1 / probe-b" in form
    made = lead.post("/checks/new", data=located(
        "centre", f"probe:{probes['a']}", f"probe:{probes['b']}", k="2",
        csrf_token=form_token(lead, "/checks")))
    assert made.status_code == 303, page_text(made)
    check, links = stored(db)
    assert check.run_at_centre and check.min_locations_down == 2
    assert links == {probes["a"], probes["b"]}
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "check.locations"))
    assert entry.summary == ("check ups-c runs at centre, kyiv-dc2/probe-a, lviv-dc1/probe-b; "
                             "down when 2 of 3 see it down")
    again = page_text(lead.get(f"/checks/{check.id}/edit"))
    for key in ("centre", f"probe:{probes['a']}", f"probe:{probes['b']}"):
        assert f'name="location" value="{key}" checked' in again
    assert 'name="min_locations_down" value="2"' in again
    # the page lists what each location saw
    detail = page_text(lead.get(f"/checks/{check.id}"))
    assert "kyiv-dc2/probe-a" in detail and "lviv-dc1/probe-b" in detail
    # back to one probe of the check's own site only
    moved = lead.post(f"/checks/{check.id}/edit", data=located(
        f"probe:{probes['a']}", site="kyiv-dc2", csrf_token=form_token(lead, "/checks")))
    assert moved.status_code == 303, page_text(moved)
    check, links = stored(db)
    assert (check.run_at_centre, check.min_locations_down, links) == (False, 1, {probes["a"]})


def test_k_above_the_number_of_locations_is_refused_and_nothing_is_saved(
        signed_in: Any, db: Database, probes: dict[str, int]) -> None:
    check_id = add_check(db, "ups-c")
    lead = signed_in(Role.SHIFT_LEAD)
    refused = lead.post(f"/checks/{check_id}/edit", data=located(
        "centre", f"probe:{probes['a']}", k="3", display_name="renamed",
        csrf_token=form_token(lead, "/checks")))
    assert refused.status_code == 400
    text = page_text(refused)
    assert "min locations down must be 1..2 (the check&#39;s locations), got 3" in text
    assert f'name="location" value="probe:{probes["a"]}" checked' in text  # as posted
    check, links = stored(db)
    assert (check.display_name, check.min_locations_down, links) == ("ups-c", 1, set())
    new = lead.post("/checks/new", data=located("centre", k="2", name="ups-d",
                                                csrf_token=form_token(lead, "/checks")))
    assert new.status_code == 400 and "must be 1..1" in page_text(new)
    assert stored(db, "ups-d")[0] is None


def test_a_revoked_probe_is_not_offered_nor_accepted(
        signed_in: Any, db: Database, probes: dict[str, int]) -> None:
    check_id = add_check(db, "ups-c")
    with db.session() as s:
        set_locations(s, check_id, [find_probe(s, "kyiv-dc2", "probe-a"),
                                    find_probe(s, "lviv-dc1", "probe-b")], centre=True)
        revoke_probe(s, find_probe(s, "lviv-dc1", "probe-b"), utcnow())
    lead = signed_in(Role.SHIFT_LEAD)
    form = page_text(lead.get(f"/checks/{check_id}/edit"))
    assert f'value="probe:{probes["b"]}"' not in form
    assert f'value="probe:{probes["a"]}" checked' in form
    assert ("Revoked probes no longer run this check; saving removes them from its locations: "
            "Lviv DC1 / probe-b") in form
    assert f'value="probe:{probes["b"]}"' not in page_text(lead.get("/checks/new"))
    refused = lead.post(f"/checks/{check_id}/edit", data=located(
        "centre", f"probe:{probes['b']}", csrf_token=form_token(lead, "/checks")))
    assert refused.status_code == 400
    assert "a revoked probe cannot be a location" in page_text(refused)
    assert stored(db)[1] == {probes["a"], probes["b"]}
    saved = lead.post(f"/checks/{check_id}/edit", data=located(
        "centre", f"probe:{probes['a']}", csrf_token=form_token(lead, "/checks")))
    assert saved.status_code == 303 and stored(db)[1] == {probes["a"]}


@pytest.mark.parametrize(("places", "k", "message"), [
    ((), "1", "choose at least one location: the central workers or a probe"),
    (("centre", "probe:x"), "1", "location &#39;probe:x&#39; is not one this form offers"),
    (("centre",), "two", "min locations down must be a whole number, got &#39;two&#39;"),
    (("centre", "probe:999999"), "1", "a chosen probe no longer exists"),
])
def test_a_malformed_selection_is_a_400_with_the_reason(
        signed_in: Any, db: Database, probes: dict[str, int], places: tuple[str, ...], k: str,
        message: str) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    refused = lead.post("/checks/new", data=located(*places, k=k,
                                                    csrf_token=form_token(lead, "/checks")))
    assert refused.status_code == 400 and message in page_text(refused)
    assert stored(db)[0] is None


def test_one_probe_alone_must_be_of_the_checks_site(
        signed_in: Any, db: Database, probes: dict[str, int]) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    alone = lead.post("/checks/new", data=located(
        f"probe:{probes['b']}", site="kyiv-dc2", csrf_token=form_token(lead, "/checks")))
    assert alone.status_code == 400
    assert ("check &#39;ups-c&#39; belongs to site &#39;kyiv-dc2&#39; and probe "
            "&#39;probe-b&#39; to site &#39;lviv-dc1&#39;") in page_text(alone)
    assert stored(db)[0] is None
    watched = lead.post("/checks/new", data=located(  # with the centre: a vantage point
        "centre", f"probe:{probes['b']}", site="kyiv-dc2", csrf_token=form_token(lead, "/checks")))
    assert watched.status_code == 303 and stored(db)[1] == {probes["b"]}


def test_only_shift_leads_and_admins_set_locations(
        signed_in: Any, db: Database, probes: dict[str, int]) -> None:
    check_id = add_check(db, "ups-c")
    engineer = signed_in(Role.ENGINEER)
    refused = engineer.post(f"/checks/{check_id}/edit", data=located(
        "centre", f"probe:{probes['a']}", csrf_token=form_token(engineer, "/checks")))
    assert refused.status_code == 403 and stored(db)[1] == set()


def test_the_api_documents_and_answers_site_k_and_locations(
        client: Any, api_token: Any, db: Database, probes: dict[str, int]) -> None:
    check_id = add_check(db, "ups-c")
    with db.session() as s:
        s.get(Check, check_id).site_id = find_probe(s, "kyiv-dc2", "probe-a").site_id
        set_locations(s, check_id, [find_probe(s, "kyiv-dc2", "probe-a")], centre=True,
                      min_down=2)
    auth = bearer(api_token(Role.VIEWER))
    document = client.get("/api/v1/openapi.json", headers=auth).get_json()
    one_schema = (document["paths"]["/api/v1/checks/{check_id}"]["get"]["responses"]["200"]
                  ["content"]["application/json"]["schema"])
    list_schema = (document["paths"]["/api/v1/checks"]["get"]["responses"]["200"]
                   ["content"]["application/json"]["schema"])
    item = list_schema["properties"]["items"]["items"]
    assert {"site", "min_locations_down"} <= set(item["properties"])
    assert set(one_schema["properties"]["locations"]["items"]["properties"]) == {
        "name", "status", "message", "at"}
    one = client.get(f"/api/v1/checks/{check_id}", headers=auth).get_json()
    Draft202012Validator(one_schema).validate(one)
    assert (one["site"], one["min_locations_down"]) == ("kyiv-dc2", 2)
    assert one["locations"] == [
        {"name": "centre", "status": None, "message": "", "at": None},
        {"name": "kyiv-dc2/probe-a", "status": None, "message": "", "at": None}]
    listed = client.get("/api/v1/checks", headers=auth).get_json()
    Draft202012Validator(list_schema).validate(listed)
    bad = {**one, "locations": [{"name": "centre", "status": "BROKEN", "message": "",
                                 "at": None}]}
    assert not Draft202012Validator(one_schema).is_valid(bad)  # the schema does judge


@pytest.mark.parametrize(("lang", "words"), [
    ("ru", ("Точки проверки", "Центральные обработчики", "не менее K выбранных точек")),
    ("uk", ("Точки перевірки", "Центральні обробники", "щонайменше K вибраних точок")),
])
def test_the_locations_fieldset_speaks_russian_and_ukrainian(
        signed_in: Any, probes: dict[str, int], lang: str, words: tuple[str, ...]) -> None:
    form = page_text(signed_in(Role.SHIFT_LEAD).get(f"/checks/new?lang={lang}"))
    assert all(word in form for word in words), form
