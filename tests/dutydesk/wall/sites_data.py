"""Sites, remote probes and per-site incidents for the wall's site tests (rows written directly,
the way the sites admin, the probe API and the incident pipeline leave them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from dutydesk.core.db import Database, utcnow
from dutydesk.core.sites import Site


def add_site(db: Database, slug: str, name: str, zone: str = "UTC") -> int:
    with db.session() as s:
        site = Site(slug=slug, name=name, time_zone=zone)
        s.add(site)
        s.flush()
        return site.id


def default_site(db: Database) -> int:
    with db.session() as s:
        found = s.scalar(select(Site.id).where(Site.slug == "default"))
        if found is None:
            site = Site(slug="default", name="Default site", time_zone="UTC")
            s.add(site)
            s.flush()
            found = site.id
        return found


def add_probe(db: Database, site_id: int, name: str, *, silent: timedelta,
              buffered: int = 0, dropped: int = 0, grace: float = 120.0,
              now: datetime | None = None) -> int:
    """An enrolled probe last heard from ``silent`` ago."""
    from dutydesk.sites.models import Probe

    now = now or utcnow()
    with db.session() as s:
        probe = Probe(site_id=site_id, name=name, credential_hash="0" * 64, version="1.0",
                      last_contact_at=now - silent, buffer_depth=buffered, dropped_total=dropped,
                      grace_seconds=grace)
        s.add(probe)
        s.flush()
        return probe.id


def add_incident(db: Database, title: str, site_id: int, *, acknowledged: bool = False) -> int:
    from dutydesk.incidents.models import Incident, IncidentEventRow

    now = utcnow() - timedelta(minutes=3)
    with db.session() as s:
        incident = Incident(dedup_key=title, open_key=title, title=title, source="manual",
                            priority="P2", status="acknowledged" if acknowledged else "triggered",
                            acknowledged_by="Maria" if acknowledged else None,
                            acknowledged_at=now if acknowledged else None,
                            created_at=now, updated_at=now, site_id=site_id)
        s.add(incident)
        s.flush()
        s.add(IncidentEventRow(incident_id=incident.id, kind="triggered", at=now, actor="test",
                               data={"priority": "P2", "line": "first_line"}))
        return incident.id


FIVE_SITES = [("kyiv-dc2", "Kyiv DC2", "Europe/Kyiv"), ("lviv", "Lviv", "Europe/Kyiv"),
              ("warsaw", "Warsaw", "Europe/Warsaw"), ("frankfurt", "Frankfurt", "Europe/Berlin")]


def spread_over_sites(db: Database) -> list[int]:
    """Move every check and incident into one of five sites (the default one and
    ``FIVE_SITES``) by id, round robin, in one UPDATE per site; returns the site ids."""
    from sqlalchemy import update

    from checks.models import Check
    from dutydesk.incidents.models import Incident

    ids = [default_site(db)] + [add_site(db, *spec) for spec in FIVE_SITES]
    with db.session() as s:
        for k, site_id in enumerate(ids[:5]):
            s.execute(update(Check).where(Check.id % 5 == k).values(site_id=site_id))
            s.execute(update(Incident).where(Incident.id % 5 == k).values(site_id=site_id))
    return ids[:5]
