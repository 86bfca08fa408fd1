"""The visitor desk per site (issue 18): badges, on-site lists and access requests belong to one
site's desk, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dutydesk.core.db import Database
from dutydesk.core.sites import Site
from shifts.visitors import service as svc
from shifts.visitors.decision import RuleCode

from .service_helpers import ACTOR, NOW, POLICY, arrive, make_site


@pytest.fixture
def sites(db: Database) -> dict[str, int]:
    ids = make_site(db)
    with db.session() as s:
        for slug in ("ams", "fra"):
            row = Site(slug=slug, name=slug.upper(), time_zone="Europe/Amsterdam")
            s.add(row)
            s.flush()
            ids[slug] = row.id
    return ids


def _check_in(db: Database, ids: dict[str, int], name: str, badge: str, site: str):
    with db.session() as s:
        return svc.check_in(s, ACTOR, client_id=ids["client"], attempt=arrive(name, badge),
                            policy=POLICY, now=NOW, site_id=ids[site]).decision


def test_one_badge_number_may_be_out_at_two_sites_but_not_twice_at_one(
    db: Database, sites: dict[str, int]
) -> None:
    assert _check_in(db, sites, "Ivan Petrov", "B7", "ams").allowed
    assert _check_in(db, sites, "Maria Kovalenko", "B7", "fra").allowed
    with db.session() as s:
        second = svc.check_in(s, ACTOR, client_id=sites["client"],
                              attempt=arrive("Maria Kovalenko", "B7"), policy=POLICY,
                              now=NOW + timedelta(minutes=1), site_id=sites["ams"]).decision
    assert (second.allowed, second.code) == (False, RuleCode.BADGE_IN_USE)


def test_each_sites_on_site_list_holds_only_its_own_visitors(
    db: Database, sites: dict[str, int]
) -> None:
    _check_in(db, sites, "Ivan Petrov", "B1", "ams")
    _check_in(db, sites, "Maria Kovalenko", "B2", "fra")
    with db.session() as s:
        at = {slug: [o.visit.person_name for o in svc.on_site_now(s, NOW, sites[slug])]
              for slug in ("ams", "fra")}
        everywhere = {o.visit.person_name for o in svc.on_site_now(s, NOW)}
        badges = [b.badge_number for b in svc.open_badges_now(s, NOW, sites["fra"])]
    assert at == {"ams": ["Ivan Petrov"], "fra": ["Maria Kovalenko"]}
    assert everywhere == {"Ivan Petrov", "Maria Kovalenko"}
    assert badges == ["B2"]


def test_an_access_request_lets_people_in_at_its_own_site_only(
    db: Database, sites: dict[str, int]
) -> None:
    with db.session() as s:
        req = svc.create_request(s, ACTOR, client_id=sites["client"], people=["Olha Shevchenko"],
                                 window_start=NOW - timedelta(hours=1),
                                 window_end=NOW + timedelta(hours=4), areas="Hall A",
                                 requested_by="Acme ops", now=NOW, site_id=sites["fra"])
        svc.decide_request(s, "lead@dc.example", req.id, approve=True, now=NOW)
    elsewhere = _check_in(db, sites, "Olha Shevchenko", "B3", "ams")
    assert not elsewhere.allowed and elsewhere.code == RuleCode.NOT_AUTHORISED
    assert _check_in(db, sites, "Olha Shevchenko", "B3", "fra").allowed
