"""An incident says which data center it is about: a check's incident takes the check's site,
an outside alert labelled ``site=...`` that site, anything else none. The incidents list
filters by site (and shows the column once there is more than one site); the API names it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from checks.models import Check
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.site_registry import create_site
from dutydesk.core.sites import Site
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity, check_alert
from dutydesk.incidents.models import Incident
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.models import Role
from tests.checks.engine_helpers import add_check
from tests.conftest import bearer


def _open(db: Database, settings: Settings) -> dict[str, int]:
    """Three incidents: a Kyiv check's, an Alertmanager alert labelled Lviv, an unlabelled one."""
    check_id = add_check(db, "ups-kyiv", "http://127.0.0.1:9/")
    with db.session() as s:
        kyiv = create_site(s, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv").id
        create_site(s, "lviv-dc1", "Lviv DC1", "Europe/Kyiv")
        s.get(Check, check_id).site_id = kyiv
    now = utcnow()
    alerts = [
        check_alert(check_id=check_id, check_name="ups-kyiv", status_name="CRITICAL",
                    message="UPS on battery", at=now),
        Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:chiller", starts_at=now,
              status=AlertStatus.FIRING, summary="Chiller 2 fault", severity=Severity.CRITICAL,
              labels={"site": "lviv-dc1", "alertname": "ChillerFault"}),
        Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:wan", starts_at=now,
              status=AlertStatus.FIRING, summary="WAN link down", severity=Severity.WARNING),
    ]
    with db.session() as s:
        process_alerts(s, alerts, settings=settings, now=now)
    with db.session() as s:
        return {title: site for title, site in s.execute(
            select(Incident.title, Incident.site_id))}


def test_each_incident_takes_its_site_from_one_rule(db: Database, settings: Settings) -> None:
    opened = _open(db, settings)
    with db.session() as s:
        slugs = {site.id: site.slug for site in s.scalars(select(Site))}
    found = {title.split(" ")[0]: slugs.get(site) for title, site in opened.items()}
    assert found == {"ups-kyiv": "kyiv-dc2", "Chiller": "lviv-dc1", "WAN": None}


def test_the_list_filters_and_shows_the_site(signed_in: Any, db: Database,
                                             settings: Settings) -> None:
    _open(db, settings)
    viewer = signed_in(Role.VIEWER)
    everything = viewer.get("/incidents").get_data(as_text=True)
    assert '<td class="site">Lviv DC1</td>' in everything and "WAN link down" in everything
    lviv = viewer.get("/incidents?site=lviv-dc1").get_data(as_text=True)
    assert "Chiller 2 fault" in lviv and "ups-kyiv" not in lviv and "WAN link down" not in lviv
    unknown = viewer.get("/incidents?site=mars-1").get_data(as_text=True)
    assert "there is no site “mars-1”" in unknown and "WAN link down" in unknown


def test_one_site_shows_no_site_column(signed_in: Any, db: Database, settings: Settings) -> None:
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key="alertmanager:wan",
                  starts_at=utcnow(), status=AlertStatus.FIRING, summary="WAN link down")
    with db.session() as s:
        process_alerts(s, [alert], settings=settings, now=utcnow())
    page = signed_in(Role.VIEWER).get("/incidents").get_data(as_text=True)
    assert "WAN link down" in page and 'class="site"' not in page and 'name="site"' not in page


def test_the_api_names_and_filters_the_site(client: Any, api_token: Any, db: Database,
                                            settings: Settings) -> None:
    _open(db, settings)
    auth = bearer(api_token(Role.VIEWER))
    items = client.get("/api/v1/incidents", headers=auth).get_json()["items"]
    assert sorted(str(i["site"]) for i in items) == ["None", "kyiv-dc2", "lviv-dc1"]
    kyiv = client.get("/api/v1/incidents?site=kyiv-dc2", headers=auth).get_json()["items"]
    assert [i["title"].split(" ")[0] for i in kyiv] == ["ups-kyiv"]
    refused = client.get("/api/v1/incidents?site=mars-1", headers=auth)
    assert refused.status_code == 400 and "mars-1" in refused.get_json()["error"]
