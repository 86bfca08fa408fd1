"""What one reading of the incident figures on /metrics costs with a year of incidents.

    .venv/bin/python bench/incident_metrics.py                      # PostgreSQL, 50,000 incidents
    .venv/bin/python bench/incident_metrics.py --backend sqlite
    .venv/bin/python bench/incident_metrics.py --incidents 5000 --runs 3

A throw-away database (PostgreSQL at DUTYDESK_TEST_POSTGRES_URL's server, or a temp SQLite
file), migrated, then filled with N incidents over a year, each with a realistic timeline
(triggered, repeats, notifications, acknowledgement for most, a second one after a withdrawal
for some, resolution, SLA warnings and breaches for a few; about 8 events per incident). It
prints the rows, then the time of ``read_figures`` (the three queries a scrape runs once per
cache period) as the median and max of ``--runs`` readings, and the same as a full /metrics
scrape through the Flask app. ``--without-kind-index`` drops ``ix_incident_events_kind`` first,
to compare. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text

from dutydesk import migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.web import incident_metrics
from dutydesk.web.incident_metrics import CACHE_SECONDS, read_figures

PG_ADMIN_URL = os.environ.get(
    "DUTYDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2025, 11, 23, tzinfo=UTC)
SOURCES = ["check"] * 6 + ["alertmanager"] * 3 + ["manual", "pagerduty"]
PRIORITIES = ["P1"] + ["P2"] * 3 + ["P3"] * 4 + ["P4"] * 2


def timeline(
    rng: random.Random, incident_id: int, at: datetime, priority: str
) -> tuple[list[dict], str]:
    """The incident's events and its priority at the end (a few are re-prioritised)."""
    def event(kind: str, seconds: float, **data: Any) -> dict:
        return {"incident_id": incident_id, "kind": kind, "at": at + timedelta(seconds=seconds),
                "actor": "bench", "data": data}

    events = [event("triggered", 0, priority=priority, line="first_line", assignee="")]
    events += [event("alert", 60 * (i + 1), status="firing") for i in range(rng.randint(0, 4))]
    events += [event("notification_sent", 1 + i, channel="email") for i in range(2)]
    events.append(event("escalation_notified", 2, cycle=0, position=0, step=0, round=0))
    waited = rng.lognormvariate(5.5, 1.2)  # median ~4 min, a long tail of hours
    if rng.random() < 0.9:
        events.append(event("acknowledged", waited))
        if rng.random() < 0.05:
            events.append(event("unacknowledged", waited + 60, reason="wrong person"))
            events.append(event("acknowledged", waited + 600))
    now_priority = priority
    if rng.random() < 0.03:
        now_priority = {"P1": "P2", "P2": "P1", "P3": "P2", "P4": "P3"}[priority]
        events.append(event("priority_changed", 90, **{"from": priority, "to": now_priority}))
    if waited > 1800:
        events.append(event("sla_warning", 1350, clock="acknowledge", priority=priority))
        events.append(event("sla_breached", 1800, clock="acknowledge", priority=priority))
    events.append(event("resolved", waited + rng.lognormvariate(7.5, 1.0), note="fixed"))
    return events, now_priority


def fill(db: Database, count: int) -> tuple[int, int]:
    rng = random.Random(8)
    events_total = 0
    step = timedelta(days=365) / count
    batch = 2000
    with db.engine.begin() as conn:
        for first in range(1, count + 1, batch):
            incidents, events = [], []
            for incident_id in range(first, min(count, first + batch - 1) + 1):
                at = START + step * incident_id
                priority = rng.choice(PRIORITIES)
                timeline_events, now_priority = timeline(rng, incident_id, at, priority)
                incidents.append({
                    "id": incident_id, "dedup_key": f"bench:{incident_id}", "title": "bench",
                    "source": rng.choice(SOURCES), "priority": now_priority, "status": "resolved",
                    "created_at": at, "updated_at": at, "last_alert_at": at, "labels": {},
                    "lines_seen": ["first_line"], "sla_targets": {}, "alert_count": 1,
                })
                events += timeline_events
            conn.execute(insert(Incident), incidents)
            conn.execute(insert(IncidentEventRow), events)
            events_total += len(events)
    return count, events_total


def timed(func: Any, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--without-kind-index", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    admin = None
    if args.backend == "postgresql":
        name = f"dutydesk_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url, pool_size=2)
    try:
        migrate.upgrade(db)
        started = time.perf_counter()
        incidents, events = fill(db, args.incidents)
        if args.without_kind_index:
            with db.engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_incident_events_kind"))
        # Statistics and (on PostgreSQL) the visibility map, as autovacuum leaves a live table:
        # without it an index-only scan still visits the table.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if args.backend == "postgresql" else "ANALYZE"))
        print(f"backend              {args.backend}"
              f"{' (without ix_incident_events_kind)' if args.without_kind_index else ''}")
        print(f"rows                 {incidents:,} incidents, {events:,} timeline events "
              f"(filled in {time.perf_counter() - started:.1f} s)")

        def reading() -> Any:
            with db.session() as s:
                return read_figures(s)

        figures = reading()
        median, worst = timed(reading, args.runs)
        print(f"read_figures         median {median:.1f} ms, max {worst:.1f} ms over {args.runs} "
              f"readings (4 queries; once per {CACHE_SECONDS:g} s at most)")
        for part in ("_incidents_opened", "_ack_histogram", "_breaches"):
            def one(part: str = part) -> Any:
                with db.session() as s:
                    return getattr(incident_metrics, part)(s)
            median, worst = timed(one, args.runs)
            print(f"  {part:<19}median {median:.1f} ms, max {worst:.1f} ms")
        print(f"figures              {sum(figures.incidents.values()):,} opened, "
              f"{figures.ack.count:,} acknowledged, {sum(figures.breaches.values()):,} breaches")
        settings = load_settings({"env": "testing", "database_url": url,
                                  "secret_key": "bench-" + "x" * 40,
                                  "instance_path": str(tmp / "instance")}, environ={})
        cold = []
        for _ in range(args.runs):  # a new app each time: its collector has nothing cached
            client = create_app(settings, db=db).test_client()
            t0 = time.perf_counter()
            assert client.get("/metrics").status_code == 200
            cold.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        for _ in range(20):
            client.get("/metrics")
        warm = (time.perf_counter() - t0) * 1000 / 20
        print(f"/metrics scrape      {statistics.median(cold):.1f} ms when it reads the database "
              f"(median of {args.runs}), {warm:.1f} ms from the cache (mean of 20)")
    finally:
        db.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
