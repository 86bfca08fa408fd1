"""A probe at site kyiv-dc2 forwards the traps and syslog it heard there: the centre's facility
rules turn them into incidents marked with the site, once per (probe, event seq), in the order
they were heard, even when a whole outage's worth arrives in one batch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database, utcnow
from dutydesk.facility.models import FacilityHeard
from dutydesk.incidents.models import AlertReceived, Incident
from dutydesk.sites.models import Probe, Site
from dutydesk.sites.service import create_probe
from tests.dutydesk.facility.conftest import apply

TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
ON_BATTERY = "1.3.6.1.2.1.33.2.1"  # UPS-MIB::upsTrapOnBattery
POWER_RESTORED = "1.3.6.1.4.1.318.0.9"  # PowerNet-MIB::powerRestored
RULES = """
snmp:
  sources: [10.0.0.0/8]
rules:
  - name: ups-on-battery
    input: snmp
    trap: [upsTrapOnBattery]
    clear: [powerRestored]
    severity: critical
    summary: "UPS {source} is on battery"
  - name: pdu-breaker
    input: syslog
    facilities: [local0]
    pattern: 'breaker (?P<breaker>\\d+) tripped'
    clear_pattern: 'breaker (?P<breaker>\\d+) closed'
    key: [breaker]
"""


def _probe(client: Any, db: Database, site: str, name: str) -> dict[str, str]:
    with db.session() as s:
        if s.scalar(select(Site).where(Site.slug == site)) is None:
            s.add(Site(slug=site, name=site.upper(), time_zone="Europe/Kyiv"))
            s.flush()
        token = create_probe(s, site, name, utcnow()).secret
    answer = client.post("/api/probe/v1/enrol", json={"token": token})
    assert answer.status_code == 200, answer.json
    return {"Authorization": f"Bearer {answer.json['credential']}"}


@pytest.fixture
def kyiv(client: Any, db: Database) -> dict[str, str]:
    apply(db, RULES)
    return _probe(client, db, "kyiv-dc2", "p1")


def trap(seq: int, at: Any, oid: str, source: str = "10.20.0.5") -> dict[str, Any]:
    return {"seq": seq, "at": at.isoformat(), "input": "snmp", "kind": "trap",
            "source": source, "version": "2c", "var_binds": [[TRAP_OID, oid, True]]}


def line(seq: int, at: Any, text: str, facility: str = "local0") -> dict[str, Any]:
    return {"seq": seq, "at": at.isoformat(), "input": "syslog", "kind": "message",
            "source": "10.20.0.9", "host": "pdu-3", "facility": facility, "level": "err",
            "app": "pdu", "text": text}


def incidents(db: Database) -> list[Incident]:
    with db.session() as s:
        rows = list(s.scalars(select(Incident).order_by(Incident.id)))
        s.expunge_all()
        return rows


def received(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AlertReceived)) or 0


def test_a_ups_trap_heard_at_the_site_opens_the_p1_its_rule_describes_marked_with_the_site(
        client: Any, db: Database, kyiv: dict[str, str]) -> None:
    at = utcnow() - timedelta(seconds=5)
    answer = client.post("/api/probe/v1/events", headers=kyiv,
                         json={"events": [trap(1, at, ON_BATTERY)]})
    assert answer.status_code == 200, answer.json
    assert answer.json == {"acked": 1, "fed": 1, "replayed": 0, "alerts": 1, "counted": 0}
    (incident,) = incidents(db)
    assert incident.title == "UPS 10.20.0.5 is on battery (site kyiv-dc2)"
    assert incident.status == "triggered" and incident.severity == "critical"
    assert incident.labels["site"] == "kyiv-dc2" and incident.labels["probe"] == "p1"
    assert incident.dedup_key.startswith("site:kyiv-dc2:")
    # opened at the time the probe heard it, not when the centre got it
    assert abs((incident.created_at - at).total_seconds()) < 1


def test_on_battery_and_back_during_an_outage_still_opens_and_resolves_its_incident(
        client: Any, db: Database, kyiv: dict[str, str]) -> None:
    t0 = utcnow() - timedelta(minutes=10)
    batch = [trap(1, t0, ON_BATTERY), trap(2, t0 + timedelta(seconds=1), ON_BATTERY),
             trap(3, t0 + timedelta(minutes=3), POWER_RESTORED),
             line(4, t0 + timedelta(minutes=4), "breaker 3 tripped")]
    answer = client.post("/api/probe/v1/events", headers=kyiv, json={"events": batch[::-1]})
    assert answer.status_code == 200 and answer.json["fed"] == 4
    ups, breaker = incidents(db)
    assert ups.status == "resolved" and ups.title.startswith("UPS 10.20.0.5 is on battery")
    assert abs((ups.created_at - t0).total_seconds()) < 2
    assert abs((ups.resolved_at - (t0 + timedelta(minutes=3))).total_seconds()) < 2
    assert breaker.status == "triggered" and breaker.labels["breaker"] == "3"
    assert breaker.title == "pdu-3: breaker 3 tripped (site kyiv-dc2)"


def test_a_batch_sent_again_after_a_timeout_is_acknowledged_and_not_fed_twice(
        client: Any, db: Database, kyiv: dict[str, str]) -> None:
    t0 = utcnow() - timedelta(minutes=1)
    batch = [trap(1, t0, ON_BATTERY), line(2, t0, "breaker 1 tripped")]
    first = client.post("/api/probe/v1/events", headers=kyiv, json={"events": batch})
    seen = received(db)
    again = client.post("/api/probe/v1/events", headers=kyiv,
                        json={"events": [*batch, line(3, t0, "breaker 1 closed")]})
    assert first.json["fed"] == 2 and seen == 2
    assert again.json == {"acked": 3, "fed": 1, "replayed": 2, "alerts": 1, "counted": 0}
    assert received(db) == 3  # only the new line was fed
    assert [i.status for i in incidents(db)] == ["triggered", "resolved"]
    empty = client.post("/api/probe/v1/events", headers=kyiv, json={"events": []})
    assert empty.json["acked"] == 3  # what a probe with a new buffer file numbers above


def test_the_same_address_at_two_sites_is_two_problems(
        client: Any, db: Database, kyiv: dict[str, str]) -> None:
    lviv = _probe(client, db, "lviv-dc1", "p1")
    at = utcnow()
    client.post("/api/probe/v1/events", headers=kyiv, json={"events": [trap(1, at, ON_BATTERY)]})
    client.post("/api/probe/v1/events", headers=lviv, json={"events": [trap(1, at, ON_BATTERY)]})
    assert sorted(i.labels["site"] for i in incidents(db)) == ["kyiv-dc2", "lviv-dc1"]


def test_what_matches_no_rule_and_refused_packets_are_counted_under_the_site(
        client: Any, db: Database, kyiv: dict[str, str]) -> None:
    at = utcnow()
    events = [line(1, at, "fan speed nominal", facility="daemon"),
              trap(2, at, ON_BATTERY, source="192.168.1.1"),  # not in snmp.sources
              {"seq": 3, "at": at.isoformat(), "input": "snmp", "kind": "rejected",
               "source": "10.20.0.7", "reason": "unknown community", "sample": "61 bytes"}]
    answer = client.post("/api/probe/v1/events", headers=kyiv, json={"events": events})
    assert answer.json["counted"] == 3 and answer.json["alerts"] == 0
    with db.session() as s:
        heard = {(h.input, h.source, h.reason) for h in s.scalars(select(FacilityHeard))}
    assert heard == {("syslog", "kyiv-dc2/10.20.0.9", "unmatched"),
                     ("snmp", "kyiv-dc2/192.168.1.1", "unknown_source"),
                     ("snmp", "kyiv-dc2/10.20.0.7", "rejected")}
    assert incidents(db) == []


def test_a_flood_at_the_site_becomes_one_warning_with_its_count(
        client: Any, db: Database, kyiv: dict[str, str]) -> None:
    at = utcnow()
    flood = {"at": at.isoformat(), "input": "snmp", "kind": "flood", "source": "10.20.0.7",
             "limit": 200}
    client.post("/api/probe/v1/events", headers=kyiv, json={"events": [
        {**flood, "seq": 1, "dropped": 800, "ongoing": True},
        {**flood, "seq": 2, "dropped": 1800, "ongoing": True}]})
    (incident,) = incidents(db)
    assert incident.severity == "warning" and "Flood of snmp messages from 10.20.0.7" in (
        incident.title)
    assert incident.labels["site"] == "kyiv-dc2"


@pytest.mark.parametrize(("body", "says"), [
    ({"events": "x"}, "list 'events'"),
    ({"events": [{"seq": 0}]}, "seq must be a positive integer"),
    ({"events": [{"seq": 1, "input": "modbus"}]}, "input must be snmp or syslog"),
    ({"events": [{"seq": 1, "input": "snmp", "kind": "message"}]}, "kind of an snmp event"),
    ({"events": [{"seq": 1, "input": "snmp", "kind": "trap", "source": "ups-a"}]},
     "source must be the sender's IP address"),
    ({"events": [{"seq": 1, "input": "snmp", "kind": "trap", "source": "10.0.0.1",
                  "at": "yesterday"}]}, "not an ISO 8601 time"),
    ({"events": [{"seq": 1, "input": "snmp", "kind": "trap", "source": "10.0.0.1",
                  "at": "2026-12-07T10:00:00", "version": "2c", "var_binds": []}]},
     "UTC offset"),
    ({"events": [{"seq": 1, "input": "snmp", "kind": "trap", "source": "10.0.0.1",
                  "at": "2026-12-07T10:00:00+00:00", "version": "2c",
                  "var_binds": [["IF-MIB::linkDown", "x", False]]}]}, "not a numeric OID"),
    ({"events": [{"seq": 1, "input": "syslog", "kind": "message", "source": "10.0.0.1",
                  "at": "2026-12-07T10:00:00+00:00", "facility": "nope", "level": "err",
                  "host": "h", "text": "t"}]}, "syslog names"),
    ({"events": [], "dropped": -1}, "dropped must be a non-negative integer"),
])
def test_a_malformed_batch_is_refused_with_what_is_wrong_and_nothing_is_stored(
        client: Any, db: Database, kyiv: dict[str, str], body: Any, says: str) -> None:
    answer = client.post("/api/probe/v1/events", headers=kyiv, json=body)
    assert answer.status_code == 400 and says in answer.json["error"], answer.json
    with db.session() as s:
        assert s.scalar(select(Probe.last_event_seq)) == 0


def test_events_without_a_probe_credential_are_refused(client: Any, db: Database) -> None:
    answer = client.post("/api/probe/v1/events", json={"events": []},
                         headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
