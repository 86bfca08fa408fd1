"""A real probe process at site kyiv-dc2 listens for the site's traps (net-snmp's snmptrap: v2c
and v3) and syslog (util-linux logger) while the link to the real centre is cut; after the
restart the centre's rules open the incidents they describe, marked with the site, and a probe
killed before it heard the acknowledgement replays its batch without anything doubling."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.core.db import Database, utcnow
from dutydesk.facility.models import FacilityHeard
from dutydesk.incidents.models import AlertReceived
from dutydesk.sites.models import Probe, Site
from dutydesk.sites.service import create_probe
from tests.dutydesk.facility.conftest import apply, incidents, need, run
from tests.dutydesk.facility.conftest import free_port as free_udp_port

from .probe_harness import Centre, ProbeProcess, free_port, wait_until

ENGINE_ID = "0x8000000001020304"
COMMUNITY = "kyiv-secret-community"
RULES = """
snmp:
  sources: [127.0.0.0/8]
rules:
  - name: ups-on-battery
    input: snmp
    trap: [upsTrapOnBattery]
    clear: [powerRestored]
    severity: critical
    summary: "UPS {source} is on battery"
  - name: link
    input: snmp
    trap: linkDown
    clear: linkUp
    key: [ifIndex]
  - name: pdu-breaker
    input: syslog
    facilities: [local0]
    pattern: 'breaker (?P<breaker>\\d+) tripped'
    key: [breaker]
"""
USERS = f"""
users:
  - name: upsuser
    auth_protocol: SHA
    auth_key: authpass123
    priv_protocol: AES
    priv_key: privpass123
    engine_ids: ["{ENGINE_ID}"]
"""


class EventsCentre(Centre):
    """The harness's centre, also watching the probe's event pushes: ``events_delay`` holds the
    answer to a push that fed events that long after it was stored."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.events_delay = 0.0
        self.events_stored = threading.Event()
        self.events_replayed = 0

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").endswith("/events"):
            return super()._wsgi(environ, start_response)
        body = b"".join(self.app(environ, start_response))
        with contextlib.suppress(ValueError):
            answer = json.loads(body)
            self.events_replayed += int(answer.get("replayed", 0))
            if answer.get("fed"):
                self.events_stored.set()
                time.sleep(self.events_delay)
        return [body]


@pytest.fixture
def centre(app: Any) -> Any:
    c = EventsCentre(app)
    c.start()
    yield c
    c.stop()


def _site_probe(db: Database) -> str:
    with db.session() as s:
        s.add(Site(slug="kyiv-dc2", name="Kyiv DC2", time_zone="Europe/Kyiv"))
        s.flush()
        return create_probe(s, "kyiv-dc2", "p1", utcnow()).secret


def _buffered(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = [float(ln.split()[1]) for ln in text.splitlines()
              if ln.startswith("dutydesk_probe_events_buffered ")]
    return values[0] if values else 0.0


def _received(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AlertReceived)) or 0


def test_traps_and_syslog_heard_during_a_cut_open_their_incidents_once_after_the_restart(
        db: Database, centre: EventsCentre, tmp_path: Path) -> None:
    need("snmptrap")
    need("logger")
    apply(db, RULES)
    users = tmp_path / "snmp-users.yaml"
    users.write_text(USERS)
    users.chmod(0o600)
    trap_port, syslog_port, metrics_port = free_udp_port(), free_udp_port(), free_port()
    trap_at, syslog_at = f"127.0.0.1:{trap_port}", f"127.0.0.1:{syslog_port}"
    probe = ProbeProcess(centre, tmp_path / "probe", _site_probe(db), site="kyiv-dc2",
                         DUTYDESK_PROBE_TRAP_LISTEN=trap_at,
                         DUTYDESK_PROBE_SYSLOG_LISTEN=syslog_at,
                         DUTYDESK_PROBE_SNMP_COMMUNITIES=COMMUNITY,
                         DUTYDESK_PROBE_SNMP_USERS=str(users),
                         DUTYDESK_PROBE_METRICS_PORT=str(metrics_port))
    probe.start()
    try:
        wait_until(lambda: "listening for SNMP traps" in probe.output(), 20, probe.output())
        centre.stop()  # the link to the head office is cut
        sent = [
            run(["snmptrap", "-r", "0", "-v2c", "-c", COMMUNITY, trap_at, "",
                 "1.3.6.1.2.1.33.2.1"]),  # UPS on battery
            run(["snmptrap", "-r", "0", "-v3", "-e", ENGINE_ID, "-u", "upsuser", "-l",
                 "authPriv", "-a", "SHA", "-A", "authpass123", "-x", "AES", "-X",
                 "privpass123", trap_at, "", "1.3.6.1.6.3.1.1.5.3",
                 "1.3.6.1.2.1.2.2.1.1.7", "i", "7"]),  # linkDown, ifIndex 7
            run(["snmptrap", "-r", "0", "-v2c", "-c", "guess", trap_at, "",
                 "1.3.6.1.6.3.1.1.5.3"]),  # a wrong community: refused, counted
            run(["logger", "--server", "127.0.0.1", "--port", str(syslog_port), "--udp",
                 "--rfc5424", "-p", "local0.err", "-t", "pdu", "breaker 3 tripped"]),
        ]
        assert all(r.returncode == 0 for r in sent), [r.stderr for r in sent]
        wait_until(lambda: _buffered(metrics_port) >= 4, 10, "the events buffered")
        time.sleep(0.5)
        assert incidents(db) == []  # nothing crossed the cut
        centre.events_delay = 3.0  # stored, but the answer comes late...
        centre.start()
        wait_until(centre.events_stored.is_set, 20, "the backlog stored")
        probe.kill()  # ...and the probe is killed before it hears it
        stored_at_kill = _received(db)
        centre.events_delay = 0.0
        probe.start()  # same buffer file: it sends the unacknowledged batch again
        wait_until(lambda: centre.events_replayed >= 4, 20, "the batch replayed")
    finally:
        probe.kill()
    titles = sorted(i.title for i in incidents(db))
    assert titles[:2] == ["UPS 127.0.0.1 is on battery (site kyiv-dc2)",
                          "linkDown from 127.0.0.1, ifIndex 7 (site kyiv-dc2)"], titles
    assert len(titles) == 3 and titles[2].endswith(": breaker 3 tripped (site kyiv-dc2)")
    assert all(i.labels["site"] == "kyiv-dc2" for i in incidents(db))
    assert _received(db) == stored_at_kill == 3  # replayed, not fed twice
    with db.session() as s:
        assert s.scalar(select(Probe.last_event_seq)) == 4
        rejected = s.execute(select(FacilityHeard.source, FacilityHeard.name)
                             .where(FacilityHeard.reason == "rejected")).all()
    assert [tuple(r) for r in rejected] == [("kyiv-dc2/127.0.0.1", "unknown community")]
    output = probe.output()
    assert COMMUNITY not in output and "authpass123" not in output and "Traceback" not in output


def test_a_probe_that_cannot_listen_stops_with_a_clear_message(
        db: Database, centre: EventsCentre, tmp_path: Path) -> None:
    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        probe = ProbeProcess(centre, tmp_path / "probe", _site_probe(db), site="kyiv-dc2",
                             DUTYDESK_PROBE_TRAP_LISTEN=address,
                             DUTYDESK_PROBE_SNMP_COMMUNITIES=COMMUNITY)
        probe.start()
        assert probe.proc is not None
        try:
            wait_until(lambda: probe.proc.poll() is not None, 20, "the probe to stop")
        finally:
            probe.kill()
    finally:
        taken.close()
    assert probe.proc.returncode != 0
    assert "SNMP trap listener cannot listen" in probe.output()
