"""The visitor desk per site on the screens and the API: the desk works for one site at a time
(chosen with ?site=, remembered for the session), a single-site installation sees no selector,
an unknown site is a 4xx with a message."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from dutydesk.core.db import Database, utcnow
from dutydesk.core.sites import Site
from dutydesk.models import Role

from ..conftest import bearer
from .test_visitors_web import acme, check_in_form  # noqa: F401  (the fixture)


def _sites(db: Database) -> None:
    with db.session() as s:
        s.add_all([Site(slug="ams", name="DC Amsterdam", time_zone="Europe/Amsterdam"),
                   Site(slug="fra", name="DC Frankfurt", time_zone="Europe/Berlin")])


def _evacuation(page: str) -> str:
    return page.split('id="evacuation-list"', 1)[1].split("</table>", 1)[0]


def test_a_single_site_desk_shows_no_selector(signed_in: Any) -> None:
    desk = signed_in(Role.ENGINEER).get("/visitors/").get_data(as_text=True)
    assert 'name="site"' in desk  # the check-in form's hidden site, nothing to choose
    assert "site-select" not in desk


def test_the_desk_remembers_its_site_and_lists_only_its_visitors(
    signed_in: Any, db: Database, acme: dict[str, int]  # noqa: F811
) -> None:
    _sites(db)
    desk = signed_in(Role.ENGINEER)
    page = desk.get("/visitors/?site=ams").get_data(as_text=True)
    assert "site-select" in page and "DC Amsterdam" in page
    assert "Checked in" in check_in_form(desk, acme, "Ivan Petrov", "B7").get_data(as_text=True)
    desk.get("/visitors/?site=fra")  # the same badge number at the other site's desk
    assert "Checked in" in check_in_form(desk, acme, "Ivan Petrov", "B7", site="fra").get_data(
        as_text=True)
    again = check_in_form(desk, acme, "Ivan Petrov", "B7", site="fra").get_data(as_text=True)
    assert "Checked in" not in again
    fra = _evacuation(desk.get("/visitors/on-site").get_data(as_text=True))  # remembered: fra
    assert fra.count("Ivan Petrov") == 1 and "B7" in fra
    default = _evacuation(desk.get("/visitors/on-site?site=default").get_data(as_text=True))
    assert "Ivan Petrov" not in default
    assert desk.get("/visitors/?site=nowhere").status_code == 404
    log = desk.get("/visitors/log.csv?site=ams").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(log)))) == 2  # header + Ivan's visit at ams
    everywhere = desk.get("/visitors/log.csv").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(everywhere)))) == 3


def test_the_api_takes_and_shows_the_site(
    app: Any, api_token: Any, db: Database, acme: dict[str, int]  # noqa: F811
) -> None:
    _sites(db)
    api, token = app.test_client(), bearer(api_token(Role.ENGINEER))
    now = utcnow()
    body = {"client_id": acme["client"], "people": ["Olha Shevchenko"], "areas": ["Hall A"],
            "window_start": now.isoformat(), "window_end": (now + timedelta(hours=2)).isoformat()}
    made = api.post("/api/v1/access-requests", headers=token, json={**body, "site": "fra"})
    assert made.status_code == 201 and made.get_json()["site"] == "fra"
    plain = api.post("/api/v1/access-requests", headers=token, json=body)
    assert plain.get_json()["site"] == "default"
    bad = api.post("/api/v1/access-requests", headers=token, json={**body, "site": "nowhere"})
    assert bad.status_code == 400 and "nowhere" in bad.get_json()["error"]
    assert api.get("/api/v1/visitors/on-site?site=nowhere", headers=token).status_code == 404
    assert api.get("/api/v1/visitors/on-site?site=fra", headers=token).get_json()["count"] == 0
