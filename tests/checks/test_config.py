"""Checks as code: YAML errors name file, line and check; apply is all or nothing; export
round-trips; the CLI prints a dry-run diff."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from checks.config import ChecksConfigError, parse_config
from checks.config_db import apply, export, plan
from checks.models import Check, CheckDependency, CheckGroup, MaintenanceWindowRow
from dutydesk.core.db import Database

GOOD = """
groups:
  - path: Hall A / UPS
    description: UPS room
checks:
  - name: core-sw
    type: tcp
    spec: {host: 127.0.0.1, port: 22}
    group: Hall A / Net
  - name: ups-a
    type: http
    spec:
      url: http://127.0.0.1:9/status
      headers: {Authorization: "Bearer ${UPS_TOKEN}"}
    group: Hall A / UPS
    interval: 30s
    max_attempts: 2
    parents: [core-sw]
    impact: 1
maintenance:
  - name: patch night
    group: Hall A
    kind: weekly
    zone: Europe/Kyiv
    weekdays: [sun]
    start_time: "02:00"
    duration: 2h
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the example from the issue: the line of the bad field, the check's name, the rule
        ("checks:\n  - name: ups-a\n    type: http\n    spec: {url: http://x/}\n"
         "    interval: 0\n", "checks.yaml:5 check 'ups-a': interval must be at least 5 s, got 0"),
        # an unknown spec field points at the spec line
        ("checks:\n  - name: s1\n    type: tcp\n    spec: {host: h, port: 1, colour: red}\n",
         "checks.yaml:4 check 's1': colour is not a field of a tcp check"),
        # a missing environment variable
        ("checks:\n  - name: s2\n    type: http\n    spec: {url: 'http://${NO_SUCH_VAR_DD}/'}\n",
         "checks.yaml:4: environment variable NO_SUCH_VAR_DD is not set"),
        # broken YAML
        ("checks:\n  - name: [oops\n", "checks.yaml:3: not valid YAML"),
        # a parent that does not exist
        ("checks:\n  - name: s3\n    type: tcp\n    spec: {host: h, port: 1}\n"
         "    parents: [ghost]\n", "checks.yaml:2 check 's3': parent 'ghost' is not a check"),
        # the same name twice
        ("checks:\n  - {name: d, type: tcp, spec: {host: h, port: 1}}\n"
         "  - {name: d, type: tcp, spec: {host: h, port: 2}}\n",
         "checks.yaml:3 check 'd': name already used on line 2"),
    ],
)
def test_errors_name_file_line_and_check(text: str, expected: str) -> None:
    with pytest.raises(ChecksConfigError) as caught:
        parse_config(text)
    assert any(line.startswith(expected) for line in caught.value.errors), caught.value.errors


def test_environment_variables_are_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPS_TOKEN", "s3cret")
    config = parse_config(GOOD)
    ups = next(c for c in config.checks if c.name == "ups-a")
    assert ups.values["spec"]["headers"] == {"Authorization": "Bearer s3cret"}
    assert ups.values["interval"] == 30.0
    assert config.all_groups[:2] == ("Hall A", "Hall A / UPS")


def test_apply_shows_a_diff_then_changes_only_what_moved(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPS_TOKEN", "t")
    config = parse_config(GOOD)
    with db.session() as s:
        first = plan(s, config)
    assert "check 'ups-a'" in first.added and "check 'core-sw'" in first.added
    with db.session() as s:
        apply(s, config, "test")
    with db.session() as s:
        assert plan(s, config).empty
        ups = s.scalar(select(Check).where(Check.slug == "ups-a"))
        group = s.get(CheckGroup, ups.group_id)
        assert group.path == "Hall A / UPS" and group.description == "UPS room"
        assert s.scalar(select(CheckDependency.child_id)) == ups.id
        assert s.scalar(select(MaintenanceWindowRow.kind)) == "weekly"
    changed = parse_config(GOOD.replace("max_attempts: 2", "max_attempts: 4")
                           .replace("  - name: core-sw\n    type: tcp\n    spec: {host: 127.0.0.1,"
                                    " port: 22}\n    group: Hall A / Net\n", "")
                           .replace("    parents: [core-sw]\n", ""))
    with db.session() as s:
        diff = plan(s, changed)
    assert diff.changed == ["check 'ups-a': max_attempts, parents"]
    assert diff.removed == ["check 'core-sw'"]


def test_export_is_accepted_by_apply_unchanged(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPS_TOKEN", "t")
    with db.session() as s:
        apply(s, parse_config(GOOD), "test")
    with db.session() as s:
        exported = export(s)
    with db.session() as s:
        assert plan(s, parse_config(exported)).empty


def test_export_round_trips_the_locations_and_k(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check watched from the centre and a probe, down when 2 of 2 see it down, exports
    with ``locations`` and ``min_locations_down``; a centre-only check exports without them;
    applying the export restores the locations after someone changed them."""
    from dutydesk.core.db import utcnow
    from dutydesk.sites.models import CheckProbe
    from dutydesk.sites.service import create_probe, find_probe, revoke_probe, set_locations

    monkeypatch.setenv("UPS_TOKEN", "t")
    with db.session() as s:
        create_probe(s, "default", "probe-a", utcnow())
        create_probe(s, "default", "probe-b", utcnow())
    located = GOOD.replace("    impact: 1\n", "    impact: 1\n    locations: [centre, "
                           "default/probe-a]\n    min_locations_down: 2\n")
    with db.session() as s:
        apply(s, parse_config(located), "test")
    with db.session() as s:
        exported = export(s)
    entries = {c["name"]: c for c in yaml.safe_load(exported)["checks"]}
    assert entries["ups-a"]["locations"] == ["centre", "default/probe-a"]
    assert entries["ups-a"]["min_locations_down"] == 2
    assert "locations" not in entries["core-sw"]
    assert "min_locations_down" not in entries["core-sw"]
    with db.session() as s:
        assert plan(s, parse_config(exported)).empty
        ups = s.scalar(select(Check).where(Check.slug == "ups-a"))
        set_locations(s, ups.id, [find_probe(s, "default", "probe-b")], centre=False,
                      min_down=1)
    with db.session() as s:
        assert plan(s, parse_config(exported)).changed == [
            "check 'ups-a': locations, min_locations_down"]
        apply(s, parse_config(exported), "test")
    with db.session() as s:
        ups = s.scalar(select(Check).where(Check.slug == "ups-a"))
        probe_a = find_probe(s, "default", "probe-a")
        assert (ups.run_at_centre, ups.min_locations_down) == (True, 2)
        assert set(s.scalars(select(CheckProbe.probe_id).where(
            CheckProbe.check_id == ups.id))) == {probe_a.id}
        assert plan(s, parse_config(exported)).empty
        revoke_probe(s, probe_a, utcnow())  # a revoked probe is left out of the export ...
    with db.session() as s:
        again = {c["name"]: c for c in yaml.safe_load(export(s))["checks"]}
        assert "locations" not in again["ups-a"]  # ... and the file is still accepted
        assert plan(s, parse_config(export(s))).empty


def test_nothing_is_applied_when_any_check_is_invalid(db: Database) -> None:
    bad = GOOD.replace("interval: 30s", "interval: 1s")
    with pytest.raises(ChecksConfigError, match="interval must be at least 5 s"):
        parse_config(bad.replace("${UPS_TOKEN}", "x"))
    with db.session() as s:
        assert s.scalars(select(Check)).all() == []
