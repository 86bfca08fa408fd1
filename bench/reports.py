"""Benchmark: the monthly effectiveness report on a year of data with 50,000 incidents.

Run: ``.venv/bin/python bench/reports.py [--incidents 50000] [--runs 10]
[--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]``.

Seeds a fresh SQLite file (and, with ``--postgres``, a throw-away database on that server) with
a year that ends now: incidents with realistic timelines (repeat alerts, notifications,
acknowledgements, pending, reassignments with ping-pong, priority changes, SLA events, notes,
resolutions, a few reopenings), 100 checks in 40 services with hour rollups for 90 days and day
rollups for the year, status-page services with notices, three duty schedules, visitors. Then
times the full ``/reports`` HTML page for the last complete month through the Flask test client
(signed in as a shift lead): p50/p95 over ``--runs`` runs, the CPU time per page, the same for
the printable page and one CSV, and how long each loader step takes.
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

from checks.models import Check, CheckRollup
from dutydesk import accounts, migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.events import IncidentEvent
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.sla_config import sla_policy, sla_snapshot
from dutydesk.incidents.summary import summarise, summary_columns
from dutydesk.models import Role, User
from dutydesk.reports import loader
from dutydesk.reports.period import Filters, month_period
from shifts.localtime import load_zone
from shifts.models import ShiftRotationRow, ShiftScheduleRow
from shifts.notices.orm import NoticeAffectedService, NoticeRow, StatusService
from shifts.visitors.orm import VisitorClient, VisitRow

ZONE = "Europe/Kyiv"
SOURCES = ["check"] * 60 + ["alertmanager"] * 20 + ["pagerduty"] * 10 + ["manual"] * 10
PRIORITIES = ["P1"] * 5 + ["P2"] * 15 + ["P3"] * 50 + ["P4"] * 30
ACK_MINUTES = {"P1": 6, "P2": 12, "P3": 40, "P4": 120}  # typical time to acknowledge
FIX_MINUTES = {"P1": 90, "P2": 200, "P3": 600, "P4": 1500}
SERVICES = [f"service-{n:02d}" for n in range(40)]
ENGINEERS = 12


def _batch(conn: Any, table: Any, rows: list[dict[str, Any]], size: int = 5000) -> None:
    for i in range(0, len(rows), size):
        conn.execute(insert(table), rows[i:i + size])


def _timeline(rng: random.Random, opened: datetime, priority: str, logins: list[str],
              now: datetime) -> tuple[list[tuple[str, datetime, str, dict]], dict[str, Any]]:
    """One incident's events and final columns, the way the lifecycle would have written them."""
    ev: list[tuple[str, datetime, str, dict]] = [
        ("triggered", opened, "check", {"priority": priority, "line": "first_line",
                                        "assignee": ""})]
    t = opened
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        ev.append(("alert", t + timedelta(minutes=rng.uniform(1, 30)), "check",
                   {"dedup_key": "k", "status": "firing"}))
    for _ in range(rng.randint(2, 4)):
        ev.append(("notification_sent", t + timedelta(seconds=rng.uniform(1, 90)), "outbox",
                   {"channel": "email"}))
    who = rng.choice(logins)
    cols: dict[str, Any] = {"status": "triggered", "line": "first_line",
                            "lines_seen": ["first_line"], "ping_pong_count": 0,
                            "acknowledged_by": None, "acknowledged_at": None,
                            "resolved_by": None, "resolved_at": None, "reopen_count": 0}
    t += timedelta(minutes=rng.lognormvariate(0, 0.8) * ACK_MINUTES[priority])
    if rng.random() < 0.9 and t < now:
        ev.append(("acknowledged", t, who, {}))
        cols.update(status="acknowledged", acknowledged_by=who, acknowledged_at=t)
    if rng.random() < 0.3:
        ev.append(("sla_warning", t, "sla", {"clock": "acknowledge", "elapsed_s": 1,
                                             "target_s": 2}))
    if rng.random() < 0.1:
        t += timedelta(minutes=rng.uniform(5, 60))
        ev.append(("pending", t, who, {"reason": "vendor"}))
        t += timedelta(minutes=rng.uniform(30, 600))
        back = "acknowledged" if cols["status"] == "acknowledged" else "triggered"
        ev.append(("resumed", t, who, {"status": back}))
    if rng.random() < 0.2:
        t += timedelta(minutes=rng.uniform(5, 60))
        ev.append(("reassigned", t, who, {"from_line": "first_line", "to_line": "second_line",
                                          "from_assignee": "", "to_assignee": "",
                                          "reason": "needs L2", "hand_back": False}))
        cols.update(line="second_line", lines_seen=["first_line", "second_line"])
        if rng.random() < 0.25:
            t += timedelta(minutes=rng.uniform(5, 60))
            ev.append(("reassigned", t, "l2", {"from_line": "second_line",
                                               "to_line": "first_line", "from_assignee": "",
                                               "to_assignee": "", "reason": "not ours",
                                               "hand_back": True}))
            cols.update(line="first_line", ping_pong_count=1)
    if rng.random() < 0.03:
        t += timedelta(minutes=5)
        new = "P1" if priority != "P1" else "P2"
        ev.append(("priority_changed", t, who, {"from": priority, "to": new, "reason": "x"}))
    if rng.random() < 0.2:
        ev.append(("note", t + timedelta(minutes=2), who, {"text": "looking"}))
    t += timedelta(minutes=rng.lognormvariate(0, 1) * FIX_MINUTES[priority])
    if rng.random() < 0.97 and t < now:
        ev.append(("resolved", t, who, {"note": "fixed"}))
        cols.update(status="resolved", resolved_by=who, resolved_at=t)
        if rng.random() < 0.02:
            t += timedelta(hours=2)
            ev.append(("reopened", t, "check", {"reason": "again"}))
            cols.update(status="triggered", resolved_by=None, resolved_at=None,
                        acknowledged_by=None, acknowledged_at=None, reopen_count=1)
    ev.sort(key=lambda e: e[1])
    return [e for e in ev if e[1] <= now], cols


def seed(db: Database, n_incidents: int, now: datetime) -> dict[str, int]:
    rng = random.Random(8)
    start = now - timedelta(days=365)
    counts: dict[str, int] = {}
    with db.session() as s:
        users = [User(email=f"eng{n}@bench.example", name=f"Engineer {n:02d}",
                      password_hash="x", role=Role.ENGINEER) for n in range(ENGINEERS)]
        s.add_all(users)
        s.flush()
        ids = [u.id for u in users]
        logins = [u.email for u in users]
        for name, line, pattern, params, people in (
            ("First line", "first_line", "day_night_off_off", {"day_hours": 12}, ids[:4]),
            ("Second line", "second_line", "fixed_length", {"weeks": 1}, ids[4:8]),
            ("Shift lead", "shift_lead", "fixed_length", {"weeks": 1}, ids[8:10]),
        ):
            schedule = ShiftScheduleRow(name=name, line=line, time_zone=ZONE)
            s.add(schedule)
            s.flush()
            s.add(ShiftRotationRow(schedule_id=schedule.id, name="main", position=0,
                                   participants=people, pattern=pattern, pattern_params=params,
                                   handoff_time="08:00", start_date=start.date(),
                                   restrictions=[]))
        checks = [Check(slug=f"check-{n}", type="tcp", service=SERVICES[n % len(SERVICES)])
                  for n in range(100)]
        s.add_all(checks)
        services = [StatusService(slug=f"svc-{n}", name=SERVICES[n]) for n in range(10)]
        s.add_all(services)
        clients = [VisitorClient(name=f"Client {n}") for n in range(5)]
        s.add_all(clients)
        s.flush()
        check_ids = [c.id for c in checks]
        service_ids = [x.id for x in services]
        client_ids = [c.id for c in clients]
    policy = sla_policy(load_settings({"env": "testing"}, environ={}))
    snapshot = sla_snapshot(policy)
    with db.engine.begin() as conn:
        incidents, events = [], []
        for n in range(n_incidents):
            opened = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
            priority = rng.choice(PRIORITIES)
            timeline, cols = _timeline(rng, opened, priority, logins, now)
            kept = None  # what store.act keeps when it resolves one (NULL while open)
            if cols["status"] == "resolved":
                kept = summarise([IncidentEvent(k, at, actor, data)
                                  for k, at, actor, data in timeline], policy, cols["resolved_at"])
            cols.update(summary_columns(kept))
            incidents.append({
                "id": n + 1, "dedup_key": f"bench-{n}", "title": f"Problem {n}",
                "source": rng.choice(SOURCES), "priority": priority,
                "service": rng.choice(SERVICES), "labels": {}, "sla_targets": snapshot,
                "created_at": opened, "updated_at": timeline[-1][1], "last_alert_at": opened,
                "open_key": None if cols["status"] == "resolved" else f"bench-{n}",
                "assignee": None, **cols,
            })
            events.extend({"incident_id": n + 1, "kind": kind, "at": at, "actor": actor,
                           "data": data} for kind, at, actor, data in timeline)
        _batch(conn, Incident.__table__, incidents)
        _batch(conn, IncidentEventRow.__table__, events)
        counts["incidents"], counts["events"] = len(incidents), len(events)
        rollups = []
        hour0 = now.replace(minute=0, second=0, microsecond=0)
        for cid in check_ids:
            for h in range(1, 90 * 24):
                down = 60 if rng.random() < 0.002 else 0
                rollups.append({"check_id": cid, "resolution": "hour",
                                "bucket_start": hour0 - timedelta(hours=h), "count": 60,
                                "up_count": 60 - down, "ok_count": 60 - down})
            for d in range(1, 366):
                rollups.append({"check_id": cid, "resolution": "day",
                                "bucket_start": (hour0 - timedelta(days=d)).replace(hour=0),
                                "count": 1440, "up_count": 1440 - rng.choice([0] * 9 + [60]),
                                "ok_count": 1400})
        _batch(conn, CheckRollup.__table__, rollups)
        counts["rollups"] = len(rollups)
        notices = []
        for n in range(120):
            begun = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
            notices.append({"id": n + 1, "kind": "incident", "title": f"Outage {n}",
                            "impact": "major", "created_at": begun, "published_at": begun,
                            "started_at": begun,
                            "resolved_at": begun + timedelta(minutes=rng.uniform(10, 300))})
        _batch(conn, NoticeRow.__table__, notices)
        _batch(conn, NoticeAffectedService.__table__, [
            {"notice_id": n + 1, "service_id": rng.choice(service_ids),
             "impact": rng.choice(["major_outage", "partial_outage"]), "position": 0}
            for n in range(120)])
        visits = []
        for n in range(2000):
            inside = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
            visits.append({"client_id": rng.choice(client_ids), "person_name": f"Visitor {n}",
                           "status": "left", "recorded_at": inside, "checked_in_at": inside,
                           "checked_out_at": inside + timedelta(hours=rng.uniform(0.5, 8)),
                           "areas": [], "purpose": "works"})
        _batch(conn, VisitRow.__table__, visits)
        counts["visits"] = len(visits)
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
    counts = seed(db, args.incidents, now)
    print(f"== {label}: seeded {counts['incidents']:,} incidents with {counts['events']:,} "
          f"events over a year, {counts['rollups']:,} rollups, {counts['visits']:,} visits "
          f"in {time.perf_counter() - started:.1f} s")
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
        steps = []
        for name, call in (
            ("people", lambda: loader.load_people(s)),
            ("incidents+timelines", lambda: loader.load_incidents(s, period, Filters(),
                                                                  settings, now)),
            ("duties", lambda: loader.load_duties(s, period, None)),
            ("rollups", lambda: loader.load_rollups(s, period)),
            ("notices", lambda: loader.load_outages(s, period)),
            ("visits", lambda: loader.load_visits(s, period)),
        ):
            t0 = time.perf_counter()
            found = call()
            size = len(found) if not isinstance(found, tuple) else len(found[0])
            steps.append(f"{name} {(time.perf_counter() - t0) * 1000:.0f} ms ({size:,})")
        print("loader steps (one run): " + ", ".join(steps))
    for what, path in (("GET /reports (monthly page)", f"/reports?month={month}"),
                       ("GET /reports/print", f"/reports/print?month={month}"),
                       ("GET /reports/sla.csv", f"/reports/sla.csv?month={month}")):
        times, cpu_ms, size = timed(client, path, args.runs)
        print(f"{what} {month} x{len(times)}: p50 {statistics.median(times):.0f} ms, "
              f"p95 {p95(times):.0f} ms, max {times[-1]:.0f} ms; CPU {cpu_ms:.0f} ms/page; "
              f"{size / 1024:.0f} KiB")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--postgres", default="", help="admin URL of a PostgreSQL server")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    with open("/proc/loadavg") as f:
        print(f"load average {f.read().split()[0]} on {utcnow().date().isoformat()}")
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
