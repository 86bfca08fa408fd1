"""Storage of the facility area: the applied rule document and the "heard" counters.

Public functions (the shell's CLI and admin page call these, never the tables):
``current_rules``, ``current_ruleset``, ``export_document``, ``plan_rules``, ``apply_rules``,
``record_heard``, ``recent_heard``. SNMPv3 keys are stored sealed (``facility.keys``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.core.audit import record
from dutydesk.facility.keys import redact_document, seal_document, unseal_ruleset
from dutydesk.facility.models import FacilityHeard, FacilityRulesRow
from dutydesk.facility.rules import EMPTY, RuleSet, parse_rules

MAX_HEARD_ROWS = 5000
HEARD_RETENTION = timedelta(days=14)
OTHER = "(other)"


@dataclass(frozen=True)
class AppliedRules:
    document: str
    version: int
    updated_at: datetime | None
    updated_by: str


def current_rules(session: Session) -> AppliedRules:
    """The applied document (empty, version 0, when nothing was ever applied)."""
    row = session.get(FacilityRulesRow, 1)
    if row is None:
        return AppliedRules("", 0, None, "")
    return AppliedRules(row.document, row.version, row.updated_at, row.updated_by)


def current_ruleset(session: Session, secret_key: str) -> tuple[RuleSet, int]:
    """The applied rules with the SNMPv3 keys unsealed (for the listeners) and their version."""
    applied = current_rules(session)
    if not applied.document.strip():
        return EMPTY, applied.version
    return unseal_ruleset(parse_rules(applied.document), secret_key), applied.version


def export_document(session: Session) -> str:
    """The applied document as ``facility export`` and pages show it: SNMPv3 keys replaced by
    a placeholder (applying it back keeps the stored keys)."""
    return redact_document(current_rules(session).document)


def _raw_parts(document: str) -> dict[str, Any]:
    data = yaml.safe_load(document) if document.strip() else {}
    data = data if isinstance(data, dict) else {}
    parts: dict[str, Any] = {f"{k} settings": data[k] for k in ("snmp", "syslog")
                             if data.get(k) is not None}
    for rule in data.get("rules") or []:
        if isinstance(rule, dict):
            parts[f"rule {rule.get('name')!r} ({rule.get('input')})"] = rule
    return parts


def _sealed(session: Session, document: str, secret_key: str) -> str:
    """Validate ``document`` and return it as it would be stored (keys sealed)."""
    parse_rules(document)
    return seal_document(document, current_rules(session).document, secret_key)


def plan_rules(session: Session, document: str, *, secret_key: str) -> list[str]:
    """What applying ``document`` would change, one line each (``+`` added, ``~`` changed,
    ``-`` removed), without values (the document holds SNMPv3 keys). Validates first."""
    new_document = _sealed(session, document, secret_key)
    return _changes(current_rules(session).document, new_document)


def _changes(old_document: str, new_document: str) -> list[str]:
    old, new = _raw_parts(old_document), _raw_parts(new_document)
    lines = [f"+ {name}" for name in new if name not in old]
    lines += [f"~ {name}" for name in new if name in old and old[name] != new[name]]
    lines += [f"- {name}" for name in old if name not in new]
    return lines


def apply_rules(session: Session, document: str, *, by: str, now: datetime,
                secret_key: str) -> RuleSet:
    """Validate and store ``document`` (raises ``RulesError``, storing nothing, when invalid)
    with its SNMPv3 keys sealed (``facility.keys``: a placeholder keeps the stored key);
    audited with what changed (never the document itself)."""
    stored = _sealed(session, document, secret_key)
    changes = _changes(current_rules(session).document, stored)
    ruleset = parse_rules(stored)
    row = session.get(FacilityRulesRow, 1)
    if row is None:
        session.add(FacilityRulesRow(id=1, document=stored, version=1, updated_at=now,
                                     updated_by=by))
    else:
        row.document, row.updated_at, row.updated_by = stored, now, by
        row.version = row.version + 1
    record(session, by, "facility.rules.apply", "facility_rules", 1,
           summary=f"{len(ruleset.rules)} rules; " + ("; ".join(changes) or "no changes"))
    session.flush()
    return ruleset


HeardKey = tuple[str, str, str, str]  # input, source, reason, name


def _add_to_row(session: Session, key: HeardKey, count: int, sample: str, now: datetime) -> bool:
    kind, source, reason, name = key
    changed = session.execute(
        update(FacilityHeard)
        .where(FacilityHeard.input == kind, FacilityHeard.source == source,
               FacilityHeard.reason == reason, FacilityHeard.name == name)
        .values(count=FacilityHeard.count + count, last_seen=now, sample=sample[:1024])
    ).rowcount
    return bool(changed)


def record_heard(session: Session, counts: Mapping[HeardKey, tuple[int, str]],
                 now: datetime) -> None:
    """Add ``counts`` ((input, source, reason, name) → (count, sample)) to the stored counters.

    New kinds beyond ``MAX_HEARD_ROWS`` rows are counted under the name ``(other)`` for their
    source, so a sender inventing names cannot grow the table without bound.
    """
    if not counts:
        return
    session.execute(delete(FacilityHeard).where(FacilityHeard.last_seen < now - HEARD_RETENTION))
    rows = session.scalar(select(func.count()).select_from(FacilityHeard)) or 0
    for (kind, source, reason, name), (count, sample) in counts.items():
        name = name[:255]
        for attempt_name in (name, OTHER):
            if _add_to_row(session, (kind, source[:64], reason, attempt_name), count, sample,
                           now):
                break
            if rows < MAX_HEARD_ROWS or attempt_name == OTHER:
                try:  # another worker may insert the same kind at once: then add to its row
                    with session.begin_nested():
                        session.add(FacilityHeard(input=kind, source=source[:64], reason=reason,
                                                  name=attempt_name, count=count,
                                                  first_seen=now, last_seen=now,
                                                  sample=sample[:1024]))
                except IntegrityError:
                    _add_to_row(session, (kind, source[:64], reason, attempt_name), count,
                                sample, now)
                rows += 1
                break
    session.flush()


def recent_heard(session: Session, limit: int = 200) -> list[FacilityHeard]:
    """The most recently heard kinds, newest first (the admin page and ``facility heard``)."""
    return list(session.scalars(
        select(FacilityHeard).order_by(FacilityHeard.last_seen.desc(), FacilityHeard.id)
        .limit(limit)
    ))
