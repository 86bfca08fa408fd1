"""Remote probe results ingested by the centre: results/s through ``dutydesk.sites.ingest``
(validation, (probe, seq) dedup, in-order judging, state/result/flip/rollup writes), and the
time to replay a buffered backlog.

    .venv/bin/python bench/probe_ingest.py [--checks 1000] [--rounds 20] [--batch 1000]
        [--database-url postgresql://...]

A fresh migrated SQLite file by default. Every check flips every 5th round so flips are written
too. Prints results/s and how long ``--checks`` x ``--rounds`` results (a backlog) took.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from checks.models import Check, CheckStateRow
    from checks.store import CheckStore
    from dutydesk import migrate
    from dutydesk.core.db import Database
    from dutydesk.sites.ingest import ingest
    from dutydesk.sites.service import assign_check, create_probe, enrol

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}"
    db = Database(url)
    migrate.upgrade(db)
    now = datetime.now(UTC)
    with db.session() as s:
        token = create_probe(s, "default", f"bench-{int(time.time())}", now).secret
        probe_id = enrol(s, token, now).probe_id
        ids = []
        for i in range(args.checks):
            check = Check(slug=f"bench-remote-{probe_id}-{i}", type="http",
                          spec={"url": "http://127.0.0.1:9/"}, interval=10.0, max_attempts=1)
            s.add(check)
            s.flush()
            s.add(CheckStateRow(check_id=check.id, state={}, next_due_at=now))
            ids.append(check.id)
    with db.session() as s:
        from dutydesk.sites.models import Probe

        probe = s.get(Probe, probe_id)
        for cid in ids:
            assign_check(s, cid, probe)
    store = CheckStore(db)
    t0 = now - timedelta(seconds=10 * args.rounds)
    results, seq = [], 0
    for r in range(args.rounds):
        status = "CRITICAL" if r % 5 == 4 else "OK"
        for cid in ids:
            seq += 1
            results.append({"seq": seq, "check_id": cid, "status": status, "message": "bench",
                            "started_at": (t0 + timedelta(seconds=10 * r)).isoformat(),
                            "duration": 0.01, "metrics": {"response_time": 0.01}})
    started = time.perf_counter()
    stored = 0
    for i in range(0, len(results), args.batch):
        done = ingest(db, store, probe_id, {"results": results[i:i + args.batch]}, now)
        stored += done.stored
    elapsed = time.perf_counter() - started
    print(f"{db.dialect}: {stored} results from {args.checks} checks x {args.rounds} rounds "
          f"in {elapsed:.1f} s = {stored / elapsed:,.0f} results/s (batch {args.batch})")


if __name__ == "__main__":
    main()
