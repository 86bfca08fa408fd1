"""Duty schedules per site on the screens and the API: the form and the JSON ``site`` field set a
schedule's site, lists filter by ``?site=``, an unknown site is a 4xx with a message."""

from __future__ import annotations

from typing import Any

from dutydesk.core.db import Database
from dutydesk.core.sites import Site
from dutydesk.models import Role
from shifts.models import ShiftScheduleRow

from ..conftest import bearer, form_token


def _sites(db: Database, *slugs: str) -> None:
    with db.session() as s:
        s.add_all(Site(slug=slug, name=f"DC {slug.upper()}", time_zone="UTC") for slug in slugs)
        s.commit()


def test_the_api_sets_lists_and_filters_schedules_by_site(
    client: Any, api_token: Any, db: Database
) -> None:
    _sites(db, "ams", "fra")
    lead = bearer(api_token(Role.SHIFT_LEAD))
    ams = client.post("/api/v1/schedules", headers=lead, json={
        "name": "AMS", "line": "first_line", "time_zone": "UTC", "site": "ams"})
    assert ams.status_code == 201 and ams.get_json()["site"] == "ams"
    plain = client.post("/api/v1/schedules", headers=lead, json={
        "name": "Main", "line": "first_line", "time_zone": "UTC"})
    assert plain.get_json()["site"] == "default"
    moved = client.patch(f"/api/v1/schedules/{plain.get_json()['id']}", headers=lead,
                         json={"site": "fra"})
    assert moved.status_code == 200 and moved.get_json()["site"] == "fra"
    listed = client.get("/api/v1/schedules?site=ams", headers=lead).get_json()["items"]
    assert [x["name"] for x in listed] == ["AMS"]
    assert len(client.get("/api/v1/schedules", headers=lead).get_json()["items"]) == 2
    unknown = client.post("/api/v1/schedules", headers=lead, json={
        "name": "X", "line": "first_line", "time_zone": "UTC", "site": "nowhere"})
    assert unknown.status_code == 422 and "nowhere" in unknown.get_json()["error"]
    missing = client.get("/api/v1/oncall?site=nowhere", headers=lead)
    assert missing.status_code == 404 and "nowhere" in missing.get_json()["error"]


def _table(page: str) -> str:
    return page.split('id="on-duty"', 1)[1].split("</table>", 1)[0]


def test_the_board_filters_by_site_and_the_form_sets_it(
    signed_in: Any, db: Database
) -> None:
    client = signed_in(Role.SHIFT_LEAD)
    page = client.get("/shifts").get_data(as_text=True)
    assert 'name="site"' not in page  # one site: no selector, no site field
    _sites(db, "ams", "fra")
    token = form_token(client, "/shifts")
    for name, site in (("AMS duty", "ams"), ("FRA duty", "fra")):
        answer = client.post("/shifts/schedules", data={
            "csrf_token": token, "name": name, "line": "first_line", "time_zone": "UTC",
            "site": site})
        assert answer.status_code == 302
    with db.session() as s:
        by_name = {row.name: s.get(Site, row.site_id).slug
                   for row in s.query(ShiftScheduleRow)}
    assert by_name == {"AMS duty": "ams", "FRA duty": "fra"}
    page = client.get("/shifts?site=fra").get_data(as_text=True)
    board = _table(page)
    assert "FRA duty" in board and "AMS duty" not in board
    assert "DC AMS" in page  # the selector offers every site
    both = _table(client.get("/shifts").get_data(as_text=True))
    assert "FRA duty" in both and "AMS duty" in both and "DC FRA" in both
    refused = client.post("/shifts/schedules", data={
        "csrf_token": token, "name": "X", "line": "first_line", "time_zone": "UTC",
        "site": "nowhere"})
    assert refused.status_code == 422 and "nowhere" in refused.get_data(as_text=True)
    assert client.get("/shifts?site=nowhere").status_code == 404
