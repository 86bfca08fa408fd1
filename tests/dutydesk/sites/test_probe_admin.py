"""An admin creates a probe for a site, hands its one-time token to the site, and can revoke it;
checks given to a probe are no longer run by the central workers."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from checks.models import CheckStateRow
from checks.store import CheckStore
from dutydesk.cli import main
from dutydesk.core.db import Database, utcnow
from dutydesk.sites.models import Probe
from dutydesk.sites.service import ProbeError, authenticate, enrol
from tests.checks.engine_helpers import add_check


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Any:
    def invoke(*args: str) -> Any:
        env = {"DUTYDESK_DATABASE_URL": database_url, "DUTYDESK_CONFIG": "",
               "DUTYDESK_INSTANCE_PATH": str(tmp_path / "instance")}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False,
                                  prog_name="dutydesk")
    return invoke


def _token(output: str) -> str:
    found = re.search(r"(ddpe_\S+)", output)
    assert found, output
    return found.group(1)


def test_create_prints_a_one_time_token_that_enrols_once(run: Any, db: Database) -> None:
    created = run("probe", "create", "--site", "default", "kyiv-dc2")
    assert created.exit_code == 0, created.output
    token = _token(created.output)
    with db.session() as s:
        probe = s.scalar(select(Probe).where(Probe.name == "kyiv-dc2"))
        assert probe.enrol_token_hash and token not in probe.enrol_token_hash  # stored hashed
        issued = enrol(s, token, utcnow(), "1.0")
    with db.session() as s:
        assert authenticate(s, issued.secret).name == "kyiv-dc2"
        tampered = issued.secret[:-1] + ("B" if issued.secret[-1] == "A" else "A")
        assert authenticate(s, tampered) is None
        with pytest.raises(ProbeError):
            enrol(s, token, utcnow())  # a token works once


def test_an_expired_token_enrols_nothing(run: Any, db: Database) -> None:
    token = _token(run("probe", "create", "--site", "default", "late").output)
    with db.session() as s, pytest.raises(ProbeError):
        enrol(s, token, utcnow() + timedelta(days=2))


def test_revoking_a_probe_ends_its_credential(run: Any, db: Database) -> None:
    token = _token(run("probe", "create", "--site", "default", "p1").output)
    with db.session() as s:
        secret = enrol(s, token, utcnow()).secret
    assert run("probe", "revoke", "--site", "default", "p1").exit_code == 0
    with db.session() as s:
        assert authenticate(s, secret) is None
    listed = run("probe", "list").output
    assert "p1" in listed and "revoked" in listed


def test_bad_names_and_unknown_sites_are_refused_clearly(run: Any) -> None:
    assert run("probe", "create", "--site", "nowhere", "p").exit_code != 0
    bad = run("probe", "create", "--site", "default", "Bad Name!")
    assert bad.exit_code != 0 and "probe name" in bad.output
    run("probe", "create", "--site", "default", "twice")
    again = run("probe", "create", "--site", "default", "twice")
    assert again.exit_code != 0 and "already has" in again.output


def test_central_workers_skip_a_check_assigned_to_a_probe(run: Any, db: Database) -> None:
    local = add_check(db, "local", "http://127.0.0.1:9/")
    remote = add_check(db, "remote", "http://127.0.0.1:9/")
    with db.session() as s:
        for state in s.scalars(select(CheckStateRow)):
            state.next_due_at = utcnow() - timedelta(seconds=5)
    run("probe", "create", "--site", "default", "p2")
    assigned = run("probe", "assign", "--site", "default", "--probe", "p2", "remote")
    assert assigned.exit_code == 0, assigned.output
    claimed = {c.check_id for c in CheckStore(db).claim_due(utcnow(), horizon=1)}
    assert local in claimed and remote not in claimed


def test_a_push_check_cannot_be_given_to_a_probe(run: Any, db: Database) -> None:
    add_check(db, "backup-job", "", type="heartbeat", spec={"period": 3600, "grace": 600})
    run("probe", "create", "--site", "default", "p3")
    refused = run("probe", "assign", "--site", "default", "--probe", "p3", "backup-job")
    assert refused.exit_code != 0 and "push check" in refused.output


def test_reenrol_gives_a_replaced_probe_a_new_token_and_keeps_its_identity(
        run: Any, db: Database) -> None:
    token = _token(run("probe", "create", "--site", "default", "p4").output)
    with db.session() as s:
        old = enrol(s, token, utcnow())
        s.scalar(select(Probe).where(Probe.name == "p4")).last_seq = 500
    again = run("probe", "reenrol", "--site", "default", "p4")
    assert again.exit_code == 0, again.output
    with db.session() as s:
        assert authenticate(s, old.secret) is not None  # works until the new token is used
        new = enrol(s, _token(again.output), utcnow())
    with db.session() as s:
        assert new.probe_id == old.probe_id
        assert authenticate(s, old.secret) is None and authenticate(s, new.secret) is not None
        assert s.get(Probe, new.probe_id).last_seq == 500  # numbered on above it
    run("probe", "revoke", "--site", "default", "p4")
    refused = run("probe", "reenrol", "--site", "default", "p4")
    assert refused.exit_code != 0 and "revoked" in refused.output
    missing = run("probe", "reenrol", "--site", "default", "nobody")
    assert missing.exit_code != 0 and "no probe" in missing.output


def test_assign_gives_a_check_several_locations_and_k(run: Any, db: Database) -> None:
    check_id = add_check(db, "core-sw", "http://127.0.0.1:9/")
    run("probe", "create", "--site", "default", "kyiv-dc2")
    run("probe", "create", "--site", "default", "lviv-dc1")
    done = run("probe", "assign", "--probe", "default/kyiv-dc2", "--probe", "default/lviv-dc1",
               "--centre", "--min-down", "2", "core-sw")
    assert done.exit_code == 0, done.output
    assert ("runs at centre, default/kyiv-dc2, default/lviv-dc1; down when 2 of 3 see it down"
            in done.output)
    with db.session() as s:
        state = s.get(CheckStateRow, check_id)
        state.next_due_at = utcnow() - timedelta(seconds=5)
    assert check_id in {c.check_id for c in CheckStore(db).claim_due(utcnow(), horizon=1)}
    # k above the number of locations: refused, nothing changed
    refused = run("probe", "assign", "--site", "default", "--probe", "kyiv-dc2",
                  "--min-down", "2", "core-sw")
    assert refused.exit_code != 0 and "must be 1..1" in refused.output
    from dutydesk.sites.models import CheckProbe
    with db.session() as s:
        assert len(s.scalars(select(CheckProbe).where(CheckProbe.check_id == check_id)).all()) == 2
    back = run("probe", "assign", "core-sw")
    assert back.exit_code == 0 and "runs at centre; down when 1 of 1" in back.output


def test_checks_as_code_sets_locations_and_k_with_clear_errors(
        run: Any, db: Database, tmp_path: Any) -> None:
    run("probe", "create", "--site", "default", "probe-a")
    config = tmp_path / "checks.yaml"

    def apply(locations: str, k: int) -> Any:
        config.write_text("checks:\n  - name: core-sw\n    type: http\n"
                          "    spec: {url: 'http://127.0.0.1:9/'}\n"
                          f"    locations: {locations}\n    min_locations_down: {k}\n")
        return run("checks", "apply", str(config))

    done = apply("[centre, default/probe-a]", 2)
    assert done.exit_code == 0, done.output
    from checks.models import Check
    from dutydesk.sites.service import runs_on
    with db.session() as s:
        check = s.scalar(select(Check).where(Check.slug == "core-sw"))
        assert check.min_locations_down == 2 and check.run_at_centre
        assert [seen.name for seen in runs_on(s, check.id)] == ["centre", "default/probe-a"]
    too_many = apply("[centre, default/probe-a]", 3)
    assert too_many.exit_code != 0 and "min_locations_down must be 1..2" in too_many.output
    unknown = apply("[centre, default/probe-z]", 1)
    assert unknown.exit_code != 0 and "no live probe 'default/probe-z'" in unknown.output
    with db.session() as s:  # the refused files changed nothing
        assert s.scalar(select(Check).where(Check.slug == "core-sw")).min_locations_down == 2
