"""Benchmark: the monthly request report on a year of 10,000 requests a month.

Run: ``.venv/bin/python bench/request_reports.py [--per-month 10000] [--runs 10]
[--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]``.

Seeds a fresh SQLite file (and, with ``--postgres``, a throw-away database on that server) with
a year that ends now: ``12 × --per-month`` requests in five channels, 30 services and 40
categories (a fifth "other"), with the timelines the lifecycle writes (first reply, notes,
waiting for the requester and back, hand-overs to the second line with some hand-backs, SLA
warnings and breaches, resolution, a few reopenings, closing) and — for the resolved ones —
the summary ``store.act`` keeps; ratings on a third of the resolved ones, requests linked to
outages and "me too" followers. Then times the ``/reports/requests`` page for the last complete
month through the Flask test client (signed in as a shift lead): p50/p95 over ``--runs``, CPU
per page, the same for the printable page and one CSV, and the loader alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

from dutydesk import accounts, migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.models import Incident
from dutydesk.models import Role
from dutydesk.reports.period import month_period
from dutydesk.reports.request_figures import RequestFilters, build_request_report
from dutydesk.reports.request_loader import load_requests
from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.models import (
    IncidentFollower,
    RequestEventRow,
    RequestRating,
    ServiceRequest,
)
from dutydesk.requests.sla import RequestSlaPolicy
from dutydesk.requests.summary import summarise_request, summary_columns
from shifts.localtime import load_zone

ZONE = "Europe/Kyiv"
CHANNELS = ["web"] * 50 + ["email"] * 25 + ["phone"] * 15 + ["walk_in"] * 5 + ["client_api"] * 5
PRIORITIES = ["P1"] * 2 + ["P2"] * 10 + ["P3"] * 48 + ["P4"] * 40
REPLY_MIN = {"P1": 10, "P2": 25, "P3": 90, "P4": 180}
FIX_MIN = {"P1": 120, "P2": 300, "P3": 900, "P4": 2400}
SERVICES = [f"service-{n:02d}" for n in range(30)]
CATEGORIES = [f"category-{n:02d}" for n in range(40)]
ENGINEERS = [f"eng{n}@bench.example" for n in range(15)]


def _batch(conn: Any, table: Any, rows: list[dict[str, Any]], size: int = 5000) -> None:
    for i in range(0, len(rows), size):
        conn.execute(insert(table), rows[i:i + size])


def _timeline(rng: random.Random, opened: datetime, priority: str, channel: str,
              now: datetime) -> tuple[list[tuple[str, datetime, str, dict]], dict[str, Any]]:
    """One request's events and final columns, the way the lifecycle would have written them."""
    who = rng.choice(ENGINEERS)
    ev: list[tuple[str, datetime, str, dict]] = [
        ("created", opened, "requester", {"priority": priority, "line": "first_line",
                                          "assignee": "", "channel": channel})]
    cols: dict[str, Any] = {"status": "new", "line": "first_line",
                            "lines_seen": ["first_line"], "ping_pong_count": 0,
                            "reopen_count": 0, "assignee": who, "responded": False,
                            "resolved_at": None, "closed_at": None}
    t = opened + timedelta(minutes=rng.lognormvariate(0, 0.9) * REPLY_MIN[priority])
    if rng.random() < 0.9:
        ev.append(("replied", t, who, {"text": "Looking into it", "first_response": True}))
        cols.update(status="in_progress", responded=True)
    if rng.random() < 0.25:
        ev.append(("note", t + timedelta(minutes=3), who, {"text": "checked the logs"}))
    if rng.random() < 0.15:
        t += timedelta(minutes=rng.uniform(5, 60))
        ev.append(("waiting", t, who, {"reason": "asked for a screenshot"}))
        t += timedelta(minutes=rng.uniform(30, 1500))
        ev.append(("requester_replied", t, "requester", {"text": "here it is"}))
        ev.append(("resumed", t, "requester", {"by": "requester"}))
    if rng.random() < 0.2:
        t += timedelta(minutes=rng.uniform(5, 90))
        ev.append(("reassigned", t, who, {"from_line": "first_line", "to_line": "second_line",
                                          "from_assignee": who, "to_assignee": "",
                                          "reason": "needs L2", "hand_back": 0}))
        cols.update(line="second_line", lines_seen=["first_line", "second_line"])
        if rng.random() < 0.2:
            t += timedelta(minutes=rng.uniform(5, 120))
            ev.append(("reassigned", t, "l2", {"from_line": "second_line",
                                               "to_line": "first_line", "from_assignee": "",
                                               "to_assignee": who, "reason": "not ours",
                                               "hand_back": 1}))
            cols.update(line="first_line", ping_pong_count=1)
    if rng.random() < 0.2:
        ev.append(("sla_warning", t, "sla", {"clock": "resolve", "priority": priority,
                                             "elapsed_s": 1, "target_s": 2}))
    t += timedelta(minutes=rng.lognormvariate(0, 1) * FIX_MIN[priority])
    if rng.random() < 0.96 and t < now:
        ev.append(("resolved", t, who, {"note": "fixed"}))
        cols.update(status="resolved", resolved_at=t)
        if rng.random() < 0.03:
            t += timedelta(hours=rng.uniform(1, 30))
            ev.append(("requester_replied", t, "requester", {"text": "still broken"}))
            ev.append(("reopened", t, "requester", {"reason": "the requester replied"}))
            cols.update(status="in_progress", resolved_at=None, reopen_count=1)
            t += timedelta(minutes=rng.uniform(30, 600))
            ev.append(("resolved", t, who, {"note": "fixed, really"}))
            cols.update(status="resolved", resolved_at=t)
        closed = t + timedelta(days=rng.uniform(1, 7))
        if closed < now:
            ev.append(("closed", closed, "requests", {"reason": "no answer for 7 days"}))
            cols.update(status="closed", closed_at=closed)
    ev.sort(key=lambda e: e[1])
    ev = [e for e in ev if e[1] <= now]
    return ev, cols


def seed(db: Database, per_month: int, now: datetime) -> dict[str, int]:
    rng = random.Random(17)
    start = now - timedelta(days=365)
    total = per_month * 12
    policy = RequestSlaPolicy()
    snapshot = policy.as_minutes()
    counts = {"requests": 0, "events": 0, "ratings": 0, "followers": 0}
    with db.engine.begin() as conn:
        incidents = [{"id": n + 1, "dedup_key": f"outage-{n}", "title": f"Outage {n}",
                      "source": "manual", "priority": "P2", "service": rng.choice(SERVICES),
                      "status": "resolved", "line": "first_line", "lines_seen": ["first_line"],
                      "labels": {}, "sla_targets": {},
                      "created_at": start + timedelta(days=n * 365 / 120),
                      "updated_at": start + timedelta(days=n * 365 / 120),
                      "last_alert_at": start + timedelta(days=n * 365 / 120)}
                     for n in range(120)]
        _batch(conn, Incident.__table__, incidents)
        followers = [{"incident_id": rng.randint(1, 120), "email": f"p{n}@corp.example",
                      "name": "", "language": "en",
                      "created_at": start + timedelta(seconds=rng.uniform(0, 365 * 86400))}
                     for n in range(per_month // 20 * 12)]
        _batch(conn, IncidentFollower.__table__, followers)
        counts["followers"] = len(followers)
        chunk = 20_000
        for first in range(0, total, chunk):
            requests, events, ratings = [], [], []
            for n in range(first, min(total, first + chunk)):
                opened = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
                priority, channel = rng.choice(PRIORITIES), rng.choice(CHANNELS)
                timeline, cols = _timeline(rng, opened, priority, channel, now)
                kept = None
                if cols["status"] in ("resolved", "closed"):
                    kept = summarise_request([RequestEvent(EventKind(k), at, actor, data)
                                              for k, at, actor, data in timeline], policy,
                                             cols["resolved_at"])
                    if rng.random() < 0.33:
                        good = rng.random() < 0.85
                        ratings.append({
                            "request_id": n + 1, "rating": "good" if good else "bad",
                            "comment": "" if rng.random() < 0.8 else "a comment",
                            "rated_at": cols["resolved_at"] + timedelta(hours=2)})
                cols.update(summary_columns(kept))
                requests.append({
                    "id": n + 1, "subject": f"Request {n}", "description": "help",
                    "requester_email": f"user{n % 3000}@corp.example", "requester_name": "",
                    "requester_language": "en", "channel": channel,
                    "service": rng.choice(SERVICES),
                    "category": "" if rng.random() < 0.2 else rng.choice(CATEGORIES),
                    "request_type": "fault", "impact": 3, "urgency": 2, "priority": priority,
                    "incident_id": rng.randint(1, 120) if rng.random() < 0.05 else None,
                    "waiting_reason": None, "sla_targets": snapshot, "created_at": opened,
                    "updated_at": timeline[-1][1], "version": len(timeline), **cols})
                events.extend({"request_id": n + 1, "kind": k, "at": at, "actor": actor,
                               "data": data} for k, at, actor, data in timeline)
            _batch(conn, ServiceRequest.__table__, requests)
            _batch(conn, RequestEventRow.__table__, events)
            _batch(conn, RequestRating.__table__, ratings)
            counts["requests"] += len(requests)
            counts["events"] += len(events)
            counts["ratings"] += len(ratings)
    return counts


def last_full_month(now: datetime) -> str:
    local = now.astimezone(load_zone(ZONE)).date().replace(day=1) - timedelta(days=1)
    return local.strftime("%Y-%m")


def timed(client: Any, url: str, runs: int) -> tuple[list[float], float, int]:
    first = client.get(url)
    assert first.status_code == 200, (url, first.status_code, first.data[-500:])
    times = []
    cpu = time.process_time()
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return sorted(times), (time.process_time() - cpu) * 1000 / runs, len(first.data)


def p95(times: list[float]) -> float:
    return times[max(1, round(len(times) * 0.95)) - 1]


def run(url: str, label: str, args: argparse.Namespace, tmp: Path) -> None:
    db = Database(url)
    migrate.upgrade(db)
    now = utcnow()
    started = time.perf_counter()
    counts = seed(db, args.per_month, now)
    print(f"== {label}: seeded {counts['requests']:,} requests with {counts['events']:,} "
          f"events over a year, {counts['ratings']:,} ratings, {counts['followers']:,} "
          f"'me too' in {time.perf_counter() - started:.1f} s")
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    settings = load_settings({"env": "testing", "database_url": url,
                              "secret_key": "bench-" + "x" * 40, "timezone": ZONE,
                              "instance_path": str(tmp / "instance")}, environ={})
    app = create_app(settings, db=db)
    with db.session() as s:
        lead = accounts.create_user(s, "bench", email="lead@bench.example",
                                    password="correct horse battery", role=Role.SHIFT_LEAD)
        sid = accounts.start_session(s, lead, datetime.now(UTC), timedelta(hours=12))
        s.commit()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["uid"], sess["sv"], sess["sid"] = lead.id, lead.session_version, sid
    month = last_full_month(now)
    period = month_period(month, load_zone(ZONE))
    with db.session() as s:
        t0 = time.perf_counter()
        records = load_requests(s, period, RequestFilters(), now)
        t1 = time.perf_counter()
        report = build_request_report(records, period, RequestFilters(), now)
        t2 = time.perf_counter()
        print(f"one run: load {len(records):,} requests {(t1 - t0) * 1000:.0f} ms "
              f"({sum(1 for r in records if not r.resolved):,} open, replayed), figures "
              f"{(t2 - t1) * 1000:.0f} ms; {report.received.total:,} received, "
              f"{len(report.sla.breaches):,} breaches")
    for what, path in (("GET /reports/requests (monthly page)",
                        f"/reports/requests?month={month}"),
                       ("GET /reports/requests?group=engineer",
                        f"/reports/requests?month={month}&group=engineer"),
                       ("GET /reports/requests/print", f"/reports/requests/print?month={month}"),
                       ("GET /reports/requests/breaches.csv",
                        f"/reports/requests/breaches.csv?month={month}")):
        times, cpu_ms, size = timed(client, path, args.runs)
        print(f"{what} {month} x{len(times)}: p50 {statistics.median(times):.0f} ms, "
              f"p95 {p95(times):.0f} ms, max {times[-1]:.0f} ms; CPU {cpu_ms:.0f} ms/page; "
              f"{size / 1024:.0f} KiB")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-month", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--postgres", default="", help="admin URL of a PostgreSQL server")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    with open("/proc/loadavg") as f:
        print(f"load average {f.read().split()[0]} on {utcnow().date().isoformat()}")
    if not args.skip_sqlite:
        run(f"sqlite:///{tmp / 'bench.sqlite'}", "SQLite", args, tmp)
    if args.postgres:
        name = f"dutydesk_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(args.postgres.rsplit("/", 1)[0] + "/" + name, "PostgreSQL", args, tmp)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
