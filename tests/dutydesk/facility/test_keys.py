"""SNMPv3 keys are stored encrypted, never shown, and an exported file applies back unchanged."""

from __future__ import annotations

import pytest

from dutydesk.core.db import Database, utcnow
from dutydesk.facility.keys import PLACEHOLDER, redact_document, seal_document, unseal_ruleset
from dutydesk.facility.rules import RulesError, parse_rules
from dutydesk.facility.store import (
    apply_rules,
    current_rules,
    current_ruleset,
    export_document,
    plan_rules,
)

KEY = "k" * 40
DOCUMENT = """# the UPS fleet
snmp:
  communities: [public]
  users:
    - name: ups            # APC cards
      auth_protocol: SHA
      auth_key: 'auth pass 1'
      priv_protocol: AES
      priv_key: priv-pass-1
    - {name: pdu, auth_protocol: MD5, auth_key: pdu-auth-22}
rules:
  - {name: link, input: snmp, trap: linkDown}
"""


def keys_of(rules):
    return {u.name: (u.auth_key, u.priv_key) for u in rules.snmp.users}


def test_stored_keys_are_sealed_in_place_keeping_comments_and_come_back_in_clear():
    stored = seal_document(DOCUMENT, "", KEY)
    assert "auth pass 1" not in stored and "priv-pass-1" not in stored
    assert "pdu-auth-22" not in stored and stored.count('"sealed:') == 3
    assert "# APC cards" in stored and "# the UPS fleet" in stored
    rules = unseal_ruleset(parse_rules(stored), KEY)
    assert keys_of(rules) == {"ups": ("auth pass 1", "priv-pass-1"), "pdu": ("pdu-auth-22", "")}


def test_the_export_shows_placeholders_and_applying_it_back_keeps_every_stored_key():
    stored = seal_document(DOCUMENT, "", KEY)
    exported = redact_document(stored)
    assert "sealed:" not in exported and exported.count(PLACEHOLDER) == 3
    assert exported == DOCUMENT.replace("'auth pass 1'", f'"{PLACEHOLDER}"').replace(
        "priv-pass-1", f'"{PLACEHOLDER}"').replace("pdu-auth-22", f'"{PLACEHOLDER}"')
    assert seal_document(exported, stored, KEY) == stored  # the same tokens: nothing changes


def test_a_new_key_replaces_only_that_key_and_an_unchanged_clear_key_keeps_its_token():
    stored = seal_document(DOCUMENT, "", KEY)
    edited = redact_document(stored).replace(f'auth_key: "{PLACEHOLDER}"}}',
                                             "auth_key: new-pdu-key}")
    again = seal_document(edited, stored, KEY)
    assert keys_of(unseal_ruleset(parse_rules(again), KEY))["pdu"] == ("new-pdu-key", "")
    assert seal_document(DOCUMENT, stored, KEY) == stored


def test_a_placeholder_without_a_stored_key_or_a_pasted_sealed_value_is_refused():
    with pytest.raises(RulesError, match="no key is stored for this user"):
        seal_document(DOCUMENT.replace("priv-pass-1", f'"{PLACEHOLDER}"'), "", KEY)
    stored = seal_document(DOCUMENT, "", KEY)
    renamed = redact_document(stored).replace("name: pdu", "name: pdu2")
    with pytest.raises(RulesError, match="snmp user 'pdu2': auth_key is the placeholder"):
        seal_document(renamed, stored, KEY)
    with pytest.raises(RulesError, match="not a sealed value"):
        seal_document(stored, stored, KEY)


def test_after_the_secret_key_changed_the_listener_is_told_to_apply_the_keys_again():
    stored = seal_document(DOCUMENT, "", KEY)
    with pytest.raises(RulesError, match="cannot be decrypted"):
        unseal_ruleset(parse_rules(stored), "another-secret-key")


def test_a_document_stored_in_clear_before_sealing_keeps_working_and_is_sealed_by_export_apply():
    legacy = DOCUMENT
    assert keys_of(unseal_ruleset(parse_rules(legacy), KEY))["ups"] == ("auth pass 1",
                                                                         "priv-pass-1")
    exported = redact_document(legacy)
    assert "auth pass 1" not in exported
    sealed = seal_document(exported, legacy, KEY)
    assert "auth pass 1" not in sealed
    assert keys_of(unseal_ruleset(parse_rules(sealed), KEY))["pdu"] == ("pdu-auth-22", "")


def test_block_scalar_keys_and_yaml_aliases():
    block = "snmp:\n  users:\n    - name: ups\n      auth_protocol: SHA\n      auth_key: |\n" \
            "        block-key-1\n      priv_protocol: AES\n      priv_key: priv-pass-1\n"
    stored = seal_document(block, "", KEY)
    assert keys_of(unseal_ruleset(parse_rules(stored), KEY))["ups"] == ("block-key-1\n",
                                                                         "priv-pass-1")
    alias = "snmp:\n  users:\n    - {name: a, auth_protocol: SHA, auth_key: &k shared-key}\n" \
            "    - {name: b, auth_protocol: SHA, auth_key: *k}\n"
    with pytest.raises(RulesError, match="not as a YAML alias"):
        seal_document(alias, "", KEY)


def test_apply_stores_sealed_keys_and_an_unchanged_export_plans_no_change(db: Database):
    with db.session() as s:
        apply_rules(s, DOCUMENT, by="test", now=utcnow(), secret_key=KEY)
    with db.session() as s:
        assert "auth pass 1" not in current_rules(s).document
        rules, _version = current_ruleset(s, KEY)
        assert keys_of(rules)["ups"] == ("auth pass 1", "priv-pass-1")
        exported = export_document(s)
        assert "sealed:" not in exported and "priv-pass-1" not in exported
        assert plan_rules(s, exported, secret_key=KEY) == []
        assert plan_rules(s, DOCUMENT, secret_key=KEY) == []
        changed = DOCUMENT.replace("priv-pass-1", "priv-pass-2")
        assert plan_rules(s, changed, secret_key=KEY) == ["~ snmp settings"]
