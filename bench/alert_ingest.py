"""Alertmanager webhook ingestion on SQLite: alerts/s (mixed new/repeat), p99 request latency,
and a check that no problem got two incidents.

    .venv/bin/python bench/alert_ingest.py [--requests 300] [--batch 20]

Runs in-process (Flask test client, no network) against a fresh migrated SQLite file.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=20, help="alerts per webhook request")
    parser.add_argument("--problems", type=int, default=1500, help="distinct fingerprints")
    args = parser.parse_args()

    from dutydesk import migrate
    from dutydesk.app import create_app
    from dutydesk.core.config import load_settings
    from dutydesk.core.db import Database
    from dutydesk.incidents.integrations import create_integration
    from dutydesk.incidents.models import Incident

    path = Path(tempfile.mkdtemp()) / "bench.sqlite"
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db)
    settings = load_settings(
        {"env": "testing", "database_url": url, "secret_key": "b" * 40, "log_level": "WARNING"},
        environ={},
    )
    app = create_app(settings, db=db)
    with db.session() as s:
        _row, key = create_integration(s, "bench", type="alertmanager", name="bench")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    rng = random.Random(7)
    latencies: list[float] = []
    total_alerts = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for _ in range(args.requests):
        alerts = [
            {
                "status": "firing",
                "labels": {"alertname": "Bench", "instance": f"host-{n}"},
                "annotations": {"summary": f"host-{n} down"},
                "startsAt": "2026-11-23T08:00:00Z",
                "fingerprint": f"fp{n:06d}",
            }
            for n in (rng.randrange(args.problems) for _ in range(args.batch))
        ]
        body = {"version": "4", "groupKey": "bench", "status": "firing", "alerts": alerts}
        t0 = time.perf_counter()
        answer = client.post("/api/v1/integrations/alertmanager", json=body, headers=headers)
        latencies.append(time.perf_counter() - t0)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        total_alerts += len(alerts)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    with db.session() as s:
        incidents = s.scalar(select(func.count(Incident.id)))
        distinct = s.scalar(select(func.count(func.distinct(Incident.dedup_key))))
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"alerts: {total_alerts} in {elapsed:.2f} s = {total_alerts / elapsed:,.0f} alerts/s")
    print(
        f"requests: {len(latencies)} of {args.batch} alerts; p50 "
        f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )
    # Wall-clock figures depend on what else the machine runs; CPU time of this process does not.
    print(
        f"cpu: {cpu * 1000 / len(latencies):.1f} ms per request = "
        f"{total_alerts / cpu:,.0f} alerts per CPU-second"
    )
    duplicates = incidents - distinct
    print(f"incidents: {incidents} for {distinct} distinct problems (duplicates: {duplicates})")
    assert incidents == distinct, "duplicate incidents"


if __name__ == "__main__":
    main()
