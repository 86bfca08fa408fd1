"""Configuration is strict: a wrong value names the setting, the value and what is allowed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dutydesk.core.config import ConfigError, load_settings


def test_defaults_give_an_embedded_sqlite_database_under_instance(tmp_path: Path) -> None:
    settings = load_settings({"instance_path": str(tmp_path)}, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'dutydesk.sqlite'}"
    assert settings.timezone == "UTC"
    assert len(settings.secret_key) >= 32


def test_development_secret_key_survives_a_restart(tmp_path: Path) -> None:
    first = load_settings({"instance_path": str(tmp_path)}, environ={})
    second = load_settings({"instance_path": str(tmp_path)}, environ={})
    assert first.secret_key == second.secret_key


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param(
            {"DUTYDESK_TIMEZONE": "Europe/Kiev2"},
            "DUTYDESK_TIMEZONE: unknown time zone 'Europe/Kiev2'",
            id="zone",
        ),
        pytest.param(
            {"DUTYDESK_SMTP_PORT": "abc"},
            "DUTYDESK_SMTP_PORT: expected a whole number, got 'abc'",
            id="port-text",
        ),
        pytest.param(
            {"DUTYDESK_SMTP_PORT": "0"},
            "DUTYDESK_SMTP_PORT: must be at least 1, got 0",
            id="port-zero",
        ),
        pytest.param(
            {"DUTYDESK_ENV": "prod"},
            "DUTYDESK_ENV: got 'prod', allowed: development, production, testing",
            id="env",
        ),
        pytest.param(
            {"DUTYDESK_DATABASE_URL": "mysql://x/y"},
            "DUTYDESK_DATABASE_URL: unsupported database URL",
            id="db",
        ),
        pytest.param(
            {"DUTYDESK_BASE_URL": "dutydesk.local"},
            "DUTYDESK_BASE_URL: expected an http:// or https:// URL",
            id="base-url",
        ),
        pytest.param(
            {"DUTYDESK_SMTP_SECURITY": "tls"}, "allowed: none, starttls, ssl", id="smtp-security"
        ),
    ],
)
def test_a_wrong_environment_value_is_refused_with_name_value_and_allowed(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"instance_path": str(tmp_path)}, environ=env)
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    env = {"DUTYDESK_TIMEZONE": "Nowhere/City", "DUTYDESK_SMTP_PORT": "-5"}
    with pytest.raises(ConfigError) as caught:
        load_settings({"instance_path": str(tmp_path)}, environ=env)
    assert len(caught.value.problems) == 2


def test_production_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DUTYDESK_SECRET_KEY: production mode needs"):
        load_settings({"instance_path": str(tmp_path)}, environ={"DUTYDESK_ENV": "production"})


def test_production_with_a_long_secret_key_starts(tmp_path: Path) -> None:
    env = {"DUTYDESK_ENV": "production", "DUTYDESK_SECRET_KEY": "k" * 40}
    assert load_settings({"instance_path": str(tmp_path)}, environ=env).production


def test_plain_postgresql_urls_are_routed_to_psycopg3(tmp_path: Path) -> None:
    env = {"DUTYDESK_DATABASE_URL": "postgresql://dd@db:5432/dutydesk"}
    settings = load_settings({"instance_path": str(tmp_path)}, environ=env)
    assert settings.database_url == "postgresql+psycopg://dd@db:5432/dutydesk"


def test_yaml_file_sets_values_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "dutydesk.yaml"
    config.write_text("timezone: Europe/Kyiv\nsmtp_port: 2525\n")
    env = {"DUTYDESK_CONFIG": str(config), "DUTYDESK_SMTP_PORT": "587"}
    settings = load_settings({"instance_path": str(tmp_path)}, environ=env)
    assert settings.timezone == "Europe/Kyiv"
    assert settings.smtp_port == 587


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("timezone: Europe/Kyiv\nsmtp_port: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({"instance_path": str(tmp_path)}, environ={"DUTYDESK_CONFIG": str(config)})
    assert str(config) in str(caught.value)
    assert "line" in str(caught.value)


def test_yaml_unknown_setting_is_an_error_not_silently_ignored(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("timezon: Europe/Kyiv\n")
    with pytest.raises(ConfigError, match="unknown setting 'timezon'"):
        load_settings({"instance_path": str(tmp_path)}, environ={"DUTYDESK_CONFIG": str(config)})


def test_missing_yaml_file_is_reported(tmp_path: Path) -> None:
    env = {"DUTYDESK_CONFIG": str(tmp_path / "absent.yaml")}
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"instance_path": str(tmp_path)}, environ=env)


def test_alert_retention_defaults_to_30_days_and_takes_a_whole_number(tmp_path: Path) -> None:
    assert load_settings({"instance_path": str(tmp_path)}, environ={}).alert_retention_days == 30
    env = {"DUTYDESK_ALERT_RETENTION_DAYS": " 7 "}
    assert load_settings({"instance_path": str(tmp_path)}, environ=env).alert_retention_days == 7
    config = tmp_path / "dutydesk.yaml"
    config.write_text("alert_retention_days: 90\n")
    from_file = load_settings({"instance_path": str(tmp_path)},
                              environ={"DUTYDESK_CONFIG": str(config)})
    assert from_file.alert_retention_days == 90


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "must be between 1 and 3650 days, got 0"),
        ("-3", "must be between 1 and 3650 days, got -3"),
        ("3651", "must be between 1 and 3650 days, got 3651"),
        ("1.5", "expected a whole number of days, got '1.5'"),
        ("30d", "expected a whole number of days, got '30d'"),
        ("", "expected a whole number of days, got ''"),
    ],
)
def test_a_wrong_alert_retention_is_refused_with_name_and_value(
    tmp_path: Path, value: str, expected: str
) -> None:
    env = {"DUTYDESK_ALERT_RETENTION_DAYS": value}
    with pytest.raises(ConfigError, match="DUTYDESK_ALERT_RETENTION_DAYS: " + re.escape(expected)):
        load_settings({"instance_path": str(tmp_path)}, environ=env)


@pytest.mark.parametrize("value", ["true", "30.0", "[30]"])
def test_a_yaml_alert_retention_must_be_a_plain_whole_number(tmp_path: Path, value: str) -> None:
    config = tmp_path / "dutydesk.yaml"
    config.write_text(f"alert_retention_days: {value}\n")
    with pytest.raises(ConfigError, match="alert_retention_days: expected a whole number of days"):
        load_settings({"instance_path": str(tmp_path)}, environ={"DUTYDESK_CONFIG": str(config)})


def test_the_worker_metrics_endpoint_is_off_and_local_by_default(tmp_path: Path) -> None:
    settings = load_settings({"instance_path": str(tmp_path)}, environ={})
    assert settings.worker_metrics_port == 0
    assert settings.worker_metrics_host == "127.0.0.1"


def test_the_worker_metrics_endpoint_reads_port_and_host_from_the_environment(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {"instance_path": str(tmp_path)},
        environ={"DUTYDESK_WORKER_METRICS_PORT": " 9188 ", "DUTYDESK_WORKER_METRICS_HOST": "::"},
    )
    assert (settings.worker_metrics_port, settings.worker_metrics_host) == (9188, "::")


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::1", "worker-1.dc.example"])
def test_the_worker_metrics_host_accepts_addresses_and_host_names(
    tmp_path: Path, host: str
) -> None:
    settings = load_settings({"instance_path": str(tmp_path), "worker_metrics_host": host},
                             environ={})
    assert settings.worker_metrics_host == host


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"DUTYDESK_WORKER_METRICS_PORT": "65536"},
                     "DUTYDESK_WORKER_METRICS_PORT: expected a port number from 1 to 65535, "
                     "or 0 for off, got '65536'", id="port-high"),
        pytest.param({"DUTYDESK_WORKER_METRICS_PORT": "-1"},
                     "DUTYDESK_WORKER_METRICS_PORT: expected a port number", id="port-negative"),
        pytest.param({"DUTYDESK_WORKER_METRICS_PORT": "9188.0"},
                     "DUTYDESK_WORKER_METRICS_PORT: expected a port number", id="port-float"),
        pytest.param({"DUTYDESK_WORKER_METRICS_PORT": "on"},
                     "DUTYDESK_WORKER_METRICS_PORT: expected a port number", id="port-word"),
        pytest.param({"DUTYDESK_WORKER_METRICS_HOST": ""},
                     "DUTYDESK_WORKER_METRICS_HOST: expected an IP address or a host name",
                     id="host-empty"),
        pytest.param({"DUTYDESK_WORKER_METRICS_HOST": "http://0.0.0.0:9188"},
                     "DUTYDESK_WORKER_METRICS_HOST: expected an IP address or a host name",
                     id="host-url"),
        pytest.param({"DUTYDESK_WORKER_METRICS_HOST": "bad host"},
                     "DUTYDESK_WORKER_METRICS_HOST: expected an IP address or a host name",
                     id="host-space"),
    ],
)
def test_a_bad_worker_metrics_setting_is_refused_naming_it(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"instance_path": str(tmp_path)}, environ=env)
    assert any(problem.startswith(expected) for problem in caught.value.problems)


@pytest.mark.parametrize("value", [True, 9188.0, "9188.0"])
def test_a_worker_metrics_port_from_yaml_must_be_a_whole_number(
    tmp_path: Path, value: object
) -> None:
    with pytest.raises(ConfigError, match="DUTYDESK_WORKER_METRICS_PORT: expected a port"):
        load_settings({"instance_path": str(tmp_path), "worker_metrics_port": value}, environ={})


def test_hardening_settings_have_safe_defaults() -> None:
    settings = load_settings(environ={})
    assert settings.plugin_dirs == ("/usr/lib/nagios/plugins",)
    assert settings.plugin_user == "nobody"
    assert settings.outbound_allow == () and settings.trusted_proxies == ()


def test_hardening_settings_come_from_the_environment_as_comma_separated_lists() -> None:
    settings = load_settings(environ={
        "DUTYDESK_PLUGIN_DIRS": "/opt/plugins, /usr/lib/nagios/plugins",
        "DUTYDESK_TRUSTED_PROXIES": "10.0.0.1,fd00::1",
        "DUTYDESK_PLUGIN_USER": "dutyplug"})
    assert settings.plugin_dirs == ("/opt/plugins", "/usr/lib/nagios/plugins")
    assert settings.trusted_proxies == ("10.0.0.1/32", "fd00::1/128")
    assert settings.plugin_user == "dutyplug"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"plugin_dirs": ["plugins"]}, "DUTYDESK_PLUGIN_DIRS: 'plugins' is not an absolute path"),
        ({"plugin_dirs": {"a": 1}}, "expected a list of directories"),
        ({"plugin_user": "root; rm"}, "expected a system user name"),
        ({"trusted_proxies": ["proxy.example"]}, "'proxy.example' is not an IP network"),
    ],
)
def test_bad_hardening_settings_are_refused_with_a_reason(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, environ={})


def test_an_intake_mailbox_needs_its_account_and_a_readable_ca_and_keeps_tls_by_default(
    tmp_path: Path,
) -> None:
    env = {"DUTYDESK_IMAP_HOST": "imap.corp.example", "DUTYDESK_IMAP_CA_FILE": "/nope.pem"}
    with pytest.raises(ConfigError) as caught:
        load_settings({"instance_path": str(tmp_path)}, environ=env)
    problems = "\n".join(caught.value.problems)
    assert "DUTYDESK_IMAP_USERNAME: required when DUTYDESK_IMAP_HOST is set" in problems
    assert "DUTYDESK_IMAP_PASSWORD: required" in problems
    assert "DUTYDESK_IMAP_CA_FILE: no such file" in problems
    settings = load_settings({"instance_path": str(tmp_path)}, environ={
        "DUTYDESK_IMAP_HOST": "imap.corp.example", "DUTYDESK_IMAP_USERNAME": "help",
        "DUTYDESK_IMAP_PASSWORD": "s3cret-imap"})
    assert (settings.imap_security, settings.imap_port) == ("ssl", 993)
    assert "s3cret-imap" not in repr(settings)
