"""Status services per site (issue 18): the service editor sets a service's site, the public page
groups services by site when they span several, and the Statuspage JSON keeps its shape."""

from __future__ import annotations

import re
from typing import Any

from dutydesk.core.db import Database, utcnow
from dutydesk.core.sites import Site
from dutydesk.models import Role
from shifts.notices import service as svc
from shifts.notices.orm import StatusService

from ..conftest import form_token


def _sites(db: Database) -> None:
    with db.session() as s:
        s.add_all([Site(slug="ams", name="DC Amsterdam", time_zone="Europe/Amsterdam"),
                   Site(slug="fra", name="DC Frankfurt", time_zone="Europe/Berlin")])


def _services(db: Database, **sites: str | None) -> None:
    with db.session() as s:
        for slug, site in sites.items():
            svc.save_service(s, "admin", slug=slug, name=slug.upper(), now=utcnow(), site=site)


def _services_section(html: str) -> str:
    return html.split('class="services"', 1)[1].split("</section>", 1)[0]


def test_one_site_keeps_the_page_as_it_was(client: Any, db: Database) -> None:
    _sites(db)  # sites exist, but every service is the default site's
    _services(db, mail=None, vpn=None)
    section = _services_section(client.get("/status").get_data(as_text=True))
    assert "DC Amsterdam" not in section and "Default site" not in section
    assert "MAIL" in section and "VPN" in section


def test_services_of_several_sites_are_grouped_under_each_sites_heading(
    client: Any, db: Database, monkeypatch: Any
) -> None:
    from dutydesk.web import status_snapshot

    monkeypatch.setattr(status_snapshot, "GENERATION_CHECK", 0.0)  # see changes at once
    _services(db, mail=None)
    (alone,) = _components(client)
    _sites(db)
    _services(db, vpn="fra", erp="ams")
    with db.session() as s:
        svc.move_service(s, "admin", s.query(StatusService.id).filter(
            StatusService.slug == "mail").scalar(), site="ams", now=utcnow())
    section = _services_section(client.get("/status").get_data(as_text=True))
    headings = re.findall(r"<h3>([^<]+)</h3>", section)
    assert headings == ["DC Amsterdam", "DC Frankfurt"]
    amsterdam, frankfurt = section.split("<h3>DC Frankfurt</h3>")
    assert "MAIL" in amsterdam and "ERP" in amsterdam and "VPN" not in amsterdam
    assert "VPN" in frankfurt and "MAIL" not in frankfurt
    # The Statuspage JSON keeps every component's fields (external parsers read it).
    components = _components(client)
    assert {c["name"] for c in components} == {"MAIL", "VPN", "ERP"}
    assert all(set(c) == set(alone) for c in components)


def _components(client: Any) -> list[dict[str, Any]]:
    return client.get("/api/v2/summary.json").get_json()["components"]


def test_the_editor_sets_and_moves_a_services_site(signed_in: Any, db: Database) -> None:
    admin = signed_in(Role.ADMIN)
    assert 'name="site"' not in admin.get("/notices/services").get_data(as_text=True)
    _sites(db)
    token = form_token(admin, "/notices/services")
    admin.post("/notices/services", data={"csrf_token": token, "what": "service",
                                          "slug": "mail", "name": "Mail", "site": "fra"})
    refused = admin.post("/notices/services", follow_redirects=True, data={
        "csrf_token": token, "what": "service", "slug": "vpn", "name": "VPN",
        "site": "nowhere"}).get_data(as_text=True)
    assert "no site with the slug" in refused and "nowhere" in refused
    with db.session() as s:
        rows = {r.slug: s.get(Site, r.site_id).slug for r in s.query(StatusService)}
        mail_id = s.query(StatusService.id).filter(StatusService.slug == "mail").scalar()
    assert rows == {"mail": "fra"}
    admin.post("/notices/services", data={"csrf_token": token, "what": "site",
                                          "service_id": str(mail_id), "site": "ams"})
    with db.session() as s:
        assert s.get(Site, s.get(StatusService, mail_id).site_id).slug == "ams"
    page = admin.get("/notices/services").get_data(as_text=True)
    assert "DC Amsterdam" in page and 'name="site"' in page
