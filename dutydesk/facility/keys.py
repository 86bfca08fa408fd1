"""SNMPv3 keys (``auth_key``, ``priv_key`` of ``snmp.users``) encrypted at rest.

The rule document is stored as the operator wrote it — comments and layout kept — except that
each key's value is replaced in place by ``"sealed:<Fernet token>"`` (``core.twofactor.seal``
with its own purpose, keyed by the app's secret key). Nothing outside this module sees a key:

- ``seal_document(new, stored, secret_key)`` is what ``apply`` stores. A key equal to
  ``PLACEHOLDER`` (what ``export`` shows) keeps the stored key of the same user and field; a
  key equal to the stored one keeps its token, so re-applying an unchanged file changes nothing.
- ``redact_document(stored)`` is what ``export`` and pages show: every key as ``PLACEHOLDER``.
- ``unseal_ruleset(rules, secret_key)`` gives the listener the keys in clear.

A document stored before keys were sealed holds them in plain text; it keeps working, is
redacted the same way, and is sealed by the next apply (``export | apply`` does it).
"""

from __future__ import annotations

from dataclasses import replace

import yaml

from dutydesk.core.twofactor import seal, unseal
from dutydesk.facility.rules import RulesError, RuleSet

PLACEHOLDER = "********"
SEALED_PREFIX = "sealed:"
PURPOSE = "dutydesk facility snmpv3 key"
FIELDS = ("auth_key", "priv_key")

_Found = tuple[str, str, yaml.ScalarNode]  # user name, field, value node


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _keys(document: str) -> list[_Found]:
    """Every non-empty key scalar of ``snmp.users`` with its user's name, in document order."""
    try:
        root = yaml.compose(document) if document.strip() else None
    except yaml.YAMLError:
        return []  # (parse_rules reports it)
    users = _child(_child(root, "snmp"), "users")
    if not isinstance(users, yaml.SequenceNode):
        return []
    found = []
    for user in users.value:
        name = _child(user, "name")
        for field in FIELDS:
            value = _child(user, field)
            if isinstance(name, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode) and (
                    value.value and value.tag != "tag:yaml.org,2002:null"):
                found.append((name.value.strip(), field, value))
    return found


def _replaced(document: str, new_values: list[tuple[yaml.ScalarNode, str]]) -> str:
    """``document`` with each node's text replaced by the double-quoted value (last first, so
    earlier offsets stay valid). A key written as a YAML alias is refused: it would be one
    span for two keys."""
    spans = {}
    for node, value in new_values:
        start, end = node.start_mark.index, node.end_mark.index
        if (start, end) in spans:
            raise RulesError(["snmp.users: write each key itself, not as a YAML alias"])
        spans[(start, end)] = value
    out = document
    for (start, end), value in sorted(spans.items(), reverse=True):
        tail = "\n" if out[start:end].endswith("\n") else ""  # block scalars end with a newline
        out = f'{out[:start]}"{value}"{tail}{out[end:]}'
    return out


def _reveal(value: str, secret_key: str) -> str | None:
    if not value.startswith(SEALED_PREFIX):
        return value  # stored before keys were sealed
    return unseal(value[len(SEALED_PREFIX):], secret_key, purpose=PURPOSE)


def seal_document(document: str, stored: str, secret_key: str) -> str:
    """``document`` as it is stored: each key sealed (see the module docstring). Raises
    ``RulesError`` for a placeholder with no stored key, or a pasted sealed value."""
    old = {(name, field): node.value for name, field, node in _keys(stored)}
    problems, new_values = [], []
    for name, field, node in _keys(document):
        value, kept = node.value, old.get((name, field))
        where = f"snmp user {name!r}: {field}"
        if value == PLACEHOLDER:
            if kept is None:
                problems.append(f"{where} is the placeholder {PLACEHOLDER} but no key is stored "
                                "for this user: write the key itself")
                continue
            if not kept.startswith(SEALED_PREFIX):
                kept = SEALED_PREFIX + seal(kept, secret_key, purpose=PURPOSE)
            new_values.append((node, kept))
        elif value.startswith(SEALED_PREFIX):
            problems.append(f"{where}: write the key itself (or {PLACEHOLDER} to keep the "
                            "stored one), not a sealed value")
        elif kept is not None and kept.startswith(SEALED_PREFIX) and (
                _reveal(kept, secret_key) == value):
            new_values.append((node, kept))  # unchanged: same token, no change to apply
        else:
            new_values.append((node, SEALED_PREFIX + seal(value, secret_key, purpose=PURPOSE)))
    if problems:
        raise RulesError(problems)
    return _replaced(document, new_values)


def redact_document(stored: str) -> str:
    """The stored document with every key shown as ``PLACEHOLDER`` (export, pages)."""
    return _replaced(stored, [(node, PLACEHOLDER) for _, _, node in _keys(stored)])


def unseal_ruleset(rules: RuleSet, secret_key: str) -> RuleSet:
    """``rules`` with the SNMPv3 keys in clear; ``RulesError`` when a key cannot be decrypted
    (the app's secret key changed: apply the document again with the keys)."""
    users, problems = [], []
    for user in rules.snmp.users:
        auth, priv = _reveal(user.auth_key, secret_key), _reveal(user.priv_key, secret_key)
        if auth is None or priv is None:
            problems.append(f"snmp user {user.name!r}: the stored key cannot be decrypted (the "
                            "secret key changed?): apply the rules again with the keys")
            continue
        users.append(replace(user, auth_key=auth, priv_key=priv))
    if problems:
        raise RulesError(problems)
    if not users:
        return rules
    return replace(rules, snmp=replace(rules.snmp, users=tuple(users)))
