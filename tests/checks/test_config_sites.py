"""Checks as code knows the data centers: ``site: kyiv-dc2`` puts a check in that site (left
out: the default site), ``maintenance: - site: kyiv-dc2`` covers every check of it, an unknown
site is refused naming the file, line and check, and the export round-trips."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from checks.config import ChecksConfigError, parse_config
from checks.config_db import apply, export, plan
from checks.models import Check, MaintenanceWindowRow
from dutydesk.core.db import Database
from dutydesk.core.site_registry import create_site
from dutydesk.core.sites import Site

FILE = """\
checks:
  - name: ups-kyiv
    type: tcp
    spec: {host: 127.0.0.1, port: 22}
    site: kyiv-dc2
  - name: ups-hq
    type: tcp
    spec: {host: 127.0.0.1, port: 23}
maintenance:
  - name: power work
    site: kyiv-dc2
    kind: weekly
    zone: Europe/Kyiv
    weekdays: [sun]
    start_time: "02:00"
    duration: 2h
"""


def _sites(db: Database) -> dict[str, str]:
    with db.session() as s:
        rows = s.execute(select(Check.slug, Site.slug).join(Site, Site.id == Check.site_id))
        return {check: site for check, site in rows}


def test_checks_land_in_their_site_and_the_window_covers_the_site(db: Database) -> None:
    with db.session() as s:
        create_site(s, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv")
    with db.session() as s:
        apply(s, parse_config(FILE, "dc.yaml"), "test")
    assert _sites(db) == {"ups-kyiv": "kyiv-dc2", "ups-hq": "default"}
    with db.session() as s:
        window = s.scalar(select(MaintenanceWindowRow))
        assert (window.check_id, window.group_id) == (None, None)
        assert s.get(Site, window.site_id).slug == "kyiv-dc2"
        assert plan(s, parse_config(FILE)).empty  # applied: nothing moves
        exported = export(s)
    assert "site: kyiv-dc2" in exported and exported.count("site:") == 2  # check + window
    with db.session() as s:
        assert plan(s, parse_config(exported)).empty


def test_moving_a_check_to_another_site_is_a_change(db: Database) -> None:
    with db.session() as s:
        create_site(s, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv")
        create_site(s, "lviv-dc1", "Lviv DC1", "Europe/Kyiv")
    with db.session() as s:
        apply(s, parse_config(FILE), "test")
    moved = parse_config(FILE.replace("    site: kyiv-dc2\n  - name: ups-hq",
                                      "    site: lviv-dc1\n  - name: ups-hq"))
    with db.session() as s:
        assert plan(s, moved).changed == ["check 'ups-kyiv': site"]
        apply(s, moved, "test")
    assert _sites(db)["ups-kyiv"] == "lviv-dc1"


def test_an_unknown_site_is_refused_naming_file_line_and_check(db: Database) -> None:
    config = parse_config(FILE, "dc.yaml")
    with db.session() as s, pytest.raises(ChecksConfigError) as refused:
        apply(s, config, "test")
    errors = refused.value.errors
    assert errors[0].startswith("dc.yaml:2 check 'ups-kyiv': site 'kyiv-dc2' is not a site "
                                "here (known: default;")
    assert errors[1].startswith("dc.yaml:10 maintenance 'power work': site 'kyiv-dc2'")
    with db.session() as s:
        assert s.scalars(select(Check)).all() == []  # nothing applied


@pytest.mark.parametrize(("text", "message"), [
    (FILE.replace("site: kyiv-dc2\n  - name", "site: Kyiv DC2\n  - name"),
     "site slug must be 1-64 of a-z 0-9 -"),
    (FILE.replace("    site: kyiv-dc2\n    kind", "    site: kyiv-dc2\n    check: ups-hq\n"
                  "    kind"), "exactly one of check, group or site"),
])
def test_a_malformed_site_is_refused_before_anything_is_read(text: str, message: str) -> None:
    with pytest.raises(ChecksConfigError, match=message):
        parse_config(text)
