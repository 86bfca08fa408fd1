"""The wall per site: one site's wall, the head office's strip, site kiosk links, probe rows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk import accounts
from dutydesk.core.db import Database
from dutydesk.models import KioskLink, Role
from tests.dutydesk.wall.sites_data import (
    add_incident,
    add_probe,
    add_site,
    default_site,
)


@pytest.fixture
def two_sites(db: Database, checks: Any, heartbeat: None) -> dict[str, int]:
    """Kyiv DC2 (a critical UPS, an unacknowledged incident) and Lviv (a warning, green
    otherwise), beside the default site's one OK check."""
    kyiv = add_site(db, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv")
    lviv = add_site(db, "lviv", "Lviv", "Europe/Kyiv")
    checks.add("home-ok", site_id=default_site(db))
    checks.add("kyiv-ups", "Hall K / UPS", "CRITICAL", site_id=kyiv)
    checks.add("kyiv-pdu", "Hall K / PDU", "OK", site_id=kyiv)
    checks.add("lviv-temp", "Hall L / Cooling", "WARNING", site_id=lviv)
    add_incident(db, "Kyiv UPS on battery", kyiv)
    add_incident(db, "Lviv aisle warm", lviv, acknowledged=True)
    return {"kyiv": kyiv, "lviv": lviv}


def site_cell(html: str, slug: str) -> str:
    match = re.search(rf'<li class="wall-site[^"]*"[^>]*data-site="{slug}".*?</li>', html, re.S)
    assert match, f"no strip cell for {slug}"
    return match.group(0)


def count_in(cell: str, name: str) -> int:
    match = re.search(rf'data-count="{name}"[^>]*>\(?<b data-must-read>(\d+)</b>', cell)
    return int(match.group(1)) if match else 0


def test_a_sites_wall_shows_only_its_checks_and_incidents_with_its_name(
    signed_in: Any, two_sites: dict[str, int]
) -> None:
    html = signed_in(Role.VIEWER).get("/wall?site=kyiv-dc2").get_data(as_text=True)
    assert "kyiv-ups" in html and "Kyiv UPS on battery" in html
    assert "lviv-temp" not in html and "Lviv aisle warm" not in html
    assert '<h1 class="wall-site-name" data-must-read>Kyiv DC2</h1>' in html
    assert 'data-zone="Europe/Kyiv"' in html  # the clock shows the site's local time
    assert "/wall/events?site=kyiv-dc2" in html  # the live feed keeps the scope
    assert 'data-site="lviv"' not in html  # no head-office strip on a site's wall


def test_an_unknown_site_is_a_404_that_names_it(signed_in: Any, two_sites: Any) -> None:
    response = signed_in(Role.VIEWER).get("/wall?site=atlantis")
    assert response.status_code == 404
    assert "atlantis" in response.get_data(as_text=True)


def test_the_head_office_strip_counts_each_site(signed_in: Any, two_sites: Any) -> None:
    html = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    assert "kyiv-ups" in html and "lviv-temp" in html  # every site's problems
    kyiv, lviv = site_cell(html, "kyiv-dc2"), site_cell(html, "lviv")
    assert 'worst-critical' in kyiv and "CRITICAL" in kyiv
    assert (count_in(kyiv, "critical"), count_in(kyiv, "warning")) == (1, 0)
    assert (count_in(kyiv, "incidents"), count_in(kyiv, "unacknowledged")) == (1, 1)
    assert 'href="/wall?site=kyiv-dc2"' in kyiv
    assert 'worst-warning' in lviv and count_in(lviv, "warning") == 1
    assert (count_in(lviv, "incidents"), count_in(lviv, "unacknowledged")) == (1, 0)
    assert "worst-ok" in site_cell(html, "default")


def test_with_one_site_the_wall_has_no_strip(signed_in: Any, checks: Any, heartbeat: None) -> None:
    checks.add("ups-a", status="CRITICAL")
    html = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    assert "wall-site " not in html and 'data-site="' not in html
    assert '<nav class="wall-sites" aria-label="Sites" hidden>' in html


def kiosk_for(app: Any, db: Database, site: str | None) -> Any:
    with db.session() as s:
        _link, token = accounts.create_kiosk_link(s, "test", name="Hall screen", site=site)
    client = app.test_client()
    assert client.get(f"/kiosk/{token}").status_code == 302
    return client


def test_a_sites_kiosk_sees_its_site_and_cannot_widen(app: Any, db: Database,
                                                      two_sites: Any) -> None:
    client = kiosk_for(app, db, "kyiv-dc2")
    html = client.get("/wall").get_data(as_text=True)
    assert "kyiv-ups" in html and "lviv-temp" not in html
    for url in ("/wall?site=lviv", "/wall/events?site=lviv"):
        response = client.get(url)
        assert response.status_code == 403
        assert "Kyiv DC2" in response.get_data(as_text=True)
    assert client.get("/wall?site=kyiv-dc2").status_code == 200


def test_an_all_sites_kiosk_may_open_any_site(app: Any, db: Database, two_sites: Any) -> None:
    client = kiosk_for(app, db, None)
    assert 'data-site="lviv"' in client.get("/wall").get_data(as_text=True)
    assert "lviv-temp" in client.get("/wall?site=lviv").get_data(as_text=True)


def test_kiosk_links_choose_a_site_and_the_list_shows_it(signed_in: Any, db: Database,
                                                         two_sites: Any) -> None:
    admin = signed_in(Role.ADMIN)
    page = admin.get("/admin/kiosk").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = admin.post("/admin/kiosk", data={"name": "Kyiv hall", "site": "kyiv-dc2",
                                                "csrf_token": token})
    listing = response.get_data(as_text=True)
    assert '<td class="kiosk-site">Kyiv DC2</td>' in listing
    with db.session() as s:
        assert s.scalar(select(KioskLink.site_id).where(KioskLink.name == "Kyiv hall")) == \
            two_sites["kyiv"]
    bad = admin.post("/admin/kiosk", data={"name": "Nowhere", "site": "atlantis",
                                           "csrf_token": token}, follow_redirects=True)
    assert "atlantis" in bad.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(KioskLink).where(KioskLink.name == "Nowhere")) is None


def test_a_probe_in_trouble_is_its_own_row_on_its_sites_wall(
    signed_in: Any, db: Database, two_sites: dict[str, int]
) -> None:
    add_probe(db, two_sites["kyiv"], "kyiv-dc2-a", silent=timedelta(minutes=10),
              buffered=1234, dropped=0)
    add_probe(db, two_sites["kyiv"], "kyiv-dc2-b", silent=timedelta(seconds=3))  # healthy
    viewer = signed_in(Role.VIEWER)
    kyiv = viewer.get("/wall?site=kyiv-dc2").get_data(as_text=True)
    row = re.search(r'<p class="wall-probe kind-offline".*?</p>', kyiv, re.S).group(0)
    assert "kyiv-dc2-a" in row and "no contact since" in row and "1,234 results buffered" in row
    assert "kyiv-dc2-b" not in kyiv
    assert '<ul class="tiles">' not in row  # not a check tile: probe health is not target health
    assert "kyiv-dc2-a" in viewer.get("/wall").get_data(as_text=True)  # head office too
    assert "probe in trouble" in site_cell(viewer.get("/wall").get_data(as_text=True), "kyiv-dc2")
    assert "kyiv-dc2-a" not in viewer.get("/wall?site=lviv").get_data(as_text=True)


def test_cli_creates_a_sites_kiosk_link_and_refuses_an_unknown_site(
    database_url: str, tmp_path: Any, db: Database, two_sites: Any
) -> None:
    from click.testing import CliRunner

    from dutydesk.cli import main

    env = {"DUTYDESK_DATABASE_URL": database_url, "DUTYDESK_CONFIG": "",
           "DUTYDESK_INSTANCE_PATH": str(tmp_path / "instance")}
    ok = CliRunner().invoke(main, ["kiosk", "create", "--name", "Lviv hall", "--site", "lviv"],
                            env=env)
    assert ok.exit_code == 0 and "site lviv" in ok.output, ok.output
    bad = CliRunner().invoke(main, ["kiosk", "create", "--name", "X", "--site", "atlantis"],
                             env=env)
    assert bad.exit_code != 0 and "atlantis" in bad.output
    with db.session() as s:
        assert s.scalar(select(KioskLink.site_id).where(KioskLink.name == "Lviv hall")) == \
            two_sites["lviv"]
