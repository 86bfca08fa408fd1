"""The `dutydesk` command as an operator uses it: clear messages, non-zero exits, no tracebacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dutydesk import migrate
from dutydesk.app import create_app
from dutydesk.cli import main
from dutydesk.core.db import Database
from dutydesk.models import Role, User

from ..conftest import bearer


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> Any:
    def invoke(*args: str, **env: str) -> Any:
        environ = {
            "DUTYDESK_DATABASE_URL": database_url,
            "DUTYDESK_INSTANCE_PATH": str(tmp_path / "instance"),
            "DUTYDESK_CONFIG": "",
            **env,
        }
        return CliRunner().invoke(
            main, list(args), env=environ, catch_exceptions=False, prog_name="dutydesk"
        )

    return invoke


def test_every_command_has_help(run: Any) -> None:
    commands = [
        [],
        ["init"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["serve"],
        ["web"],
        ["worker"],
        ["user"],
        ["user", "add"],
        ["user", "list"],
        ["user", "disable"],
        ["token"],
        ["token", "create"],
        ["token", "revoke"],
        ["token", "list"],
        ["kiosk", "create"],
        ["kiosk", "revoke"],
        ["demo"],
        ["page-reply"],
        ["probe"],
        ["probe", "create"],
        ["probe", "revoke"],
        ["probe", "assign"],
        ["probe", "list"],
    ]
    for words in commands:
        result = run(*words, "--help")
        assert result.exit_code == 0, words
        assert "Usage: dutydesk" in result.output


def test_init_creates_the_schema_and_the_first_admin_from_the_environment(
    run: Any, database_url: str
) -> None:
    db = Database(database_url)
    migrate.downgrade(db, "base")
    result = run(
        "init",
        DUTYDESK_ADMIN_EMAIL="Chief@DC.example",
        DUTYDESK_ADMIN_PASSWORD="first admin password",
    )
    assert result.exit_code == 0, result.output
    assert "Admin chief@dc.example created." in result.output
    with db.session() as s:
        admin = s.scalar(select(User))
        assert (admin.email, admin.role) == ("chief@dc.example", Role.ADMIN)
    again = run("init")
    assert again.exit_code == 0 and "An admin already exists" in again.output
    db.dispose()


def test_init_without_credentials_and_no_terminal_says_what_to_set(run: Any) -> None:
    result = run("init")
    assert result.exit_code == 2
    assert "DUTYDESK_ADMIN_EMAIL" in result.output
    assert "Traceback" not in result.output


def test_token_create_prints_the_token_alone_on_its_last_line_and_it_works(
    run: Any, settings: Any, db: Database
) -> None:
    result = run("token", "create", "--name", "Alertmanager", "--role", "engineer")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("dd_") and " " not in token
    client = create_app(settings, db=db).test_client()
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["role"] == "engineer"
    listed = run("token", "list").output
    assert "Alertmanager" in listed and token not in listed
    assert run("token", "revoke", "1").exit_code == 0
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["token", "create", "--name", "x", "--role", "root"], "'root' is not one of"),
        (["token", "create", "--role", "viewer"], "Missing option '--name'"),
        (["token", "revoke", "abc"], "'abc' is not a valid integer"),
        (["token", "revoke", "999"], "no token with id 999"),
        (
            ["user", "add", "--email", "x@dc.example", "--role", "engineer", "--password", "short"],
            "at least 10 characters",
        ),
        (
            ["user", "add", "--email", "bad", "--role", "engineer", "--password", "long enough pw"],
            "not a valid email",
        ),
        (["user", "disable", "ghost@dc.example"], "no user with email"),
        (["serve", "--port", "70000"], "70000 is not in the range"),
    ],
)
def test_bad_arguments_get_a_message_and_a_nonzero_exit(
    run: Any, args: list[str], message: str
) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_configuration_stops_the_command_with_the_setting_named(run: Any) -> None:
    result = run("user", "list", DUTYDESK_TIMEZONE="Europe/Atlantis")
    assert result.exit_code == 2
    assert "DUTYDESK_TIMEZONE: unknown time zone 'Europe/Atlantis'" in result.output


def test_commands_refuse_an_unmigrated_database_with_the_fix(run: Any, database_url: str) -> None:
    db = Database(database_url)
    migrate.downgrade(db, "base")
    result = run("user", "list")
    assert result.exit_code == 2
    assert "dutydesk init" in result.output
    db.dispose()


def test_user_add_list_and_disable(run: Any, db: Database) -> None:
    added = run(
        "user",
        "add",
        "--email",
        "oksana@dc.example",
        "--role",
        "shift_lead",
        "--name",
        "Oksana",
        DUTYDESK_USER_PASSWORD="shift lead password",
    )
    assert added.exit_code == 0, added.output
    assert "oksana@dc.example" in run("user", "list").output
    assert run("user", "disable", "oksana@dc.example").exit_code == 0
    with db.session() as s:
        assert s.scalar(select(User.active).where(User.email == "oksana@dc.example")) is False
    twice = run("user", "disable", "oksana@dc.example")
    assert twice.exit_code == 1 and "already disabled" in twice.output


def test_kiosk_create_prints_a_working_url_on_the_last_line(
    run: Any, settings: Any, db: Database
) -> None:
    result = run(
        "kiosk", "create", "--name", "Hall A wall", DUTYDESK_BASE_URL="http://wall.example:8080"
    )
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("http://wall.example:8080/kiosk/kiosk_")
    client = create_app(settings, db=db).test_client()
    assert client.get(url.removeprefix("http://wall.example:8080")).status_code == 302
    assert client.get("/wall").status_code == 200


def test_worker_with_a_taken_metrics_port_stops_with_the_setting_named(run: Any) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run("worker", DUTYDESK_WORKER_METRICS_PORT=port)
    assert result.exit_code == 1
    assert f"cannot serve worker metrics on 127.0.0.1:{port}" in result.output
    assert "DUTYDESK_WORKER_METRICS_HOST/PORT" in result.output
    assert "Traceback" not in result.output


def test_an_integration_created_with_service_passes_it_to_its_incidents(
    run: Any, app: Any, db: Database
) -> None:
    from dutydesk.incidents.models import Incident

    result = run("integration", "create", "--type", "alertmanager", "--name", "prom-vpn",
                 "--service", "vpn")
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    payload = {"version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "dutydesk",
               "alerts": [{"status": "firing", "labels": {"alertname": "VpnDown"},
                           "annotations": {"summary": "VPN down"},
                           "startsAt": "2026-11-23T08:00:00Z", "fingerprint": "vpn1"}]}
    answer = app.test_client().post("/api/v1/integrations/alertmanager", json=payload,
                                    headers=bearer(key))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(Incident.service)) == "vpn"


def test_checks_apply_refuses_a_plugin_missing_from_the_plugin_dirs(
    run: Any, tmp_path: Path, db: Database
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "check_ups").write_text("#!/bin/sh\necho OK\n")
    (plugins / "check_ups").chmod(0o755)
    config = tmp_path / "checks.yaml"
    config.write_text(
        "checks:\n"
        "  - {name: ups-a, type: plugin, spec: {command: [check_ups]}}\n"
        "  - {name: ups-b, type: plugin, spec: {command: [check_nut, -H, ups-b]}}\n"
    )
    refused = run("checks", "apply", str(config), DUTYDESK_PLUGIN_DIRS=str(plugins))
    assert refused.exit_code == 2
    assert "check 'ups-b': plugin 'check_nut' not found in the plugin directories" in \
        refused.output
    config.write_text("checks:\n  - {name: ups-a, type: plugin, spec: {command: [check_ups]}}\n")
    applied = run("checks", "apply", str(config), DUTYDESK_PLUGIN_DIRS=str(plugins))
    assert applied.exit_code == 0, applied.output
