"""An administrator writes the facility rule document; mistakes are explained, every one."""

from __future__ import annotations

import pytest

from dutydesk.facility.rules import RulesError, parse_rules


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    return caught.value.problems


def test_a_complete_document_is_accepted_with_its_users_sources_and_rules() -> None:
    rules = parse_rules("""
snmp:
  communities: [public]
  users: [{name: ups, auth_protocol: sha256, auth_key: abcdefgh, priv_protocol: aes,
           priv_key: abcdefgh, engine_ids: ["0x8000000001020304"]}]
  sources: [10.20.0.0/16, 127.0.0.1]
  rate_limit: 50
syslog: {sources: [10.0.0.0/8]}
rules:
  - {name: link, input: snmp, trap: linkDown, clear: linkUp, key: [ifIndex]}
  - {name: breaker, input: syslog, hosts: ["pdu-*"], facilities: [local0], min_level: err,
     pattern: 'breaker (?P<n>\\d+) tripped', severity: critical}
""")
    assert rules.snmp.users[0].auth_protocol == "SHA256"
    assert rules.snmp.users[0].engine_ids == ("8000000001020304",)
    assert rules.snmp.rate_limit == 50
    assert rules.snmp.expected("10.20.3.4") and not rules.snmp.expected("192.168.0.1")
    assert [r.name for r in rules.for_input("syslog")] == ["breaker"]


def test_every_mistake_is_named_with_the_rule_and_the_setting() -> None:
    found = problems("""
snmp:
  users: [{name: ups, auth_protocol: SHA, auth_key: short, priv_protocol: ROT13}]
  sources: [not-an-ip]
  rate_limit: 0
rules:
  - {name: ups, input: snmp, severity: hot}
  - {name: ups, input: snmp, trap: x}
  - {name: log, input: syslog, pattern: '(unclosed', facilities: [local9], min_level: loud}
  - {name: Bad Name, input: snmp, trap: x}
  - {name: odd, input: modbus}
""")
    text = "\n".join(found)
    assert "snmp user 'ups': auth_key must be at least 8 characters" in text
    assert "snmp user 'ups': priv_protocol must be one of DES, 3DES, AES, AES192, AES256" in text
    assert "snmp.sources: 'not-an-ip' is not an IP address or network" in text
    assert "snmp.rate_limit: expected messages per second from 1 to 1000000, got 0" in text
    assert "rule 'ups': severity must be one of critical, error, warning, info, got 'hot'" in text
    assert "rule 'ups': trap is required" in text
    assert "rule 'ups': the name is used twice" in text
    assert "rule 'log': pattern: not a valid RE2 regular expression" in text
    assert "rule 'log': unknown facility 'local9'" in text
    assert "rule 'log': min_level must be one of emerg" in text
    assert "rules[4]: name is required" in text
    assert "rule 'odd': input must be one of snmp, syslog, got 'modbus'" in text


def test_broken_yaml_says_where() -> None:
    assert problems("rules: [\n  {name: x\n") [0].startswith("not valid YAML at line")


def test_settings_of_the_other_input_are_refused_rather_than_ignored() -> None:
    found = problems("rules:\n  - {name: a, input: snmp, trap: x, pattern: y}\n")
    assert found == ["rule 'a': 'pattern' is a syslog setting; an snmp rule uses trap, clear, "
                     "where and key"]


def test_a_rule_may_rank_its_impact_and_only_from_1_to_3() -> None:
    rules = parse_rules("rules:\n  - {name: ups, input: snmp, trap: upsTrapOnBattery, "
                        "severity: critical, impact: 1}\n")
    assert rules.rules[0].impact == 1
    assert problems("rules:\n  - {name: ups, input: snmp, trap: upsTrapOnBattery, impact: 0}\n") \
        == ["rule 'ups': impact must be 1 (high), 2 or 3 (low), got 0"]


def test_a_rule_may_join_a_checks_incident_by_the_checks_name_but_not_with_a_key() -> None:
    rules = parse_rules("rules:\n  - {name: ups, input: snmp, trap: upsTrapOnBattery, "
                        "check: ups-b}\n")
    assert rules.rules[0].check == "ups-b"
    assert problems("rules:\n  - {name: ups, input: snmp, trap: upsTrapOnBattery, "
                    "check: 'ups b!'}\n") \
        == ["rule 'ups': check must be the name (slug) of a check, got 'ups b!'"]
    assert problems("rules:\n  - {name: link, input: snmp, trap: linkDown, check: sw-1, "
                    "key: [ifIndex]}\n") \
        == ["rule 'link': check and key exclude each other: a rule that joins a check's "
            "incident has one problem, so no key to tell its alerts apart"]
