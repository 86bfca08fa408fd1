"""An administrator keeps the trap and syslog rules in git and applies them with the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dutydesk.cli import main
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.facility.store import current_rules, current_ruleset, record_heard
from tests.dutydesk.facility.conftest import SECRET_KEY

RULES = """snmp:
  communities: [public]
  users: [{name: ups, auth_protocol: SHA, auth_key: secret-auth-key, priv_protocol: AES,
           priv_key: secret-priv-key}]
rules:
  - {name: link, input: snmp, trap: linkDown, clear: linkUp, key: [ifIndex]}
"""


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Any:
    def invoke(*args: str) -> Any:
        environ = {"DUTYDESK_DATABASE_URL": database_url, "DUTYDESK_SECRET_KEY": SECRET_KEY,
                   "DUTYDESK_INSTANCE_PATH": str(tmp_path / "instance"), "DUTYDESK_CONFIG": ""}
        return CliRunner().invoke(main, list(args), env=environ, catch_exceptions=False,
                                  prog_name="dutydesk")

    return invoke


def test_dry_run_shows_the_changes_and_stores_nothing_then_apply_stores_and_audits(
    run: Any, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "facility.yaml"
    path.write_text(RULES)
    dry = run("facility", "apply", str(path), "--dry-run")
    assert dry.exit_code == 0
    assert dry.output.splitlines() == ["+ snmp settings", "+ rule 'link' (snmp)",
                                       "dry run: nothing was changed"]
    with db.session() as s:
        assert current_rules(s).version == 0
    applied = run("facility", "apply", str(path))
    assert applied.exit_code == 0 and applied.output.endswith("applied\n")
    with db.session() as s:
        stored = current_rules(s).document
        assert "secret-auth-key" not in stored and "secret-priv-key" not in stored
        (user,) = current_ruleset(s, SECRET_KEY)[0].snmp.users
        assert (user.auth_key, user.priv_key) == ("secret-auth-key", "secret-priv-key")
        (audit,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "facility.rules.apply"))
        assert "secret" not in audit.summary and "rule 'link' (snmp)" in audit.summary
    exported = run("facility", "export").output
    assert exported == RULES.replace("secret-auth-key", '"********"').replace(
        "secret-priv-key", '"********"')
    path.write_text(exported)
    assert run("facility", "apply", str(path)).output.splitlines()[0] == "no changes"
    with db.session() as s:
        assert current_rules(s).document == stored  # the stored keys were kept as they were
    path.write_text(RULES)
    path.write_text(RULES.replace("linkDown,", "[linkDown, coldStart],"))
    assert run("facility", "apply", str(path), "--dry-run").output.splitlines()[0] == (
        "~ rule 'link' (snmp)")


def test_an_invalid_file_is_refused_with_every_problem_and_a_nonzero_exit(
    run: Any, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "facility.yaml"
    path.write_text("rules:\n  - {name: link, input: snmp, severity: hot}\n")
    result = run("facility", "apply", str(path))
    assert result.exit_code == 2
    assert "Error: rule 'link': severity must be one of critical, error, warning, info" in (
        result.output)
    assert "Error: rule 'link': trap is required" in result.output
    with db.session() as s:
        assert current_rules(s).version == 0


def test_heard_lists_unknown_senders_with_counts(run: Any, db: Database) -> None:
    with db.session() as s:
        record_heard(s, {("snmp", "10.9.9.9", "unknown_source", "coldStart"): (41, "v2c")},
                     utcnow())
        record_heard(s, {("snmp", "10.9.9.9", "unknown_source", "coldStart"): (1, "v2c")},
                     utcnow())
    line = run("facility", "heard").output.splitlines()[0]
    assert line.split()[2:] == ["snmp", "10.9.9.9", "unknown_source", "42", "coldStart"]
