"""Benchmark: the first-line queue with 100,000 requests (SQLite, or PostgreSQL with --pg).

Run: ``.venv/bin/python bench/requests_queue.py [--requests 100000] [--pg URL]``. Seeds a mix
of states (new, in progress with a first reply, waiting, resolved, closed) over 40 services,
each with its stored SLA deadline, then times the queue's pages as people open them (Flask test
client, signed in as an engineer): the first page, a deep page, a service filter, a search, and
the JSON API. Prints p50/p95 per kind; the target is p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, text

from dutydesk import accounts, migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.priority import priority_for
from dutydesk.models import Role
from dutydesk.requests.due import due_at
from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.models import RequestEventRow, ServiceRequest
from dutydesk.requests.sla import RequestSlaPolicy

STATES = ["new"] * 40 + ["in_progress"] * 30 + ["waiting"] * 10 + ["resolved"] * 10 + \
    ["closed"] * 10


def seed(db: Database, n: int) -> None:
    rng = random.Random(16)
    now = utcnow()
    policy = RequestSlaPolicy()
    targets = policy.as_minutes()
    batch_rows: list[dict] = []
    batch_events: list[dict] = []
    next_id = 1
    for i in range(n):
        created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        impact, urgency = rng.randint(1, 3), rng.randint(1, 3)
        priority = str(priority_for(impact, urgency))
        status = rng.choice(STATES)
        events = [RequestEvent(EventKind.CREATED, created, "bench",
                               {"priority": priority, "line": "first_line",
                                "channel": "email"})]
        responded = status != "new"
        if responded:
            events.append(RequestEvent(EventKind.REPLIED, created + timedelta(minutes=5),
                                       "olga", {"text": "on it", "first_response": True}))
        if status == "waiting":
            events.append(RequestEvent(EventKind.WAITING, created + timedelta(minutes=6),
                                       "olga", {"reason": "asked for a screenshot"}))
        if status in ("resolved", "closed"):
            events.append(RequestEvent(EventKind.RESOLVED, created + timedelta(minutes=60),
                                       "olga", {"note": "fixed"}))
        if status == "closed":
            events.append(RequestEvent(EventKind.CLOSED, created + timedelta(minutes=61),
                                       "olga", {"reason": "confirmed"}))
        batch_rows.append(dict(
            id=next_id, subject=f"problem {i}", description="bench", requester_email=
            f"user{i % 5000}@corp.example", requester_name=f"User {i % 5000}",
            requester_language="en", channel="email", service=f"service-{i % 40}",
            category="", request_type="fault", impact=impact, urgency=urgency,
            priority=priority, status=status, line="first_line", lines_seen=["first_line"],
            responded=responded, waiting_reason="screenshot" if status == "waiting" else None,
            ping_pong_count=0, reopen_count=0, sla_targets=targets, created_at=created,
            updated_at=created, version=len(events), sla_due_at=due_at(policy, events, now)))
        batch_events.extend(dict(request_id=next_id, kind=e.kind.value, at=e.at,
                                 actor=e.actor, data=dict(e.data)) for e in events)
        next_id += 1
        if len(batch_rows) >= 5000:
            _flush(db, batch_rows, batch_events)
    _flush(db, batch_rows, batch_events)


def _flush(db: Database, rows: list[dict], events: list[dict]) -> None:
    if rows:
        with db.session() as s:
            s.execute(insert(ServiceRequest), rows)
            s.execute(insert(RequestEventRow), events)
    rows.clear()
    events.clear()


def measure(client, url: str, repeat: int) -> tuple[float, float, float]:
    """p50 and p95 wall-clock ms, and the mean CPU ms of this process (what the machine's
    other load does not change)."""
    assert client.get(url).status_code == 200, url
    times = []
    cpu = time.process_time()
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    cpu_ms = (time.process_time() - cpu) * 1000 / repeat
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)], cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--pg", default="", help="PostgreSQL admin URL (a throw-away database "
                        "is created in it), e.g. postgresql+psycopg://postgres@127.0.0.1/postgres")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # one access-log line per request would be the bench
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    admin, name = None, ""
    if args.pg:
        name = f"dutydesk_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.pg.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url)
    try:
        migrate.upgrade(db)
        started = time.perf_counter()
        seed(db, args.requests)
        if args.pg:
            with db.session() as s:
                s.execute(text("ANALYZE"))
        print(f"{'PostgreSQL' if args.pg else 'SQLite'}: seeded {args.requests} requests in "
              f"{time.perf_counter() - started:.1f} s")
        settings = load_settings({"env": "testing", "database_url": url,
                                  "secret_key": "bench-" + "x" * 40,
                                  "instance_path": str(tmp / "instance")}, environ={})
        app = create_app(settings, db=db)
        with db.session() as s:
            user = accounts.create_user(s, "bench", email="olga@bench.example",
                                        password="correct horse battery", role=Role.ENGINEER)
            sid = accounts.start_session(s, user, utcnow(), timedelta(hours=12))
            s.commit()
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["uid"], sess["sv"], sess["sid"] = user.id, user.session_version, sid
        cases = [("queue, first page (50)", "/requests"),
                 ("queue, page 500", "/requests?page=500"),
                 ("queue, one service", "/requests?service=service-7"),
                 ("queue, all states", "/requests?status=all"),
                 ("queue, search 'problem 4242'", "/requests?q=problem%204242"),
                 ("API, first page (100)", "/api/v1/requests?per_page=100")]
        worst = 0.0
        for label, path in cases:
            p50, p95, cpu = measure(client, path, args.repeat)
            worst = max(worst, p95)
            print(f"{label:32s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  cpu {cpu:6.1f} ms")
        print(f"worst p95 {worst:.1f} ms (target < 300 ms): {'OK' if worst < 300 else 'SLOW'}")
    finally:
        db.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
