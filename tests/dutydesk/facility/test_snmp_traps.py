"""A UPS, a switch and an APC card send real traps (net-snmp's snmptrap) to the listener; the
duty engineer sees incidents open and resolve through the one alert pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.facility.decide import decide_trap
from dutydesk.facility.receiver import Receiver
from dutydesk.facility.snmp import TrapListener, describe_trap
from dutydesk.facility.store import recent_heard
from dutydesk.incidents.alerts.model import AlertSource
from dutydesk.incidents.models import AlertReceived
from tests.dutydesk.facility.conftest import (
    apply,
    free_port,
    incidents,
    need,
    run,
    v2c_trap_packet,
    wait_until,
)

ENGINE_ID = "0x8000000001020304"
RULES = f"""
snmp:
  communities: [public]
  users:
    - name: upsuser
      auth_protocol: SHA
      auth_key: authpass123
      priv_protocol: AES
      priv_key: privpass123
      engine_ids: ["{ENGINE_ID}"]
  sources: [127.0.0.1]
rules:
  - name: ups-on-battery
    input: snmp
    trap: [upsTrapOnBattery, upsOnBattery]
    clear: [powerRestored]
    severity: critical
    summary: "UPS {{source}} is on battery"
  - name: link
    input: snmp
    trap: linkDown
    clear: linkUp
    key: [ifIndex]
"""


@pytest.fixture
def listener(settings: Any, db: Database) -> Iterator[tuple[TrapListener, str, CollectorRegistry]]:
    need("snmptrap")
    apply(db, RULES)
    registry = CollectorRegistry()
    receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap,
                        registry=registry, interval=0.1)
    port = free_port()
    trap_listener = TrapListener("127.0.0.1", port, receiver)
    trap_listener.start()
    yield trap_listener, f"127.0.0.1:{port}", registry
    trap_listener.stop()


def snmptrap(*args: str) -> None:
    result = run(["snmptrap", "-r", "0", "-t", "3", *args])
    assert result.returncode == 0, result.stderr


def metric(registry: CollectorRegistry, outcome: str) -> float:
    return registry.get_sample_value("dutydesk_facility_messages_total",
                                     {"input": "snmp", "outcome": outcome}) or 0.0


def test_a_v2c_link_down_opens_an_incident_and_link_up_on_the_same_port_resolves_it(
    listener: Any, db: Database
) -> None:
    _, address, _ = listener
    snmptrap("-v2c", "-c", "public", address, "", "1.3.6.1.6.3.1.1.5.3",
             "1.3.6.1.2.1.2.2.1.1.3", "i", "3")
    snmptrap("-v2c", "-c", "public", address, "", "1.3.6.1.6.3.1.1.5.3",
             "1.3.6.1.2.1.2.2.1.1.7", "i", "7")
    opened = wait_until(lambda: len(incidents(db)) == 2 and incidents(db))
    assert opened, "two linkDown traps on two ports open two incidents"
    assert {i.title for i in opened} == {"linkDown from 127.0.0.1, ifIndex 3",
                                         "linkDown from 127.0.0.1, ifIndex 7"}
    assert {i.source for i in opened} == {"snmp_trap"}

    snmptrap("-v2c", "-Ci", "-c", "public", address, "", "1.3.6.1.6.3.1.1.5.4",
             "1.3.6.1.2.1.2.2.1.1.3", "i", "3")  # an inform, acknowledged by the listener
    port3 = wait_until(lambda: [i for i in incidents(db) if "ifIndex 3" in i.title
                                and i.status == "resolved"])
    assert port3, "linkUp for ifIndex 3 resolves that port's incident"
    port7 = next(i for i in incidents(db) if "ifIndex 7" in i.title)
    assert port7.status != "resolved", "the other port stays down"


def test_a_v1_apc_on_battery_trap_is_named_and_power_restored_resolves_it(
    listener: Any, db: Database
) -> None:
    _, address, _ = listener
    snmptrap("-v1", "-c", "public", address, "1.3.6.1.4.1.318", "127.0.0.1", "6", "5", "")
    opened = wait_until(lambda: incidents(db))
    assert [i.title for i in opened] == ["UPS 127.0.0.1 is on battery"]
    assert opened[0].severity == "critical"
    snmptrap("-v1", "-c", "public", address, "1.3.6.1.4.1.318", "127.0.0.1", "6", "9", "")
    assert wait_until(lambda: incidents(db)[0].status == "resolved")
    assert listener[0].fast_decoded == 2  # plain v1 traps: read without pyasn1


def test_v3_traps_and_informs_with_auth_and_privacy_open_the_ups_incident(
    listener: Any, db: Database
) -> None:
    _, address, _ = listener
    usm = ["-u", "upsuser", "-l", "authPriv", "-a", "SHA", "-A", "authpass123",
           "-x", "AES", "-X", "privpass123"]
    snmptrap("-v3", "-e", ENGINE_ID, *usm, address, "", "1.3.6.1.2.1.33.2.1")
    assert wait_until(lambda: [i.title for i in incidents(db)]) == ["UPS 127.0.0.1 is on battery"]
    snmptrap("-v3", "-Ci", *usm, address, "", "1.3.6.1.2.1.33.2.1")  # inform: same incident
    assert wait_until(lambda: len(incidents(db)) == 1)
    assert listener[0].fast_decoded == 0  # v3 and informs: pysnmp


def test_wrong_v3_credentials_and_unknown_communities_are_counted_as_rejected_and_shown(
    listener: Any, db: Database
) -> None:
    _, address, registry = listener
    run(["snmptrap", "-r", "0", "-t", "1", "-v3", "-e", ENGINE_ID, "-u", "upsuser", "-l",
         "authPriv", "-a", "SHA", "-A", "wrong-password", "-x", "AES", "-X", "privpass123",
         address, "", "1.3.6.1.2.1.33.2.1"])
    run(["snmptrap", "-r", "0", "-v2c", "-c", "guess", address, "", "1.3.6.1.6.3.1.1.5.3"])
    assert wait_until(lambda: metric(registry, "rejected") >= 2)

    def reasons() -> set[str]:
        with db.session() as s:
            return {h.name for h in recent_heard(s) if h.reason == "rejected"}

    assert wait_until(lambda: {"wrong SNMPv3 authentication", "unknown community"} <= reasons())
    assert incidents(db) == []


def test_malformed_packets_are_counted_and_the_listener_keeps_working(
    listener: Any, db: Database
) -> None:
    import socket

    _, address, registry = listener
    host, port = address.split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for junk in (b"\x30\x82\xff\xff garbage", b"hello", b"\x00" * 3000):
            sock.sendto(junk, (host, int(port)))
    assert wait_until(lambda: metric(registry, "rejected") >= 3)
    snmptrap("-v2c", "-c", "public", address, "", "1.3.6.1.6.3.1.1.5.3",
             "1.3.6.1.2.1.2.2.1.1.1", "i", "1")
    assert wait_until(lambda: incidents(db))


def test_broken_copies_of_a_real_trap_are_counted_as_rejected_and_never_open_anything(
    listener: Any, db: Database
) -> None:
    import socket

    _, address, registry = listener
    host, port = address.split(":")
    trap = v2c_trap_packet("1.3.6.1.6.3.1.1.5.3", variables=(("1.3.6.1.2.1.2.2.1.1.4", 4),))
    oid_at = trap.index(bytes.fromhex("06082b06010201010300"))  # sysUpTime.0's OID
    broken = (
        trap[:-3],  # truncated
        trap[:oid_at + 2] + b"\x80" + trap[oid_at + 3:],  # an OID arc with a leading 0x80
        trap[:1] + bytes([trap[1] + 1]) + trap[2:],  # a length past the end
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in broken:
            sock.sendto(datagram, (host, int(port)))
    assert wait_until(lambda: metric(registry, "rejected") >= 3)
    assert listener[0].fast_decoded == 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(trap, (host, int(port)))
    assert wait_until(lambda: [i.title for i in incidents(db)]) == [
        "linkDown from 127.0.0.1, ifIndex 4"]


def test_the_fast_path_and_pysnmp_hand_the_pipeline_the_same_traps(
    settings: Any, db: Database
) -> None:
    import random
    import socket

    from tests.dutydesk.facility.test_ber import random_trap

    apply(db, "snmp: {communities: [public, %s], rate_limit: 100000}\n" % ("x" * 200))
    queued = []
    for fast in (True, False):
        receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap,
                            interval=600)
        port = free_port()
        trap_listener = TrapListener("127.0.0.1", port, receiver)
        trap_listener.fast_path = fast
        trap_listener.start()
        rng = random.Random(7)
        datagrams = [random_trap(rng) for _ in range(300)]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in datagrams:
                sock.sendto(datagram, ("127.0.0.1", port))
        sizes = [-1]  # until the queue stops growing (no flush within the test: interval)
        while wait_until(lambda r=receiver: len(r._queue) > 0, timeout=30) and (
                sizes[-1] != len(receiver._queue)):
            sizes.append(len(receiver._queue))
            wait_until(lambda: False, timeout=0.5)
        queued.append(list(receiver._queue))
        assert (trap_listener.fast_decoded > 0) is fast
        receiver._queue.clear()
        trap_listener.stop()
    assert len(queued[0]) >= 100 and queued[0] == queued[1]  # (other communities: refused)


def test_traps_no_rule_matches_are_counted_by_name_not_dropped_silently(
    listener: Any, db: Database
) -> None:
    _, address, registry = listener
    snmptrap("-v2c", "-c", "public", address, "", "1.3.6.1.6.3.1.1.5.1")
    snmptrap("-v2c", "-c", "public", address, "", "1.3.6.1.4.1.99999.0.1",
             "1.3.6.1.4.1.99999.1.1.0", "s", "door open")
    assert wait_until(lambda: metric(registry, "unmatched") >= 2)

    def heard() -> dict[str, Any]:
        with db.session() as s:
            return {h.name: (h.count, h.sample) for h in recent_heard(s)
                    if h.reason == "unmatched"}

    found = wait_until(lambda: len(heard()) == 2 and heard())
    assert found["coldStart"][0] == 1
    assert "door open" in found["1.3.6.1.4.1.99999.0.1"][1]  # unknown OID shown raw
    assert incidents(db) == []


def test_an_operator_mib_names_the_vendor_trap_and_its_variables(
    listener: Any, db: Database
) -> None:
    from pathlib import Path

    mibs = Path(__file__).parents[2] / "assets" / "mibs"
    apply(db, RULES.replace("  sources: [127.0.0.1]",
                            f"  sources: [127.0.0.1]\n  mib_dirs: ['{mibs}']\n"
                            "  mib_modules: [ACME-PDU-MIB]") + """
  - name: breaker
    input: snmp
    trap: ACME-PDU-MIB::acmeBreakerTripped
    key: [acmeBreakerNumber]
    severity: critical
    summary: "Breaker {acmeBreakerNumber} tripped on {source}"
""")
    trap_listener, address, _ = listener
    trap_listener.receiver.reload_rules(force=True)
    assert wait_until(lambda: trap_listener.translator.translate("1.3.6.1.4.1.99999.0.1")
                      == "ACME-PDU-MIB::acmeBreakerTripped")
    snmptrap("-v2c", "-c", "public", address, "", "1.3.6.1.4.1.99999.0.1",
             "1.3.6.1.4.1.99999.1.1.0", "i", "4")
    assert wait_until(lambda: [i.title for i in incidents(db)]) == [
        "Breaker 4 tripped on 127.0.0.1"]


def test_a_flood_from_one_ups_is_folded_into_one_alert_with_a_count_and_others_get_through(
    listener: Any, db: Database
) -> None:
    import socket

    apply(db, RULES.replace("  sources: [127.0.0.1]", "  sources: [127.0.0.0/8]\n"
                            "  rate_limit: 20"))
    trap_listener, address, registry = listener
    trap_listener.receiver.reload_rules(force=True)
    assert wait_until(lambda: trap_listener.settings and trap_listener.settings.rate_limit == 20)
    host, port = address.split(":")
    packet = v2c_trap_packet("1.3.6.1.2.1.33.2.1")  # upsTrapOnBattery
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(3000):
            sock.sendto(packet, (host, int(port)))
    assert wait_until(lambda: metric(registry, "rate_limited") >= 1000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.2", 0))  # a second UPS, not flooding
        other.sendto(v2c_trap_packet("1.3.6.1.6.3.1.1.5.3",
                                     variables=(("1.3.6.1.2.1.2.2.1.1.5", 5),)),
                     (host, int(port)))
    titles = wait_until(lambda: len(incidents(db)) == 3 and sorted(i.title for i in incidents(db)))
    assert titles[0].startswith("Flood of snmp messages from 127.0.0.1: more than 20/s (")
    assert titles[1:] == ["UPS 127.0.0.1 is on battery", "linkDown from 127.0.0.2, ifIndex 5"]

    def dropped_so_far() -> int:  # the flood's latest alert carries the count
        with db.session() as s:
            summary = s.scalars(select(AlertReceived.summary)
                                .where(AlertReceived.dedup_key.startswith("snmp_trap:flood:"))
                                .order_by(AlertReceived.id.desc())).first()
        return int(summary.split("(")[1].split()[0]) if summary else 0

    assert wait_until(lambda: dropped_so_far() >= 1000)
