"""A check belongs to a data center: the editor sets its site, the list filters and shows it,
the detail page and the API name it; a shift lead plans maintenance of a whole site, which
shows on the checks of that site only; a probe runs only checks of its own site."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from checks.models import Check, MaintenanceWindowRow
from dutydesk.core.db import Database, utcnow
from dutydesk.core.site_registry import create_site
from dutydesk.core.sites import Site
from dutydesk.models import Role
from tests.conftest import bearer, form_token
from tests.dutydesk.test_checks_web import add_check, check_form, page_text


@pytest.fixture
def sites(db: Database) -> dict[str, int]:
    with db.session() as s:
        return {"kyiv-dc2": create_site(s, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv").id,
                "lviv-dc1": create_site(s, "lviv-dc1", "Lviv DC1", "Europe/Kyiv").id}


def _move(db: Database, check_id: int, site_id: int) -> None:
    with db.session() as s:
        s.get(Check, check_id).site_id = site_id


def test_the_editor_sets_the_site_and_shows_it_when_editing(
        signed_in: Any, db: Database, sites: dict[str, int]) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    made = lead.post("/checks/new", data=check_form(
        site="kyiv-dc2", csrf_token=form_token(lead, "/checks/new")))
    assert made.status_code == 303
    with db.session() as s:
        check = s.scalar(select(Check).where(Check.slug == "ups-c"))
    assert check.site_id == sites["kyiv-dc2"]
    form = page_text(lead.get(f"/checks/{check.id}/edit"))
    assert '<option value="kyiv-dc2" selected>Kyiv DC2</option>' in form
    detail = page_text(lead.get(f"/checks/{check.id}"))
    assert 'data-site="kyiv-dc2">Kyiv DC2</a>' in detail


def test_an_unknown_site_in_the_editor_is_a_400_with_the_reason(
        signed_in: Any, db: Database, sites: dict[str, int]) -> None:
    lead = signed_in(Role.SHIFT_LEAD)
    answer = lead.post("/checks/new", data=check_form(
        site="mars-1", csrf_token=form_token(lead, "/checks/new")))
    assert answer.status_code == 400 and "no site &#39;mars-1&#39;" in page_text(answer)
    with db.session() as s:
        assert s.scalar(select(Check.id)) is None


def test_the_list_filters_by_site_and_names_each_checks_site(
        signed_in: Any, db: Database, sites: dict[str, int]) -> None:
    kyiv, lviv = add_check(db, "ups-kyiv"), add_check(db, "ups-lviv")
    _move(db, kyiv, sites["kyiv-dc2"])
    _move(db, lviv, sites["lviv-dc1"])
    viewer = signed_in(Role.VIEWER)
    everything = page_text(viewer.get("/checks"))
    assert 'data-site="kyiv-dc2">· Kyiv DC2' in everything and "ups-lviv" in everything
    only = page_text(viewer.get("/checks?site=kyiv-dc2"))
    assert "ups-kyiv" in only and "ups-lviv" not in only
    assert 'href="/checks/sites/kyiv-dc2"' in only  # the site's maintenance is one click away
    unknown = page_text(viewer.get("/checks?site=mars-1", follow_redirects=True))
    assert "there is no site “mars-1”" in unknown and "ups-lviv" in unknown


def test_one_site_shows_no_site_filter(signed_in: Any, db: Database) -> None:
    add_check(db, "ups-a")
    assert 'name="site"' not in page_text(signed_in(Role.VIEWER).get("/checks"))


def test_the_api_names_and_filters_the_site(
        client: Any, api_token: Any, db: Database, sites: dict[str, int]) -> None:
    kyiv, _other = add_check(db, "ups-kyiv"), add_check(db, "ups-hq")
    _move(db, kyiv, sites["kyiv-dc2"])
    auth = bearer(api_token(Role.VIEWER))
    listed = client.get("/api/v1/checks?site=kyiv-dc2", headers=auth).get_json()
    assert [(c["name"], c["site"]) for c in listed["items"]] == [("ups-kyiv", "kyiv-dc2")]
    one = client.get(f"/api/v1/checks/{kyiv}", headers=auth).get_json()
    assert one["site"] == "kyiv-dc2"
    refused = client.get("/api/v1/checks?site=mars-1", headers=auth)
    assert refused.status_code == 400 and "mars-1" in refused.get_json()["error"]


def test_maintenance_of_a_whole_site_shows_on_its_checks_only(
        signed_in: Any, db: Database, sites: dict[str, int]) -> None:
    kyiv, lviv = add_check(db, "ups-kyiv"), add_check(db, "ups-lviv")
    _move(db, kyiv, sites["kyiv-dc2"])
    _move(db, lviv, sites["lviv-dc1"])
    lead = signed_in(Role.SHIFT_LEAD)
    added = lead.post("/checks/sites/kyiv-dc2/windows", data={
        "csrf_token": form_token(lead, "/checks/sites/kyiv-dc2"), "name": "power work",
        "kind": "weekly", "zone": "Europe/Kyiv", "weekdays": "sun", "start_time": "02:00",
        "duration": "2h"}, follow_redirects=True)
    assert "Maintenance window added." in page_text(added)
    assert "power work" in page_text(added)
    with db.session() as s:
        row = s.scalar(select(MaintenanceWindowRow))
    assert (row.site_id, row.check_id, row.group_id) == (sites["kyiv-dc2"], None, None)
    assert "the whole site Kyiv DC2" in page_text(lead.get(f"/checks/{kyiv}"))
    assert "power work" not in page_text(lead.get(f"/checks/{lviv}"))
    deleted = lead.post(f"/checks/windows/{row.id}/delete",
                        data={"csrf_token": form_token(lead, "/checks")})
    assert deleted.headers["Location"].endswith("/checks/sites/kyiv-dc2")


def test_only_shift_leads_plan_site_maintenance(
        signed_in: Any, db: Database, sites: dict[str, int]) -> None:
    engineer = signed_in(Role.ENGINEER)
    page = engineer.get("/checks/sites/kyiv-dc2")
    assert page.status_code == 200 and "Add a maintenance window" not in page_text(page)
    refused = engineer.post("/checks/sites/kyiv-dc2/windows", data={
        "csrf_token": form_token(engineer, "/checks"), "kind": "weekly"})
    assert refused.status_code == 403
    assert signed_in(Role.VIEWER).get("/checks/sites/mars-1").status_code == 404


def test_a_probe_runs_only_checks_of_its_own_site(db: Database, sites: dict[str, int]) -> None:
    from dutydesk.sites.service import ProbeError, assign_check, create_probe, find_probe

    check_id = add_check(db, "pdu-hq")  # in the default site
    with db.session() as s:
        create_probe(s, "kyiv-dc2", "probe-1", utcnow())
        probe = find_probe(s, "kyiv-dc2", "probe-1")
        with pytest.raises(ProbeError, match="check 'pdu-hq' belongs to site 'default' and "
                                             "probe 'probe-1' to site 'kyiv-dc2'"):
            assign_check(s, check_id, probe)
        s.get(Check, check_id).site_id = s.scalar(select(Site.id).where(
            Site.slug == "kyiv-dc2"))
        assign_check(s, check_id, probe)  # moved to the probe's site: accepted


def test_a_check_run_by_a_probe_does_not_move_to_another_site_in_the_editor(
        signed_in: Any, db: Database, sites: dict[str, int]) -> None:
    from dutydesk.sites.service import assign_check, create_probe, find_probe

    check_id = add_check(db, "ups-c")
    _move(db, check_id, sites["kyiv-dc2"])
    with db.session() as s:
        create_probe(s, "kyiv-dc2", "probe-1", utcnow())
        assign_check(s, check_id, find_probe(s, "kyiv-dc2", "probe-1"))
    lead = signed_in(Role.SHIFT_LEAD)
    refused = lead.post(f"/checks/{check_id}/edit", data=check_form(
        site="lviv-dc1", csrf_token=form_token(lead, "/checks")))
    assert refused.status_code == 400
    assert "probe probe-1 of another site runs this check" in page_text(refused)
    with db.session() as s:
        assert s.get(Check, check_id).site_id == sites["kyiv-dc2"]
