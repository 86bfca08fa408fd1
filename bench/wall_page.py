"""Benchmark: the wall with 5,000 checks and 200 open incidents over 5 sites on SQLite.

Run: ``.venv/bin/python bench/wall_page.py [--requests 100] [--sites 5]``. Prints, for the head
office's wall (every site, with the per-site strip and the probes in trouble) and for one site's
wall, the full page p50/p95 (Flask test client, signed in as viewer), the SQL statements per
page, the size of the page, and the size of one incremental live update (one check turning
critical) against a full refresh.
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
from typing import Any

from sqlalchemy import event, select

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
from dutydesk.wall.scope import find_site, load_sites, load_wall

HALLS = [f"Hall {h}" for h in "ABCDEFGH"]
SYSTEMS = ["UPS", "PDU", "Cooling", "Network", "Fire", "Access", "Power", "Sensors"]


def seed_sites(db: Database, n_sites: int) -> list[int]:
    """The default site and ``n_sites - 1`` more, each with two probes (one of them offline
    with a full buffer)."""
    from dutydesk.core.sites import Site
    from dutydesk.sites.models import Probe

    now = utcnow()
    with db.session() as s:
        sites = list(s.scalars(select(Site).where(Site.slug == "default")))
        if not sites:
            sites = [Site(slug="default", name="Default site", time_zone="UTC")]
            s.add(sites[0])
        sites += [Site(slug=f"dc{n}", name=f"DC {n}", time_zone="Europe/Kyiv")
                  for n in range(2, n_sites + 1)]
        s.add_all(sites)
        s.flush()
        for site in sites:
            s.add(Probe(site_id=site.id, name=f"{site.slug}-a", credential_hash="0" * 64,
                        last_contact_at=now, grace_seconds=120))
            s.add(Probe(site_id=site.id, name=f"{site.slug}-b", credential_hash="1" * 64,
                        last_contact_at=now - timedelta(minutes=10), buffer_depth=1234,
                        grace_seconds=120))
        return [site.id for site in sites]


def seed(db: Database, n_checks: int, n_incidents: int, site_ids: list[int]) -> list[int]:
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
                site_id=site_ids[i % len(site_ids)],
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
                site_id=site_ids[i % len(site_ids)],
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
    parser.add_argument("--sites", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url)
    migrate.upgrade(db)
    t0 = time.perf_counter()
    site_ids = seed_sites(db, args.sites)
    ids = seed(db, args.checks, args.incidents, site_ids)
    print(
        f"seeded {args.checks} checks, {args.incidents} open incidents over {args.sites} sites "
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
        sid = accounts.start_session(s, user, utcnow(), timedelta(hours=12))
        s.commit()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["uid"], sess["sv"], sess["sid"] = user.id, user.session_version, sid

    statements = [0]
    event.listen(db.engine, "before_cursor_execute",
                 lambda *_a: statements.__setitem__(0, statements[0] + 1))
    one = "dc2" if args.sites > 1 else "default"
    for label, path in (("head office", "/wall"), ("one site", f"/wall?site={one}")):
        page = client.get(path)
        assert page.status_code == 200, page.status_code
        assert args.sites < 2 or (b'class="wall-site ' in page.data) == (label == "head office")
        statements[0] = 0
        client.get(path)
        per_page = statements[0]
        times = []
        cpu_started = time.process_time()
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        cpu_ms = (time.process_time() - cpu_started) * 1000 / len(times)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"GET {path} ({label}) x{len(times)}: p50 {statistics.median(times):.1f} ms, "
            f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms; page {len(page.data) / 1024:.0f} KiB; "
            f"{per_page} SQL statements per page"
        )
        # Wall-clock figures depend on what else the machine runs; CPU time does not.
        print(f"  cpu: {cpu_ms:.1f} ms per page (process time)")

    limits = limits_for(app)
    with db.session() as s:
        sites = load_sites(s)

    def wall(s: Any) -> Any:
        return load_wall(s, utcnow(), limits, None, sites)

    with app.test_request_context("/wall"), db.session() as s:
        before = render_sections(wall(s))
    with db.session() as s:  # one OK check turns critical
        target = s.get(
            CheckStateRow, next(i for i in ids if s.get(CheckStateRow, i).status == "OK")
        )
        target.status = target.last_status = "CRITICAL"
    with app.test_request_context("/wall"), db.session() as s:
        started = time.perf_counter()
        after = render_sections(wall(s))
        rebuild_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        render_sections(load_wall(s, utcnow(), limits, find_site(sites, one), sites))
        site_ms = (time.perf_counter() - started) * 1000
    patch = json.dumps(diff_sections(before, after))
    full = json.dumps(diff_sections(None, after))
    print(f"feed rebuild (read + render, once per change per process): {rebuild_ms:.1f} ms "
          f"head office, {site_ms:.1f} ms one site's wall (once per open site scope)")
    print(
        f"live update for one check turning critical: {len(patch) / 1024:.1f} KiB "
        f"vs full refresh {len(full) / 1024:.1f} KiB ({len(patch) / len(full):.1%})"
    )
    db.dispose()


if __name__ == "__main__":
    main()
