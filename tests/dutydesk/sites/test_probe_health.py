"""A silent probe is one "probe offline" incident for its site; its checks show UNKNOWN with the
reason, never CRITICAL, and open no incident of their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from checks.models import Check, CheckStateRow, FlipRow
from dutydesk.core.db import Database
from dutydesk.incidents.models import Incident
from dutydesk.sites.health import watch_probes
from dutydesk.sites.models import Probe, Site
from dutydesk.sites.service import assign_check, create_probe, enrol, find_probe
from tests.checks.engine_helpers import add_check

T0 = datetime(2026, 12, 7, 8, 42, tzinfo=UTC)  # 10:42 in Kyiv


def _probe_with_checks(db: Database, n: int = 3) -> list[int]:
    ids = [add_check(db, f"pdu-{i}", "http://127.0.0.1:9/") for i in range(n)]
    with db.session() as s:
        site = Site(slug="kyiv-dc2", name="Kyiv DC2", time_zone="Europe/Kyiv")
        s.add(site)
        s.flush()
        token = create_probe(s, "kyiv-dc2", "probe-1", T0).secret
        enrol(s, token, T0)
        probe = find_probe(s, "kyiv-dc2", "probe-1")
        for cid in ids:
            s.get(Check, cid).site_id = site.id  # a probe runs checks of its own site
            assign_check(s, cid, probe)
        for state in s.scalars(select(CheckStateRow)):
            state.status = "OK"
    return ids


def _incidents(db: Database) -> list[Any]:
    with db.session() as s:
        return s.execute(select(Incident.title, Incident.status, Incident.dedup_key)).all()


def test_a_probe_silent_past_its_grace_is_one_incident_and_its_checks_unknown(
        db: Database, settings: Any) -> None:
    ids = _probe_with_checks(db)
    assert watch_probes(db, settings, now=T0 + timedelta(seconds=60)) == 0  # within grace
    later = T0 + timedelta(minutes=5)
    assert watch_probes(db, settings, now=later) == 1
    assert watch_probes(db, settings, now=later + timedelta(minutes=1)) == 0  # not again
    incidents = _incidents(db)
    assert len(incidents) == 1 and "probe-1" in incidents[0].title
    with db.session() as s:  # the incident is the probe's site's
        assert s.scalar(select(Site.slug).join(Incident, Incident.site_id == Site.id)) == (
            "kyiv-dc2")
    with db.session() as s:
        states = s.scalars(select(CheckStateRow).where(CheckStateRow.check_id.in_(ids))).all()
        flips = s.scalar(select(func.count()).select_from(FlipRow))
    assert {st.status for st in states} == {"UNKNOWN"}
    assert {st.last_message for st in states} == {"no data from probe probe-1 since 10:42"}
    assert flips == 0  # no check flip, so no check incident


def test_the_incident_resolves_when_the_probe_is_heard_again(
        db: Database, settings: Any) -> None:
    _probe_with_checks(db, 1)
    watch_probes(db, settings, now=T0 + timedelta(minutes=5))
    with db.session() as s:
        s.scalar(select(Probe)).last_contact_at = T0 + timedelta(minutes=6)
    assert watch_probes(db, settings, now=T0 + timedelta(minutes=6, seconds=5)) == 1
    assert [i.status for i in _incidents(db)] == ["resolved"]


def test_a_revoked_probe_raises_nothing(db: Database, settings: Any) -> None:
    _probe_with_checks(db, 1)
    with db.session() as s:
        s.scalar(select(Probe)).revoked_at = T0
    assert watch_probes(db, settings, now=T0 + timedelta(hours=1)) == 0
    assert _incidents(db) == []
