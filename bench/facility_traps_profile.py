"""Where the SNMP trap listener's CPU goes: the per-trap cost of the dispatcher with the fast
path (``dutydesk/facility/ber.py``) and with pysnmp alone, and a cProfile of the pysnmp path.

    .venv/bin/python bench/facility_traps_profile.py [--traps 5000] [--top 15]

No sockets: the real ``TrapListener`` engine is built and its dispatcher is handed the same
pre-encoded SNMPv2c trap ``--traps`` times in this thread; then the queued traps are flushed
through the pipeline (decide, fold, one transaction) on a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traps", type=int, default=5000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    from prometheus_client import CollectorRegistry
    from pysnmp.carrier.asyncio.dgram import udp

    from dutydesk import migrate
    from dutydesk.core.config import load_settings
    from dutydesk.core.db import Database, utcnow
    from dutydesk.facility.decide import decide_trap
    from dutydesk.facility.receiver import Receiver
    from dutydesk.facility.snmp import TrapListener, describe_trap
    from dutydesk.facility.store import apply_rules
    from dutydesk.incidents.alerts.model import AlertSource
    from tests.dutydesk.facility.conftest import v2c_trap_packet

    asyncio.set_event_loop(asyncio.new_event_loop())
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'profile.sqlite'}"
    db = Database(url)
    migrate.upgrade(db)
    settings = load_settings({"env": "testing", "database_url": url, "secret_key": "b" * 40,
                              "log_level": "WARNING"}, environ={})
    with db.session() as s:
        apply_rules(s, "snmp: {communities: [public], rate_limit: 1000000}\nrules:\n"
                       "  - {name: ups, input: snmp, trap: upsTrapOnBattery}\n",
                    by="bench", now=utcnow(), secret_key=settings.secret_key)
    packet = v2c_trap_packet("1.3.6.1.2.1.33.2.1")

    def dispatcher(fast: bool):
        receiver = Receiver(AlertSource.SNMP_TRAP, db, settings, decide_trap, describe_trap,
                            registry=CollectorRegistry())
        receiver.reload_rules(force=True)
        listener = TrapListener("127.0.0.1", 0, receiver)
        listener.fast_path = fast
        listener._build(receiver.rules.snmp)
        engine = listener._engine
        receive = engine.message_dispatcher.receive_message
        return receiver, lambda i: receive(engine, udp.DOMAIN_NAME,
                                           (f"127.0.0.{2 + i % 20}", 5000), packet)

    for fast in (True, False):
        receiver, receive = dispatcher(fast)
        started = time.process_time()
        for i in range(args.traps):
            receive(i)
        spent = time.process_time() - started
        started = time.process_time()
        receiver.flush()
        flushed = time.process_time() - started
        name = "fast path" if fast else "pysnmp   "
        print(f"{name}: dispatcher {spent / args.traps * 1e6:6.0f} µs/trap, "
              f"flush {flushed / args.traps * 1e6:4.0f} µs/trap → "
              f"{(spent + flushed) / args.traps * 1000:.3f} CPU-s per 1,000 traps")

    _receiver, receive = dispatcher(False)
    profile = cProfile.Profile()
    profile.enable()
    for i in range(min(args.traps, 3000)):
        receive(i)
    profile.disable()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
