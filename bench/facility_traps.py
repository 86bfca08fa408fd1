"""SNMP traps into the alert pipeline: traps/s sustained, correct dedup (one incident per
source and trap kind), and how long a fresh trap takes to open its incident.

    .venv/bin/python bench/facility_traps.py [--rate 5000] [--seconds 20] [--sources 20]

A sender process blasts pre-encoded SNMPv2c upsTrapOnBattery datagrams from ``--sources``
loopback addresses (127.0.0.2...) at ``--rate`` traps/s in total (each source stays under the
per-source rate limit, so nothing is folded as a flood) at the REAL listener
(``dutydesk.facility.snmp.TrapListener`` → ``Receiver`` → ``process_alerts``) on a fresh
migrated SQLite file. Bounded to about ``--seconds`` + 15 s.

Figures: traps sent, received by the listener, read by the fast path (``ber.py``) or pysnmp,
decided and handed to the pipeline, the achieved rate, the CPU-seconds of this process (listener,
flusher, pipeline; not the sender) per 1,000 traps, incidents opened (must equal ``--sources``),
and for one linkDown sent after the load has drained (5 times): the trap-to-incident latency and
the trap-to-wall latency (the wall's live feed, which polls every 0.5 s, counting the new
incident). ``--pysnmp-only`` turns the fast path off for comparison.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def send(port: int, rate: int, seconds: float, sources: int) -> None:
    from tests.dutydesk.facility.conftest import v2c_trap_packet

    packet = v2c_trap_packet("1.3.6.1.2.1.33.2.1")
    socks = []
    for i in range(sources):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.0.0.{i + 2}", 0))
        socks.append(sock)
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            socks[sent % sources].sendto(packet, ("127.0.0.1", port))
            sent += 1
        time.sleep(0.001)
    print(f"traps sent            {sent:>10,}  ({sent / seconds:,.0f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=5000, help="traps per second, all sources")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--pysnmp-only", action="store_true",
                        help="no fast path: pysnmp decodes every trap (for comparison)")
    args = parser.parse_args()

    from prometheus_client import CollectorRegistry
    from sqlalchemy import func, select

    from dutydesk import migrate
    from dutydesk.core.config import load_settings
    from dutydesk.core.db import Database, utcnow
    from dutydesk.facility.decide import decide_trap
    from dutydesk.facility.receiver import Receiver
    from dutydesk.facility.snmp import TrapListener, describe_trap
    from dutydesk.facility.store import apply_rules
    from dutydesk.incidents.alerts.model import AlertSource
    from dutydesk.incidents.models import Incident

    path = Path(tempfile.mkdtemp()) / "bench.sqlite"
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db)
    settings = load_settings({"env": "testing", "database_url": url, "secret_key": "b" * 40,
                              "log_level": "WARNING"}, environ={})
    per_source = max(1, 2 * args.rate // args.sources)
    with db.session() as s:
        apply_rules(s, f"""
snmp: {{communities: [public], rate_limit: {per_source}}}
rules:
  - {{name: ups, input: snmp, trap: upsTrapOnBattery, severity: critical}}
  - {{name: link, input: snmp, trap: linkDown, key: [ifIndex]}}
""", by="bench", now=utcnow(), secret_key=settings.secret_key)
    registry = CollectorRegistry()
    receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap,
                        registry=registry)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listener = TrapListener("127.0.0.1", port, receiver)
    listener.fast_path = not args.pysnmp_only
    listener.start()

    def value(outcome: str) -> float:
        return registry.get_sample_value("dutydesk_facility_messages_total",
                                         {"input": "snmp", "outcome": outcome}) or 0.0

    sender = multiprocessing.Process(target=send,
                                     args=(port, args.rate, args.seconds, args.sources))
    cpu_before = time.process_time()  # this process: listener, flusher and pipeline threads
    start = time.monotonic()
    sender.start()
    sender.join()
    backlog, last_change = -1.0, time.monotonic()
    while time.monotonic() - last_change < 1.0:  # the socket buffer still holds traps: drain
        if value("received") != backlog:
            backlog, last_change = value("received"), time.monotonic()
        time.sleep(0.05)
    receiver.flush()
    busy = last_change - start
    cpu = time.process_time() - cpu_before
    print(f"received by listener  {value('received'):>10,.0f}")
    print(f"rate-limited          {value('rate_limited'):>10,.0f}")
    print(f"read by the fast path {listener.fast_decoded:>10,}  (the rest: pysnmp)")
    print(f"into the pipeline     {receiver.processed:>10,}  ({receiver.processed / busy:,.0f}/s "
          f"over {busy:.1f} s until the last trap was read)")
    print(f"CPU                   {cpu:>10.1f} s  ({cpu / max(receiver.processed, 1) * 1000:.3f}"
          " CPU-s per 1,000 traps, listener + pipeline)")
    with db.session() as s:
        opened = s.scalar(select(func.count()).select_from(Incident))
    verdict = "OK" if opened == args.sources else "WRONG"
    print(f"incidents opened      {opened:>10}  (expected {args.sources}: dedup {verdict})")

    # a duty engineer's wall is open: its live feed (polling every 0.5 s) must count the new
    # incident (a linkDown is not high enough to be listed among the UPS P1s, so: the count)
    from dutydesk.app import create_app
    from dutydesk.wall.feed import feed_for

    feed = feed_for(create_app(settings, db=db))
    feed.subscribe()
    feed.wait_for_change(None, 10)
    latencies, wall_latencies = [], []
    from tests.dutydesk.facility.conftest import v2c_trap_packet

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index in range(5):
            seen = feed.version
            packet = v2c_trap_packet("1.3.6.1.6.3.1.1.5.3",
                                     variables=((f"1.3.6.1.2.1.2.2.1.1.{index}", index),))
            sent_at = time.monotonic()
            sock.sendto(packet, ("127.0.0.1", port))
            while True:
                with db.session() as s:
                    if s.scalar(select(func.count()).select_from(Incident)) > opened + index:
                        break
                if time.monotonic() - sent_at > 10:
                    break
                time.sleep(0.005)
            latencies.append(time.monotonic() - sent_at)
            while time.monotonic() - sent_at < 10:  # the wall: a version that shows the trap
                if feed.wait_for_change(seen, 10 - (time.monotonic() - sent_at)):
                    update = feed.update_since(seen)
                    seen = update.version if update else seen
                    shown = f"<b data-must-read>{opened + index + 1}</b> <span>open incidents"
                    if update is not None and shown in str(update.payload):
                        break
            wall_latencies.append(time.monotonic() - sent_at)
            time.sleep(0.3 * index)  # land at different points of the wall's poll cycle
    print(f"trap → open incident  {statistics.median(latencies) * 1000:>10.0f} ms median "
          f"(max {max(latencies) * 1000:.0f} ms)")
    print(f"trap → on the wall    {statistics.median(wall_latencies) * 1000:>10.0f} ms median "
          f"(max {max(wall_latencies) * 1000:.0f} ms; the wall polls every 0.5 s)")
    feed.stop()
    listener.stop()
    db.dispose()


if __name__ == "__main__":
    main()
