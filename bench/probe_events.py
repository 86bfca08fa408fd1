"""Traps and syslog forwarded by a remote probe, fed by the centre: events/s through
``parse_events`` -> ``store_once`` -> ``feed_events`` (the centre's rules, the ONE pipeline,
the heard counters), as ``POST /api/probe/v1/events`` runs them, for a backlog replayed after a
link outage.

    .venv/bin/python bench/probe_events.py [--events 10000] [--batch 1000] [--ups 50]
        [--database-url postgresql://...]

The backlog spans 10 minutes at the site: ``--ups`` UPSes each go on battery and come back
(so the replay is cut into many segments and opens and resolves incidents), the rest is syslog
that matches no rule (counted). Prints events/s, how long the backlog took, and the incidents.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
RULES = """
rules:
  - name: ups-on-battery
    input: snmp
    trap: [upsTrapOnBattery]
    clear: [powerRestored]
    severity: critical
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--ups", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from sqlalchemy import func, select

    from dutydesk import migrate
    from dutydesk.core.config import load_settings
    from dutydesk.core.db import Database, utcnow
    from dutydesk.facility.remote import RemoteRules, feed_events, parse_events
    from dutydesk.facility.store import apply_rules
    from dutydesk.incidents.models import Incident
    from dutydesk.sites.events import store_once
    from dutydesk.sites.service import create_probe, enrol

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}"
    settings = load_settings({"env": "testing", "database_url": url, "secret_key": "b" * 40,
                              "instance_path": tempfile.mkdtemp(), "log_level": "WARNING"},
                             environ={})
    db = Database(url)
    migrate.upgrade(db)
    now = datetime.now(UTC)
    with db.session() as s:
        apply_rules(s, RULES, by="bench", now=utcnow(), secret_key=settings.secret_key)
        token = create_probe(s, "default", f"bench-{int(time.time())}", now).secret
        probe_id = enrol(s, token, now).probe_id
    t0 = now - timedelta(minutes=10)
    step = 600 / args.events
    events = []
    for i in range(args.events):
        at = (t0 + timedelta(seconds=i * step)).isoformat()
        ups, phase = i % max(args.ups * 10, 1), i // max(args.ups * 10, 1)
        if ups < args.ups:  # each UPS: on battery, then back, in turn
            oid = "1.3.6.1.2.1.33.2.1" if phase % 2 == 0 else "1.3.6.1.4.1.318.0.9"
            events.append({"seq": i + 1, "at": at, "input": "snmp", "kind": "trap",
                           "source": f"10.20.{ups // 250}.{ups % 250 + 1}", "version": "2c",
                           "var_binds": [[TRAP_OID, oid, True]]})
        else:
            events.append({"seq": i + 1, "at": at, "input": "syslog", "kind": "message",
                           "source": "10.20.9.9", "host": "sw-1", "facility": "daemon",
                           "level": "info", "app": "lldpd", "text": f"neighbour {i} seen"})
    remote = RemoteRules(settings)
    started = time.perf_counter()
    alerts = 0
    for i in range(0, len(events), args.batch):
        batch = parse_events({"events": events[i:i + args.batch]})
        with db.session() as s:
            rules, translator = remote.current(s)
            _stored, report = store_once(
                s, probe_id, [e.seq for e in batch], now,
                lambda fresh, s=s, batch=batch, rules=rules, translator=translator: feed_events(
                    s, [e for e in batch if e.seq in fresh], site="default", probe="bench",
                    rules=rules, translator=translator, settings=settings, now=now))
            alerts += report.alerts
    elapsed = time.perf_counter() - started
    with db.session() as s:
        opened = s.scalar(select(func.count()).select_from(Incident)) or 0
        open_now = s.scalar(select(func.count()).select_from(Incident)
                            .where(Incident.status != "resolved")) or 0
    print(f"{db.dialect}: {args.events} events (10 min backlog, {args.ups} UPSes) in "
          f"{elapsed:.1f} s = {args.events / elapsed:,.0f} events/s (batch {args.batch}); "
          f"{alerts} alerts, {opened} incidents, {open_now} still open")


if __name__ == "__main__":
    main()
