"""Reports per site (issue 18): the hand-worked October split over two data centers. Each
site's figures count only its own incidents, checks, status services and visits; the sites
together give the all-sites figures (worked out by hand in ``test_reports_web``)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from checks.models import Check
from dutydesk.core.db import Database
from dutydesk.core.sites import Site
from dutydesk.incidents.models import Incident
from dutydesk.reports.tables import TABLES
from shifts.notices.orm import StatusService
from shifts.visitors.orm import VisitorClient, VisitRow
from tests.dutydesk.reports.seed import October, seed_october
from tests.dutydesk.reports.test_reports_web import MONTH, csv_of, page_tables


@pytest.fixture
def october(db: Database) -> October:
    return seed_october(db)


@pytest.fixture
def lead(signed_in: Any) -> Any:
    return signed_in("shift_lead")


@pytest.fixture
def split(db: Database, october: October) -> October:
    """Mail (incidents A, B, G, its checks and status service, Acme's visits) in Amsterdam;
    VPN and the rest (C, D, E, F, the VPN check, the intranet, Skyline's visits) in Frankfurt."""
    i = october.incidents
    with db.session() as s:
        ams = Site(slug="ams", name="DC Amsterdam", time_zone="Europe/Amsterdam")
        fra = Site(slug="fra", name="DC Frankfurt", time_zone="Europe/Berlin")
        s.add_all([ams, fra])
        s.flush()
        mail = [i["A"], i["B"], i["G"]]
        s.execute(update(Incident).where(Incident.id.in_(mail)).values(site_id=ams.id))
        s.execute(update(Incident).where(Incident.id.not_in(mail)).values(site_id=fra.id))
        s.execute(update(Check).values(site_id=fra.id))
        s.execute(update(Check).where(Check.service == "Mail").values(site_id=ams.id))
        s.execute(update(StatusService).values(site_id=fra.id))
        s.execute(update(StatusService).where(StatusService.slug == "mail")
                  .values(site_id=ams.id))
        acme = s.query(VisitorClient.id).filter(VisitorClient.name == "Acme").scalar()
        s.execute(update(VisitRow).values(site_id=fra.id))
        s.execute(update(VisitRow).where(VisitRow.client_id == acme).values(site_id=ams.id))
    return october


def _tables(lead: Any, query: str) -> dict[str, list[list[str]]]:
    return {name: rows for name, (_headers, rows) in page_tables(lead, query).items()}


def test_each_site_counts_its_own_and_the_sites_add_up(lead: Any, split: October) -> None:
    i = split.incidents
    ams, fra = _tables(lead, MONTH + "&site=ams"), _tables(lead, MONTH + "&site=fra")
    every = _tables(lead, MONTH)
    assert ams["sla"][-1][:2] == ["All priorities", "3"]  # A, B, G
    assert fra["sla"][-1][:2] == ["All priorities", "3"]  # C, D, E
    assert every["sla"][-1][:2] == ["All priorities", "6"]
    counts = {site: {row[0]: int(row[1]) for row in t["response"]} for site, t in
              (("ams", ams), ("fra", fra), ("all", every))}
    for priority, total in counts["all"].items():
        assert counts["ams"].get(priority, 0) + counts["fra"].get(priority, 0) == total
    assert ams["services"] == [["Mail", "3", "100.0"]]
    assert fra["breaches"] == [[f"#{i['C']}", "VPN refuses logins", "P2", "VPN", "resolve",
                                "540.0", "480.0", "60.0"]]
    # Checks and the status page: Mail's checks and service are Amsterdam's only.
    assert [row[0] for row in ams["availability"]] == ["Mail"]
    assert ams["availability"][0][1:3] == ["81.25", "45.0"]
    assert [row[0] for row in fra["availability"]] == ["VPN", "Intranet"]
    assert ams["visitors"] == [["2026-10", "Acme", "1", "1.0", "1"]]
    assert fra["visitors"] == [["2026-10", "Skyline Hosting", "2", "4.5", "0"]]


def test_the_csv_follows_the_site_and_the_selector_offers_every_site(
    lead: Any, split: October
) -> None:
    query = MONTH + "&site=fra"
    page = page_tables(lead, query)
    for name in TABLES:
        assert csv_of(lead, name, query) == page[name], name
    html = lead.get("/reports" + query).get_data(as_text=True)
    assert '<option value="fra" selected>DC Frankfurt</option>' in html
    assert "DC Amsterdam" in html
    assert "site=fra" not in html.split("reports/requests", 1)[1].split('"', 1)[0]


def test_a_single_site_has_no_selector_and_a_bad_site_is_refused(
    lead: Any, october: October
) -> None:
    html = lead.get("/reports" + MONTH).get_data(as_text=True)
    assert 'name="site"' not in html
    missing = lead.get("/reports" + MONTH + "&site=nowhere")
    assert missing.status_code == 404 and "nowhere" in missing.get_data(as_text=True)
    assert lead.get("/reports/sla.csv" + MONTH + "&site=nowhere").status_code == 404
    refused = lead.get("/reports/requests" + MONTH + "&site=default")
    assert refused.status_code == 400 and "per site" in refused.get_data(as_text=True)
