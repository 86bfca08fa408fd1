"""Benchmark: the wall with 5,000 checks and 200 open incidents on SQLite.

Run: ``.venv/bin/python bench/wall_page.py [--requests 100]``. Prints the full page p50/p95
(Flask test client, signed in as viewer), the size of the page, and the size of one incremental
live update (one check turning critical) against a full refresh.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checks.models import Check, CheckGroup, CheckStateRow
from dutydesk import accounts, migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.models import Role, WorkerHeartbeat
from dutydesk.wall.feed import limits_for
from dutydesk.wall.render import diff_sections, render_sections
from dutydesk.wall.sources import load_view

HALLS = [f"Hall {h}" for h in "ABCDEFGH"]
SYSTEMS = ["UPS", "PDU", "Cooling", "Network", "Fire", "Access", "Power", "Sensors"]


def seed(db: Database, n_checks: int, n_incidents: int) -> list[int]:
    rng = random.Random(7)
    now = utcnow()
    with db.session() as s:
        groups = []
        for hall in HALLS:
            for system in SYSTEMS:
                g = CheckGroup(name=system, path=f"{hall} / {system}")
                s.add(g)
                groups.append(g)
        s.flush()
        checks = [
            Check(
                slug=f"check-{i}",
                display_name=f"check {i}",
                type="tcp",
                group_id=groups[i % len(groups)].id,
                service=f"svc-{i % 50}",
            )
            for i in range(n_checks)
        ]
        s.add_all(checks)
        s.flush()
        statuses = ["OK"] * 95 + ["CRITICAL"] * 2 + ["WARNING"] * 2 + ["UNKNOWN"]
        s.add_all(
            CheckStateRow(
                check_id=c.id,
                status=(st := rng.choice(statuses)),
                state_type="HARD",
                last_result_at=now,
                last_status=st,
                last_message=f"{c.slug} {st}",
                updated_at=now,
                state={"reachable": True, "status": st},
            )
            for c in checks
        )
        for i in range(n_incidents):
            opened = now - timedelta(minutes=rng.randint(1, 600))
            inc = Incident(
                dedup_key=f"b-{i}",
                open_key=f"b-{i}",
                title=f"incident {i}",
                source="manual",
                priority=f"P{1 + i % 4}",
                status="triggered",
                created_at=opened,
                updated_at=opened,
            )
            s.add(inc)
            s.flush()
            s.add(
                IncidentEventRow(
                    incident_id=inc.id,
                    kind="triggered",
                    at=opened,
                    actor="b",
                    data={"priority": inc.priority, "line": "first_line"},
                )
            )
        s.add(WorkerHeartbeat(name="bench", beat_at=now, pid=1))
        return [c.id for c in checks if True]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--incidents", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url)
    migrate.upgrade(db)
    t0 = time.perf_counter()
    ids = seed(db, args.checks, args.incidents)
    print(
        f"seeded {args.checks} checks, {args.incidents} open incidents "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    settings = load_settings(
        {
            "env": "testing",
            "database_url": url,
            "secret_key": "bench-" + "x" * 40,
            "instance_path": str(tmp / "instance"),
        },
        environ={},
    )
    app = create_app(settings, db=db)
    with db.session() as s:
        user = accounts.create_user(
            s,
            "bench",
            email="viewer@bench.example",
            password="correct horse battery",
            role=Role.VIEWER,
        )
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["uid"], sess["sv"] = user.id, user.session_version

    page = client.get("/wall")
    assert page.status_code == 200, page.status_code
    times = []
    cpu_started = time.process_time()
    for _ in range(args.requests):
        started = time.perf_counter()
        response = client.get("/wall")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    cpu_ms = (time.process_time() - cpu_started) * 1000 / len(times)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"GET /wall x{len(times)}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
        f"max {times[-1]:.1f} ms; page {len(page.data) / 1024:.0f} KiB"
    )
    # Wall-clock figures depend on what else the machine runs; CPU time of this process does not.
    print(f"cpu: {cpu_ms:.1f} ms per page (process time)")

    limits = limits_for(app)
    with app.test_request_context("/wall"), db.session() as s:
        before = render_sections(load_view(s, utcnow(), limits))
    with db.session() as s:  # one OK check turns critical
        target = s.get(
            CheckStateRow, next(i for i in ids if s.get(CheckStateRow, i).status == "OK")
        )
        target.status = target.last_status = "CRITICAL"
    with app.test_request_context("/wall"), db.session() as s:
        started = time.perf_counter()
        after = render_sections(load_view(s, utcnow(), limits))
        rebuild_ms = (time.perf_counter() - started) * 1000
    patch = json.dumps(diff_sections(before, after))
    full = json.dumps(diff_sections(None, after))
    print(f"feed rebuild (read + render, once per change per process): {rebuild_ms:.1f} ms")
    print(
        f"live update for one check turning critical: {len(patch) / 1024:.1f} KiB "
        f"vs full refresh {len(full) / 1024:.1f} KiB ({len(patch) / len(full):.1%})"
    )
    db.dispose()


if __name__ == "__main__":
    main()
