"""Strict configuration: environment variables and an optional YAML file, validated up front.

Every problem is reported with the setting's name, the value seen and what is allowed, and
start-up stops (``ConfigError``). Runtime state never lives here: it belongs in the database.

Precedence: built-in defaults < YAML file (``DUTYDESK_CONFIG``) < environment < explicit overrides
passed to ``load_settings`` (tests and the CLI use those).
"""

from __future__ import annotations

import ipaddress
import os
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "DUTYDESK_"
SUPPORTED_LANGUAGES = ("en", "ru", "uk")


class ConfigError(ValueError):
    """Configuration is wrong; the message lists every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Settings:
    """Validated settings. Field names are the env names without the prefix, lower-cased."""

    env: str = "development"
    database_url: str = ""
    secret_key: str = ""
    secret_key_file: str = ""
    timezone: str = "UTC"
    base_url: str = "http://127.0.0.1:8080"
    default_language: str = "en"
    log_level: str = "INFO"
    log_format: str = "text"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: str = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "dutydesk@localhost"
    smtp_timeout: float = 10.0
    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    # How the bot hears button presses and /link codes: "poll" (getUpdates from the worker, no
    # inbound port), "webhook" (Telegram POSTs to <base_url>/hooks/telegram with the secret
    # token header; the worker calls setWebhook at start) or "off".
    telegram_updates: str = "poll"
    telegram_webhook_secret: str = ""
    # Slack app: signing secret of interactive requests (<base_url>/hooks/slack/actions); a bot
    # token lets pages go to a channel id with chat.postMessage and be edited (chat.update).
    slack_signing_secret: str = ""
    slack_bot_token: str = ""
    slack_api_url: str = "https://slack.com/api"
    # Mattermost does not sign its action requests: they are taken only from these networks
    # (the Mattermost server's addresses); Mattermost pages carry buttons only when it is set.
    mattermost_action_sources: tuple[str, ...] = ()
    webhook_timeout: float = 10.0
    outbox_concurrency: int = 64
    outbox_per_destination: int = 16
    severity_table: str = ""
    login_max_failures: int = 5
    login_window_seconds: int = 900
    session_lifetime_hours: int = 12
    # Roles that must sign in with a second factor: "" (nobody), "all", or "admin,shift_lead"
    two_factor_required: str = ""
    # The company directory (the ``ldap:`` section of the config file); None: local accounts only
    ldap: Any = None
    # An OpenID Connect provider (the ``oidc:`` section of the config file); None: not offered
    oidc: Any = None
    scheduler_heartbeat_max_age: int = 60
    api_page_size_max: int = 500
    fallback_group: str = ""
    alert_retention_days: int = 30
    request_close_after_days: int = 7  # a resolved request nobody answered closes itself
    # The intake mailbox (IMAP): "" = off. TLS by default (ssl: 993, or starttls), the server's
    # certificate verified (imap_ca_file: a private CA); the password is never logged.
    imap_host: str = ""
    imap_port: int = 993
    imap_security: str = "ssl"
    imap_username: str = ""
    imap_password: str = field(default="", repr=False)
    imap_ca_file: str = ""
    imap_folder: str = "INBOX"
    imap_done_folder: str = "DutyDesk/Processed"
    imap_failed_folder: str = "DutyDesk/Failed"
    imap_poll_seconds: int = 30
    imap_max_mb: int = 10  # a larger mail is taken in by its header only, with a warning
    request_intake_service: str = "Service desk"  # the service a mailed request starts with
    request_ack_per_hour: int = 5  # acknowledgement mails per sender and hour at most
    worker_metrics_port: int = 0
    worker_metrics_host: str = "127.0.0.1"
    snmp_trap_listen: str = ""  # host:port of the SNMP trap listener (worker); "" = off
    syslog_listen_udp: str = ""  # host:port of the syslog UDP listener (worker); "" = off
    syslog_listen_tcp: str = ""  # host:port of the syslog TCP listener (worker); "" = off
    syslog_listen_tls: str = ""  # host:port of the syslog TLS listener (RFC 5425); "" = off
    syslog_tls_cert: str = ""  # PEM certificate (chain) file of the TLS listener
    syslog_tls_key: str = ""  # PEM private key file of the TLS listener
    instance_path: str = ""
    # Noise control (issue 12): a problem back within this many minutes after its incident
    # resolved automatically re-opens it (0 = always open a new incident); storm control lets
    # at most ``page_limit`` pages per person and channel through in ``page_limit_minutes``
    # (the rest go out as one digest); a status page service in auto mode shows a new state
    # only after it held for ``status_hold_seconds``.
    reopen_window_minutes: int = 30
    page_limit: int = 10
    page_limit_minutes: int = 5
    status_hold_seconds: int = 120
    # Remote probes' long-polls of their checks held at once per web process (each holds a
    # thread for up to 30 s); past it a probe is answered at once and polls again later.
    probe_long_polls: int = 4
    # On-call reach (issue 20): how long a page's action links and reply token work; extra
    # reply words ("ack=ok,yes; resolve=fixed; escalate=help"); the address replies go to
    # (the intake mailbox), "" = the From address.
    page_link_hours: int = 24
    page_reply_words: str = ""
    page_reply_to: str = ""
    #: Directories plugin checks are chosen from (by name); nothing else is ever executed.
    plugin_dirs: tuple[str, ...] = ("/usr/lib/nagios/plugins",)
    #: Plugins run as this user when the service runs as root.
    plugin_user: str = "nobody"
    #: Networks outgoing webhooks may reach although private/loopback/link-local.
    outbound_allow: tuple[str, ...] = ()
    #: Reverse proxies whose X-Forwarded-For is believed (addresses or networks).
    trusted_proxies: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _positive_int(minimum: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise _Invalid(f"{name}: expected a whole number, got {value!r}") from None
        if number < minimum:
            raise _Invalid(f"{name}: must be at least {minimum}, got {number}")
        return number

    return check


def _whole_days(minimum: int, maximum: int) -> Callable[[str, Any], int]:
    """Strictly a whole number of days: ``30`` or ``"30"``; not ``true``, ``1.5``, ``"30d"``."""

    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _Invalid(f"{name}: expected a whole number of days, got {value!r}")
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise _Invalid(f"{name}: expected a whole number of days, got {value!r}")
        days = int(text)
        if not minimum <= days <= maximum:
            raise _Invalid(f"{name}: must be between {minimum} and {maximum} days, got {days}")
        return days

    return check


def _positive_float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Invalid(f"{name}: expected a number of seconds, got {value!r}") from None
    if number <= 0:
        raise _Invalid(f"{name}: must be greater than 0, got {number}")
    return number


def _one_of(*allowed: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        text = str(value).strip()
        if text not in allowed:
            raise _Invalid(f"{name}: got {text!r}, allowed: {', '.join(allowed)}")
        return text

    return check


def _port_or_off(name: str, value: Any) -> int:
    """A TCP port 1-65535, or 0 for off: ``9188`` or ``"9188"``; not ``true``, ``"9188.0"``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid(f"{name}: expected a port number (0 = off), got {value!r}")
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text) or int(text) > 65535:
        raise _Invalid(f"{name}: expected a port number from 1 to 65535, or 0 for off, "
                       f"got {value!r}")
    return int(text)


def _listen_host(name: str, value: Any) -> str:
    """An IP address or a host name to listen on (``0.0.0.0`` for every interface)."""
    text = str(value).strip() if isinstance(value, str) else ""
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    labels = text.split(".")
    if not text or len(text) > 253 or not all(
        re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label) for label in labels
    ):
        raise _Invalid(f"{name}: expected an IP address or a host name to listen on, "
                       f"got {value!r}")
    return text


def _listen_address_or_off(name: str, value: Any) -> str:
    """``host:port`` to listen on (``0.0.0.0:162``, ``[::]:514``), or empty for off."""
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise _Invalid(f"{name}: expected host:port such as 0.0.0.0:162 (empty = off), "
                       f"got {value!r}")
    _listen_host(name, host.strip("[]"))
    return text


def _timezone(name: str, value: Any) -> str:
    text = str(value).strip()
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Invalid(
            f"{name}: unknown time zone {text!r}, expected an IANA name such as 'Europe/Kyiv'"
        ) from None
    return text


def _url(name: str, value: Any) -> str:
    text = str(value).strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", text):
        raise _Invalid(f"{name}: expected an http:// or https:// URL, got {text!r}")
    return text


def _database_url(name: str, value: Any) -> str:
    text = str(value).strip()
    if text and not re.match(r"^(sqlite(\+pysqlite)?|postgresql(\+psycopg)?)://", text):
        raise _Invalid(
            f"{name}: unsupported database URL {text!r}; use sqlite:///path/file.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        )
    if text.startswith("postgresql://"):
        text = "postgresql+psycopg://" + text.removeprefix("postgresql://")
    return text


def _list_of(name: str, value: Any, what: str) -> list[str]:
    """A YAML list, or a comma-separated text (environment variables)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise _Invalid(f"{name}: expected a list of {what} (or one comma-separated text), "
                   f"got {value!r}")


def _directories(name: str, value: Any) -> tuple[str, ...]:
    dirs = _list_of(name, value, "directories")
    for d in dirs:
        if not d.startswith("/"):
            raise _Invalid(f"{name}: {d!r} is not an absolute path; list directories such as "
                           "/usr/lib/nagios/plugins")
    return tuple(dirs)


def _networks(name: str, value: Any) -> tuple[str, ...]:
    """Networks or single addresses: ``10.0.0.0/8``, ``192.168.1.5``, ``fd00::/8``."""
    out = []
    for item in _list_of(name, value, "networks"):
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise _Invalid(f"{name}: {item!r} is not an IP network or address; write networks "
                           "such as 10.0.0.0/8 or 192.168.1.5") from None
    return tuple(out)


def _user_name(name: str, value: Any) -> str:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}", text):
        raise _Invalid(f"{name}: expected a system user name such as 'nobody', got {value!r}")
    return text


def _text(name: str, value: Any) -> str:
    return "" if value is None else str(value)


def _roles_or_all(name: str, value: Any) -> str:
    from dutydesk.core.models.accounts import Role

    text = "" if value is None else str(value).strip().lower()
    if text in ("", "none", "all"):
        return text
    allowed = [r.value for r in Role]
    for part in (p.strip() for p in text.split(",")):
        if part not in allowed:
            raise _Invalid(
                f"{name}: unknown role {part!r}; use 'all', 'none' or role names separated by "
                f"commas from: {', '.join(allowed)}"
            )
    return text


class _Invalid(Exception):
    pass


def _severity_table(name: str, value: Any) -> str:
    """``critical=1/1 error=2/1 ...`` (or a YAML mapping); kept as text, checked here."""
    from dutydesk.incidents.priority import PriorityError, parse_severity_table

    if isinstance(value, dict):
        value = " ".join(f"{k}={v}" for k, v in value.items())
    try:
        parse_severity_table(value)
    except PriorityError as exc:
        raise _Invalid(f"{name}: {exc}") from None
    return str(value).strip()


def _directory(name: str, value: Any) -> Any:
    from dutydesk.core.directory import parse_config

    return _section(parse_config, name, value)


def _section(parse: Any, name: str, value: Any) -> Any:
    """A whole section read by its own parser (``None``: not configured); its problems, one a
    line, become one configuration error."""
    if value is None:
        return None
    try:
        return parse(value, where=name)
    except ValueError as exc:
        raise _Invalid(str(exc).replace("\n", "\n  - ")) from None


def _telegram_secret(name: str, value: Any) -> str:
    """Telegram's ``secret_token``: 1-256 characters of A-Z, a-z, 0-9, ``_`` and ``-``."""
    text = str(value or "").strip()
    if text and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", text):
        raise _Invalid(f"{name}: must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - "
                       f"(Telegram's rule for secret_token)")
    return text


def _oidc(name: str, value: Any) -> Any:
    from dutydesk.core.oidc import parse_config

    return _section(parse_config, name, value)


_VALIDATORS: dict[str, Callable[[str, Any], Any]] = {
    "env": _one_of("development", "production", "testing"),
    "database_url": _database_url,
    "secret_key": _text,
    "secret_key_file": _text,
    "timezone": _timezone,
    "base_url": _url,
    "default_language": _one_of(*SUPPORTED_LANGUAGES),
    "log_level": _one_of("DEBUG", "INFO", "WARNING", "ERROR"),
    "log_format": _one_of("text", "json"),
    "smtp_host": _text,
    "smtp_port": _positive_int(1),
    "smtp_security": _one_of("none", "starttls", "ssl"),
    "smtp_username": _text,
    "smtp_password": _text,
    "smtp_from": _text,
    "smtp_timeout": _positive_float,
    "telegram_bot_token": _text,
    "telegram_api_url": _url,
    "telegram_updates": _one_of("poll", "webhook", "off"),
    "telegram_webhook_secret": _telegram_secret,
    "slack_signing_secret": _text,
    "slack_bot_token": _text,
    "slack_api_url": _url,
    "mattermost_action_sources": _networks,
    "webhook_timeout": _positive_float,
    "outbox_concurrency": _positive_int(1),
    "outbox_per_destination": _positive_int(1),
    "severity_table": _severity_table,
    "login_max_failures": _positive_int(1),
    "login_window_seconds": _positive_int(1),
    "session_lifetime_hours": _positive_int(1),
    "two_factor_required": _roles_or_all,
    "ldap": _directory,
    "oidc": _oidc,
    "scheduler_heartbeat_max_age": _positive_int(5),
    "api_page_size_max": _positive_int(1),
    "fallback_group": _text,
    "alert_retention_days": _whole_days(1, 3650),
    "request_close_after_days": _whole_days(1, 365),  # at most ten years: a typo, not a policy
    "imap_host": _text,
    "imap_port": _positive_int(1),
    "imap_security": _one_of("ssl", "starttls", "none"),
    "imap_username": _text,
    "imap_password": _text,
    "imap_ca_file": _text,
    "imap_folder": _text,
    "imap_done_folder": _text,
    "imap_failed_folder": _text,
    "imap_poll_seconds": _positive_int(5),
    "imap_max_mb": _positive_int(1),
    "request_intake_service": _text,
    "request_ack_per_hour": _positive_int(1),
    "worker_metrics_port": _port_or_off,
    "worker_metrics_host": _listen_host,
    "snmp_trap_listen": _listen_address_or_off,
    "syslog_listen_udp": _listen_address_or_off,
    "syslog_listen_tcp": _listen_address_or_off,
    "syslog_listen_tls": _listen_address_or_off,
    "syslog_tls_cert": _text,
    "syslog_tls_key": _text,
    "instance_path": _text,
    "reopen_window_minutes": _positive_int(0),
    "page_limit": _positive_int(1),
    "page_limit_minutes": _positive_int(1),
    "status_hold_seconds": _positive_int(0),
    "probe_long_polls": _positive_int(0),
    "page_link_hours": _positive_int(1),
    "page_reply_words": _text,
    "page_reply_to": _text,
    "plugin_dirs": _directories,
    "plugin_user": _user_name,
    "outbound_allow": _networks,
    "trusted_proxies": _networks,
}

#: Environment variables that hold secrets: removed from the process environment once read
#: (:func:`forget_secret_environment`), so child processes never inherit them.
SECRET_ENVIRONMENT = ("SECRET_KEY", "SMTP_PASSWORD", "TELEGRAM_BOT_TOKEN", "DATABASE_URL",
                      "TELEGRAM_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN",
                      "IMAP_PASSWORD")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"DUTYDESK_CONFIG: cannot read {str(path)!r}: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}:{where}: invalid YAML: {reason}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of settings at the top level"])
    return data


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build validated settings or raise ``ConfigError`` listing every problem.

    ``overrides`` use the lower-case field names (``database_url``); unknown keys are errors.
    """
    environ = os.environ if environ is None else environ
    known = {f.name for f in fields(Settings)} - {"extra"}
    raw: dict[str, tuple[str, Any]] = {}
    problems: list[str] = []

    config_file = environ.get(ENV_PREFIX + "CONFIG")
    extra: dict[str, Any] = {}
    if config_file:
        for key, value in _read_yaml(Path(config_file)).items():
            name = str(key).lower()
            if name in known:
                raw[name] = (f"{config_file}: {key}", value)
            elif isinstance(value, dict | list):
                extra[name] = value  # sections other modules validate (checks, sla, ...)
            else:
                problems.append(
                    f"{config_file}: unknown setting {key!r}; known settings: "
                    + ", ".join(sorted(known))
                )
    for name in known:
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            raw[name] = (env_name, environ[env_name])
    for key, value in (overrides or {}).items():
        if key not in known:
            problems.append(f"unknown setting {key!r}")
            continue
        raw[key] = (ENV_PREFIX + key.upper(), value)

    values: dict[str, Any] = {}
    for name, (label, value) in raw.items():
        try:
            values[name] = _VALIDATORS[name](label, value)
        except _Invalid as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(problems)

    if values.get("secret_key_file"):
        values["secret_key"] = _read_secret_file(values, problems)
        if problems:
            raise ConfigError(problems)
    settings = Settings(**values, extra=extra)
    return _finish(settings)


def _read_secret_file(values: dict[str, Any], problems: list[str]) -> str:
    path = Path(values["secret_key_file"])
    if values.get("secret_key"):
        problems.append("DUTYDESK_SECRET_KEY_FILE: set either the key or the file, not both")
        return ""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        problems.append(f"DUTYDESK_SECRET_KEY_FILE: cannot read {str(path)!r}: {exc.strerror}")
        return ""
    if not key:
        problems.append(f"DUTYDESK_SECRET_KEY_FILE: {str(path)!r} is empty")
    return key


def forget_secret_environment(environ: Any = None) -> list[str]:
    """Remove the secret-bearing ``DUTYDESK_*`` variables from ``environ`` (``os.environ`` by
    default) once settings are loaded; returns the names removed.

    Child processes (plugins, a spawned engine process) then cannot inherit them. The settings
    object keeps the values. Note that the kernel still shows the environment the process was
    *started* with in ``/proc/<pid>/environ`` to the same user, which is why the secret key is
    best given as a file (``DUTYDESK_SECRET_KEY_FILE``) and plugins run as another user.
    """
    environ = os.environ if environ is None else environ
    removed = []
    for name in SECRET_ENVIRONMENT:
        if environ.pop(ENV_PREFIX + name, None) is not None:
            removed.append(ENV_PREFIX + name)
    return removed


def _finish(settings: Settings) -> Settings:
    """Cross-field rules and derived defaults."""
    problems: list[str] = []
    if settings.production and len(settings.secret_key) < 32:
        problems.append(
            "DUTYDESK_SECRET_KEY: production mode needs a secret key of at least 32 characters "
            "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    if settings.smtp_security != "none" and not settings.smtp_host:
        problems.append("DUTYDESK_SMTP_HOST: required when DUTYDESK_SMTP_SECURITY is not 'none'")
    if settings.smtp_username and not settings.smtp_host:
        problems.append("DUTYDESK_SMTP_HOST: required when DUTYDESK_SMTP_USERNAME is set")
    if (settings.telegram_updates == "webhook" and settings.telegram_bot_token
            and not settings.telegram_webhook_secret):
        problems.append("DUTYDESK_TELEGRAM_WEBHOOK_SECRET: required when "
                        "DUTYDESK_TELEGRAM_UPDATES is 'webhook' (Telegram sends it back in the "
                        "X-Telegram-Bot-Api-Secret-Token header; unsigned updates are refused)")
    if settings.imap_host:
        for name in ("imap_username", "imap_password", "imap_folder", "imap_done_folder",
                     "imap_failed_folder", "request_intake_service"):
            if not getattr(settings, name):
                problems.append(f"DUTYDESK_{name.upper()}: required when DUTYDESK_IMAP_HOST is "
                                "set")
        if settings.imap_folder in (settings.imap_done_folder, settings.imap_failed_folder):
            problems.append("DUTYDESK_IMAP_DONE_FOLDER / DUTYDESK_IMAP_FAILED_FOLDER: must "
                            f"differ from the folder read ({settings.imap_folder!r}): processed "
                            "mail is moved out of it")
        if settings.imap_ca_file and not Path(settings.imap_ca_file).is_file():
            problems.append(f"DUTYDESK_IMAP_CA_FILE: no such file {settings.imap_ca_file!r}")
    if settings.syslog_listen_tls:
        for name in ("syslog_tls_cert", "syslog_tls_key"):
            path = getattr(settings, name)
            if not path or not Path(path).is_file():
                problems.append(f"DUTYDESK_{name.upper()}: a readable PEM file is required when "
                                f"DUTYDESK_SYSLOG_LISTEN_TLS is set, got {path!r}")
    if problems:
        raise ConfigError(problems)

    instance = Path(settings.instance_path or Path.cwd() / "instance").resolve()
    replace: dict[str, Any] = {"instance_path": str(instance)}
    if not settings.database_url:
        replace["database_url"] = f"sqlite:///{instance / 'dutydesk.sqlite'}"
    if not settings.secret_key:
        # Development only (production refused above): a per-instance random key kept on disk so
        # sessions survive restarts of `dutydesk serve`.
        replace["secret_key"] = _development_secret(instance)
    return Settings(**{**{f.name: getattr(settings, f.name) for f in fields(Settings)}, **replace})


def _development_secret(instance: Path) -> str:
    import secrets

    path = instance / "secret_key"
    try:
        existing = path.read_text().strip()
        if len(existing) >= 32:
            return existing
    except OSError:
        pass
    key = secrets.token_hex(32)
    try:
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(key)
        path.chmod(0o600)
    except OSError:
        pass  # read-only tree: a key for this process only
    return key
