"""An admin manages the data centers from the CLI (``dutydesk site``): creates one with its zone,
lists them with their checks and probes, renames one, and deletes only an empty one — never the
default site. Every change lands in the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dutydesk.cli import main
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.site_registry import SiteError, check_zone, create_site, delete_site
from dutydesk.core.sites import Site
from tests.checks.engine_helpers import add_check


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Any:
    def invoke(*args: str) -> Any:
        env = {"DUTYDESK_DATABASE_URL": database_url, "DUTYDESK_CONFIG": "",
               "DUTYDESK_INSTANCE_PATH": str(tmp_path / "instance")}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False,
                                  prog_name="dutydesk")
    return invoke


def test_an_admin_creates_lists_edits_and_deletes_a_site(run: Any, db: Database) -> None:
    made = run("site", "create", "kyiv-dc2", "--name", "Kyiv DC2", "--zone", "Europe/Kyiv")
    assert made.exit_code == 0, made.output
    listed = run("site", "list").output.splitlines()
    assert listed[1].startswith("default\t") and "kyiv-dc2\tKyiv DC2\tEurope/Kyiv\t0\t0" in listed
    edited = run("site", "edit", "kyiv-dc2", "--name", "Kyiv DC-2", "--zone", "Europe/Warsaw")
    assert edited.exit_code == 0, edited.output
    with db.session() as s:
        site = s.scalar(select(Site).where(Site.slug == "kyiv-dc2"))
        assert (site.name, site.time_zone) == ("Kyiv DC-2", "Europe/Warsaw")
    assert run("site", "delete", "kyiv-dc2").exit_code == 0
    with db.session() as s:
        assert s.scalar(select(Site).where(Site.slug == "kyiv-dc2")) is None
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        edit = s.scalar(select(AuditEntry).where(AuditEntry.action == "site.edit"))
    assert actions == ["site.create", "site.edit", "site.delete"]
    assert edit.before["time_zone"] == "Europe/Kyiv" and edit.after["name"] == "Kyiv DC-2"


@pytest.mark.parametrize(("args", "message"), [
    (("create", "Kyiv DC2", "--name", "x"), "site slug must be 1-64 of a-z 0-9 -"),
    (("create", "kyiv", "--name", "Kyiv", "--zone", "Europe/Kiev2"),
     "zone must be an IANA time zone"),
    (("create", "kyiv", "--name", "   "), "site name must be 1-200"),
    (("create", "default", "--name", "again"), "a site 'default' already exists"),
    (("edit", "nowhere", "--name", "x"), "no site 'nowhere' (known: default)"),
    (("delete", "default"), "the default site cannot be deleted"),
])
def test_a_bad_request_is_refused_with_a_message(run: Any, args: tuple[str, ...],
                                                 message: str) -> None:
    answer = run("site", *args)
    assert answer.exit_code == 1 and message in answer.output, answer.output


def test_a_site_with_checks_or_probes_is_not_deleted(run: Any, db: Database) -> None:
    from dutydesk.sites.service import create_probe

    run("site", "create", "lviv", "--name", "Lviv")
    check_id = add_check(db, "ups-lviv", "http://127.0.0.1:9/")
    with db.session() as s:
        lviv = s.scalar(select(Site).where(Site.slug == "lviv"))
        from checks.models import Check
        s.get(Check, check_id).site_id = lviv.id
        create_probe(s, "lviv", "lviv-1", utcnow())
    answer = run("site", "delete", "lviv")
    assert answer.exit_code == 1
    assert "site 'lviv' still has 1 checks, 1 probes: move or delete them first" in answer.output
    assert "lviv\tLviv\tUTC\t1\t1" in run("site", "list").output
    with db.session() as s:
        assert s.scalar(select(Site.id).where(Site.slug == "lviv")) is not None


def test_the_rules_are_the_same_without_the_cli(db: Database) -> None:
    with db.session() as s:
        create_site(s, "odesa", "Odesa", "Europe/Kyiv")
        with pytest.raises(SiteError) as refused:
            create_site(s, "odesa", "Odesa again")
        assert refused.value.code == "exists"
        delete_site(s, "odesa")
    for bad in ("", "Mars/Olympus", "/etc/passwd", "../UTC"):
        with pytest.raises(SiteError):
            check_zone(bad)
    assert check_zone(" Europe/Kyiv ") == "Europe/Kyiv"
