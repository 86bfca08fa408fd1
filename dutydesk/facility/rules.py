"""The facility rule document: which senders are expected, how SNMP v1/v2c/v3 traps are
accepted, and which traps and syslog messages become alerts.

It is config-as-code (a YAML file applied with ``dutydesk facility apply``) stored in the
database, so every worker reads the same rules. ``parse_rules`` is strict and pure: it returns a
``RuleSet`` or raises ``RulesError`` listing every problem in words a person understands
("rule 'ups-on-battery': severity must be one of critical, error, warning, info, got 'hot'").
The SNMPv3 keys are stored sealed and exported as a placeholder (``dutydesk.facility.keys``).

Example::

    snmp:
      communities: [public]            # v1/v2c community strings accepted
      users:                           # SNMPv3 USM users
        - {name: ups, auth_protocol: SHA, auth_key: "...", priv_protocol: AES, priv_key: "...",
           engine_ids: ["0x8000000001020304"]}   # senders' engine ids (traps; informs need none)
      sources: [10.20.0.0/16]          # expected senders; others are "unknown" (counted, shown)
      rate_limit: 200                  # traps per second per source before folding
      mib_dirs: [/etc/dutydesk/mibs]   # operator MIB files...
      mib_modules: [ACME-PDU-MIB]      # ...and the modules to load from them
    syslog:
      sources: [10.20.0.0/16]
      rate_limit: 500
    rules:
      - name: ups-on-battery
        input: snmp
        trap: [upsTrapOnBattery, upsOnBattery]
        clear: [powerRestored]
        severity: critical
        summary: "UPS {source} is on battery"
        check: ups-b                   # join the ups-b check's incident (its poll sees the same)
      - name: link
        input: snmp
        trap: linkDown
        clear: linkUp
        key: [ifIndex]                 # same ifIndex: linkUp resolves that port's linkDown
      - name: pdu-breaker
        input: syslog
        hosts: ["pdu-*"]
        facilities: [local0]
        min_level: warning
        pattern: 'breaker (?P<breaker>\\d+) tripped'
        clear_pattern: 'breaker (?P<breaker>\\d+) closed'
        key: [breaker]
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2
import yaml

from dutydesk.incidents.alerts.model import Severity

INPUTS = ("snmp", "syslog")
AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("DES", "3DES", "AES", "AES192", "AES256")
SYSLOG_FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # RFC 5424 facility codes 0..23, in order
SYSLOG_LEVELS = (
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
)  # RFC 5424 severities 0..7
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
#: what a check's name (slug) may look like (``checks.config.SLUG``)
_CHECK_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
DEFAULT_RATE_LIMIT = 200


class RulesError(ValueError):
    """The rule document is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid facility rules:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class SnmpUser:
    name: str
    auth_protocol: str = ""
    auth_key: str = ""
    priv_protocol: str = ""
    priv_key: str = ""
    engine_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputSettings:
    sources: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    rate_limit: int = DEFAULT_RATE_LIMIT

    def expected(self, address: str) -> bool:
        """True when no sources are listed (everyone is expected) or ``address`` is in one."""
        if not self.sources:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.sources)


@dataclass(frozen=True)
class SnmpSettings(InputSettings):
    communities: tuple[str, ...] = ()
    users: tuple[SnmpUser, ...] = ()
    mib_dirs: tuple[str, ...] = ()
    mib_modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One mapping of a trap or a syslog message to an alert (and of its clearing counterpart
    to that alert's resolution)."""

    name: str
    input: str
    severity: Severity = Severity.WARNING
    summary: str = ""
    key: tuple[str, ...] = ()
    # snmp
    traps: tuple[str, ...] = ()
    clears: tuple[str, ...] = ()
    where: Mapping[str, str] = field(default_factory=dict)
    # syslog
    hosts: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()
    min_level: str = ""
    pattern: Any = None  # re2 compiled
    clear_pattern: Any = None
    service: str | None = None
    impact: int | None = None  # 1 high .. 3 low; None: the pipeline's default (2)
    # the slug of a check whose incident this rule's alerts join (one problem, two witnesses)
    check: str | None = None


@dataclass(frozen=True)
class RuleSet:
    snmp: SnmpSettings = field(default_factory=SnmpSettings)
    syslog: InputSettings = field(default_factory=InputSettings)
    rules: tuple[Rule, ...] = ()

    def for_input(self, name: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.input == name)


EMPTY = RuleSet()


def _strings(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """A string or a list of strings → tuple; anything else is a problem."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: expected a string or a list of non-empty strings, got {value!r}")
        return ()
    return tuple(v.strip() for v in value)


def _networks(value: Any, where: str, problems: list[str]) -> tuple[Any, ...]:
    nets = []
    for text in _strings(value, where, problems):
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            problems.append(f"{where}: {text!r} is not an IP address or network (10.0.0.0/8)")
    return tuple(nets)


def _rate(value: Any, where: str, problems: list[str]) -> int:
    if value is None:
        return DEFAULT_RATE_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        problems.append(f"{where}: expected messages per second from 1 to 1000000, got {value!r}")
        return DEFAULT_RATE_LIMIT
    return value


def _mapping(value: Any, where: str, problems: list[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{where}: expected a mapping, got {type(value).__name__}")
        return {}
    return value


def _unknown_keys(data: Mapping[str, Any], allowed: Sequence[str], where: str,
                  problems: list[str]) -> None:
    for key in data:
        if key not in allowed:
            problems.append(f"{where}: unknown setting {key!r} (allowed: {', '.join(allowed)})")


def _engine_id(text: str, where: str, problems: list[str]) -> str:
    hexpart = text[2:] if text.lower().startswith("0x") else text
    if not re.fullmatch(r"(?:[0-9a-fA-F]{2}){5,32}", hexpart):
        problems.append(f"{where}: engine id must be 5 to 32 bytes in hex (0x80001f88...), "
                        f"got {text!r}")
    return hexpart.lower()


def _users(value: Any, problems: list[str]) -> tuple[SnmpUser, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append("snmp.users: expected a list of users")
        return ()
    users = []
    for i, raw in enumerate(value, 1):
        where = f"snmp.users[{i}]"
        data = _mapping(raw, where, problems)
        _unknown_keys(data, ("name", "auth_protocol", "auth_key", "priv_protocol", "priv_key",
                             "engine_ids"), where, problems)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: name is required")
            continue
        where = f"snmp user {name!r}"
        auth = str(data.get("auth_protocol") or "").upper()
        priv = str(data.get("priv_protocol") or "").upper()
        auth_key = str(data.get("auth_key") or "")
        priv_key = str(data.get("priv_key") or "")
        if auth and auth not in AUTH_PROTOCOLS:
            problems.append(f"{where}: auth_protocol must be one of {', '.join(AUTH_PROTOCOLS)}, "
                            f"got {auth!r}")
        if priv and priv not in PRIV_PROTOCOLS:
            problems.append(f"{where}: priv_protocol must be one of {', '.join(PRIV_PROTOCOLS)}, "
                            f"got {priv!r}")
        if auth and len(auth_key) < 8:
            problems.append(f"{where}: auth_key must be at least 8 characters (RFC 3414)")
        if priv and not auth:
            problems.append(f"{where}: privacy needs authentication: set auth_protocol too")
        if priv and len(priv_key) < 8:
            problems.append(f"{where}: priv_key must be at least 8 characters (RFC 3414)")
        engine_ids = tuple(_engine_id(e, where, problems)
                           for e in _strings(data.get("engine_ids"), f"{where}: engine_ids",
                                             problems))
        users.append(SnmpUser(name.strip(), auth, auth_key, priv, priv_key, engine_ids))
    return tuple(users)


def _severity(value: Any, where: str, problems: list[str]) -> Severity:
    if value is None:
        return Severity.WARNING
    try:
        return Severity(str(value).lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        problems.append(f"{where}: severity must be one of {allowed}, got {value!r}")
        return Severity.WARNING


def _regex(value: Any, where: str, problems: list[str]) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: expected a regular expression, got {value!r}")
        return None
    try:
        return re2.compile(value)
    except re2.error as exc:
        problems.append(f"{where}: not a valid RE2 regular expression ({exc})")
        return None


_RULE_KEYS = ("name", "input", "severity", "summary", "key", "trap", "clear", "where", "hosts",
              "facilities", "min_level", "pattern", "clear_pattern", "service", "impact", "check")


def _rule(raw: Any, index: int, problems: list[str]) -> Rule | None:
    data = _mapping(raw, f"rules[{index}]", problems)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(f"rules[{index}]: name is required: lower-case letters, digits, '-', '_' "
                        f"or '.', at most 63 characters, got {name!r}")
        return None
    where = f"rule {name!r}"
    _unknown_keys(data, _RULE_KEYS, where, problems)
    kind = data.get("input")
    if kind not in INPUTS:
        problems.append(f"{where}: input must be one of {', '.join(INPUTS)}, got {kind!r}")
        return None
    summary = data.get("summary") or ""
    if not isinstance(summary, str) or len(summary) > 500:
        problems.append(f"{where}: summary must be text of at most 500 characters")
        summary = ""
    service = data.get("service")
    if service is not None and not isinstance(service, str):
        problems.append(f"{where}: service must be a service name")
        service = None
    impact = data.get("impact")
    if impact is not None and (isinstance(impact, bool) or impact not in (1, 2, 3)):
        problems.append(f"{where}: impact must be 1 (high), 2 or 3 (low), got {impact!r}")
        impact = None
    check = data.get("check")
    if check is not None and (not isinstance(check, str) or not _CHECK_SLUG.fullmatch(check)):
        problems.append(f"{where}: check must be the name (slug) of a check, got {check!r}")
        check = None
    if check is not None and data.get("key"):
        problems.append(f"{where}: check and key exclude each other: a rule that joins a check's "
                        "incident has one problem, so no key to tell its alerts apart")
    common = dict(name=name, input=kind, severity=_severity(data.get("severity"), where, problems),
                  summary=summary, key=_strings(data.get("key"), f"{where}: key", problems),
                  service=service, impact=impact, check=check)
    if kind == "snmp":
        for key in ("hosts", "facilities", "min_level", "pattern", "clear_pattern"):
            if key in data:
                problems.append(f"{where}: {key!r} is a syslog setting; an snmp rule uses "
                                "trap, clear, where and key")
        traps = _strings(data.get("trap"), f"{where}: trap", problems)
        if not traps:
            problems.append(f"{where}: trap is required (a trap name such as linkDown or an OID)")
        matches = _mapping(data.get("where"), f"{where}: where", problems)
        if not all(isinstance(v, str | int) for v in matches.values()):
            problems.append(f"{where}: where must map variable names to values")
        return Rule(**common, traps=traps,
                    clears=_strings(data.get("clear"), f"{where}: clear", problems),
                    where={str(k): str(v) for k, v in matches.items()})
    for key in ("trap", "clear", "where"):
        if key in data:
            problems.append(f"{where}: {key!r} is an snmp setting; a syslog rule uses hosts, "
                            "facilities, min_level, pattern and clear_pattern")
    facilities = _strings(data.get("facilities"), f"{where}: facilities", problems)
    for fac in facilities:
        if fac not in SYSLOG_FACILITIES:
            problems.append(f"{where}: unknown facility {fac!r} "
                            f"(one of {', '.join(SYSLOG_FACILITIES)})")
    level = data.get("min_level") or ""
    if level and level not in SYSLOG_LEVELS:
        problems.append(f"{where}: min_level must be one of {', '.join(SYSLOG_LEVELS)}, "
                        f"got {level!r}")
        level = ""
    pattern = _regex(data.get("pattern"), f"{where}: pattern", problems)
    if pattern is None and "pattern" not in data and not (facilities or level):
        problems.append(f"{where}: a syslog rule needs a pattern, facilities or min_level")
    return Rule(**common, hosts=_strings(data.get("hosts"), f"{where}: hosts", problems),
                facilities=facilities, min_level=level, pattern=pattern,
                clear_pattern=_regex(data.get("clear_pattern"), f"{where}: clear_pattern",
                                     problems))


def parse_rules(text: str) -> RuleSet:
    """Validate a YAML rule document; raise ``RulesError`` listing every problem."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise RulesError([f"not valid YAML{at}: {getattr(exc, 'problem', exc)}"]) from None
    problems: list[str] = []
    data = _mapping(data, "the document", problems)
    _unknown_keys(data, ("snmp", "syslog", "rules"), "the document", problems)
    snmp = _mapping(data.get("snmp"), "snmp", problems)
    _unknown_keys(snmp, ("communities", "users", "sources", "rate_limit", "mib_dirs",
                         "mib_modules"), "snmp", problems)
    syslog = _mapping(data.get("syslog"), "syslog", problems)
    _unknown_keys(syslog, ("sources", "rate_limit"), "syslog", problems)
    snmp_settings = SnmpSettings(
        sources=_networks(snmp.get("sources"), "snmp.sources", problems),
        rate_limit=_rate(snmp.get("rate_limit"), "snmp.rate_limit", problems),
        communities=_strings(snmp.get("communities"), "snmp.communities", problems),
        users=_users(snmp.get("users"), problems),
        mib_dirs=_strings(snmp.get("mib_dirs"), "snmp.mib_dirs", problems),
        mib_modules=_strings(snmp.get("mib_modules"), "snmp.mib_modules", problems),
    )
    syslog_settings = InputSettings(
        sources=_networks(syslog.get("sources"), "syslog.sources", problems),
        rate_limit=_rate(syslog.get("rate_limit"), "syslog.rate_limit", problems),
    )
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        problems.append("rules: expected a list of rules")
        raw_rules = []
    rules = [r for i, raw in enumerate(raw_rules, 1) if (r := _rule(raw, i, problems))]
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            problems.append(f"rule {rule.name!r}: the name is used twice; names must be unique")
        seen.add(rule.name)
    if problems:
        raise RulesError(problems)
    return RuleSet(snmp_settings, syslog_settings, tuple(rules))
