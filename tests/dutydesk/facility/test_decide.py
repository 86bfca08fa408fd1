"""Which trap becomes which alert, decided without a network: names, keys, clears, filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dutydesk.facility.decide import (
    MATCHED,
    UNKNOWN_SOURCE,
    UNMATCHED,
    Trap,
    decide_trap,
)
from dutydesk.facility.flood import FloodGate
from dutydesk.facility.mibs import MibTranslator
from dutydesk.facility.rules import parse_rules

NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
RULES = parse_rules("""
snmp: {sources: [10.0.0.0/8]}
rules:
  - name: ups-alarm
    input: snmp
    trap: upsTrapAlarmEntryAdded
    clear: upsTrapAlarmEntryRemoved
    where: {upsAlarmDescr: upsAlarmOnBattery}
    key: [upsAlarmDescr]
    severity: critical
  - {name: link, input: snmp, trap: linkDown, clear: linkUp, key: [ifIndex]}
""")
tr = MibTranslator()


def trap(oid: str, source: str = "10.1.1.1", **variables: str) -> Trap:
    return Trap(source=source, version="2c", trap=tr.translate(oid), trap_oid=oid,
                variables=tuple((tr.translate(k), v) for k, v in variables.items()))


ALARM = "1.3.6.1.2.1.33.1.6.2.1.2.1"  # upsAlarmDescr.1
ON_BATTERY = tr.translate("1.3.6.1.2.1.33.1.6.3.2")


def test_well_known_names_are_translated_and_unknown_oids_shown_raw() -> None:
    assert tr.translate("1.3.6.1.2.1.33.2.1") == "UPS-MIB::upsTrapOnBattery"
    assert tr.translate("1.3.6.1.2.1.2.2.1.1.3") == "IF-MIB::ifIndex.3"
    assert tr.translate("1.3.6.1.4.1.318.0.9") == "PowerNet-MIB::powerRestored"
    assert ON_BATTERY == "UPS-MIB::upsAlarmOnBattery"
    assert tr.translate("1.3.6.1.4.1.99999.1") == "1.3.6.1.4.1.99999.1"


def test_a_ups_alarm_entry_added_fires_and_removed_resolves_the_same_incident_key() -> None:
    added = decide_trap(trap("1.3.6.1.2.1.33.2.3", **{ALARM: ON_BATTERY}), RULES, NOW)
    removed = decide_trap(trap("1.3.6.1.2.1.33.2.4", **{ALARM: ON_BATTERY}), RULES, NOW)
    assert added.outcome == MATCHED and added.alert.firing
    assert added.alert.severity == "critical"
    assert removed.alert.status == "resolved"
    assert added.alert.dedup_key == removed.alert.dedup_key == (
        "snmp_trap:ups-alarm:10.1.1.1:upsAlarmDescr=UPS-MIB::upsAlarmOnBattery")


def test_an_alarm_the_rule_does_not_name_matches_nothing() -> None:
    other = tr.translate("1.3.6.1.2.1.33.1.6.3.5")  # upsAlarmTempBad
    assert decide_trap(trap("1.3.6.1.2.1.33.2.3", **{ALARM: other}), RULES, NOW).outcome == (
        UNMATCHED)


def test_link_traps_from_two_switches_or_two_ports_are_separate_problems() -> None:
    keys = {
        decide_trap(trap("1.3.6.1.6.3.1.1.5.3", source=src,
                         **{f"1.3.6.1.2.1.2.2.1.1.{port}": port}), RULES, NOW).alert.dedup_key
        for src, port in (("10.0.0.1", "1"), ("10.0.0.1", "2"), ("10.0.0.2", "1"))
    }
    assert len(keys) == 3


def test_a_trap_from_a_sender_outside_the_expected_sources_is_unknown() -> None:
    outcome = decide_trap(trap("1.3.6.1.6.3.1.1.5.3", source="192.168.1.1"), RULES, NOW)
    assert outcome.outcome == UNKNOWN_SOURCE and outcome.alert is None


def test_a_flood_is_admitted_up_to_the_limit_then_counted_and_resolved_when_quiet() -> None:
    gate = FloodGate(limit=100, quiet=60)
    admitted = sum(gate.admit("10.0.0.9", 0.0 + i / 100_000) for i in range(10_000))
    assert admitted == 100
    assert gate.admit("10.0.0.8", 0.05), "another source is not limited by the flood"
    (flood,) = gate.drain(0.1)
    assert (flood.source, flood.dropped, flood.ongoing) == ("10.0.0.9", 9_900, True)
    assert gate.admit("10.0.0.9", 1.5), "the next second admits again"
    (ended,) = gate.drain(61.0)
    assert (ended.dropped, ended.ongoing) == (9_900, False)


def test_alerts_of_a_round_the_database_refused_are_raised_in_the_next_round(
    settings: Any, db: Any
) -> None:
    from dutydesk.facility.receiver import Receiver
    from dutydesk.facility.snmp import describe_trap
    from dutydesk.incidents.alerts.model import AlertSource
    from tests.dutydesk.facility.conftest import apply, incidents

    apply(db, "rules:\n  - {name: link, input: snmp, trap: linkDown, key: [ifIndex]}\n")
    receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap)
    receiver.reload_rules(force=True)  # the rules are in: the next rounds need no reload
    receiver.offer("10.0.0.1", trap("1.3.6.1.6.3.1.1.5.3", source="10.0.0.1",
                                    **{"1.3.6.1.2.1.2.2.1.1.4": "4"}))
    real_session = db.session

    def broken() -> Any:
        raise OSError("database restarting")

    db.session = broken
    with pytest.raises(OSError):
        receiver.flush(NOW)
    db.session = real_session
    receiver.flush(NOW)
    assert [i.title for i in incidents(db)] == ["linkDown from 10.0.0.1, ifIndex 4"]
