"""How many checks per second one PostgreSQL carries with 1, 2 and 3 workers, and what each
check run costs the database.

    .venv/bin/python bench/pg_workers.py [--checks 2000] [--interval 5] [--workers 1,2,3]
        [--duration 30] [--warmup 8] [--timeout 4] [--kill-one-after SECONDS]
        [--admin-url postgresql+psycopg://postgres@127.0.0.1/postgres]

For each worker count: a fresh PostgreSQL database (migrated), ``--checks`` TCP connect checks
every ``--interval`` s against a listener on 127.0.0.1, and that many worker processes, each
running the REAL engine in-process (``checks.engine.Engine``: claims, timers, probe, state
machine, batched fenced writes), as separate machines would. Over ``--duration`` s after
``--warmup`` s it prints runs/s, doubles (two stored results of one check less than half
its interval apart: the engine never schedules runs closer than that) and the database
work per run from
``pg_stat_user_tables`` / ``pg_stat_database``: commits, ``check_states`` updates and how many of
them were HOT (heap-only: no index writes), rows written. Not part of pytest; bounded to about
``len(workers) * (duration + warmup + 10)`` seconds.

``--kill-one-after S``: ``S`` seconds into the measured window one worker is killed with
SIGKILL (no hand-back, as a machine dies) and the others must take its checks over. Then it
also prints the lateness of the takeover: for every check, how much later than one interval
after its last run before the kill its next run came (max and 99th percentile over the
checks; the lease ends at the check's next slot, so at most about one interval), and how
many checks were never run again. A check whose ``--timeout`` + 4 s exceeds its interval is
taken over that much later (its lease must cover a whole run, its write and the others' 2 s
claim-ahead): ``--timeout 4 --interval 5`` shows that case.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import sys
import threading
import time
import uuid
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def listener() -> tuple[socket.socket, int]:
    """A loopback TCP listener that accepts and closes (a TCP check's healthy target)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return sock, sock.getsockname()[1]


def run_worker(url: str, seconds: float, ready: Any) -> None:  # pragma: no cover - child
    import logging

    from checks.engine import Engine
    from dutydesk.core.db import Database

    logging.basicConfig(level=logging.WARNING)
    db = Database(url, pool_size=4)
    engine = Engine(db)
    engine.start()
    ready.set()
    time.sleep(seconds)
    engine.stop()
    dropped = engine.metrics.registry.get_sample_value("dutydesk_check_runs_dropped_total")
    stats = engine.stats()
    print(f"  worker {os.getpid()}: runs {stats['runs']}, conflicts {stats['conflicts']}, "
          f"write errors {stats['write_errors']}, dropped (lease nearly over) {dropped:.0f}",
          flush=True)
    db.dispose()


def counters(conn: Any) -> dict[str, float]:
    from sqlalchemy import text

    row = conn.execute(text(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname='check_states'"
    )).one()
    ins = conn.execute(text(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
    )).scalar()
    commits = conn.execute(text(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")).scalar()
    results = conn.execute(text("SELECT count(*) FROM check_results")).scalar()
    return {"upd": row[0], "hot": row[1], "rows": float(ins), "commits": float(commits),
            "results": float(results)}


def takeover_lateness(rows: list[Any], killed_at: Any, interval: float,
                      ) -> tuple[list[float], int]:
    """Per check, seconds by which its first run after ``killed_at`` came later than one
    interval after the run before it (0 when on time); and how many checks had no run after
    the kill. ``rows``: (check id, started_at) ordered by check and time."""
    by_check: dict[int, list[Any]] = {}
    for check_id, started in rows:
        by_check.setdefault(check_id, []).append(started)
    late, never = [], 0
    for times in by_check.values():
        before = [t for t in times if t <= killed_at]
        after = [t for t in times if t > killed_at]
        if not after:
            never += 1
            continue
        if before:
            late.append(max(0.0, (after[0] - before[-1]).total_seconds() - interval))
    return sorted(late), never


def phase(admin_url: str, workers: int, checks: int, interval: float, duration: float,
          warmup: float, port: int, kill_after: float | None = None,
          timeout: float = 4.0) -> dict[str, Any]:
    from sqlalchemy import create_engine, insert, select, text

    from checks.models import Check, CheckResultRow
    from dutydesk import migrate
    from dutydesk.core.db import Database

    name = f"dutydesk_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        db = Database(url, pool_size=2)
        migrate.upgrade(db)
        with db.session() as s:
            s.execute(insert(Check), [
                {"slug": f"bench-{n}", "display_name": f"bench {n}", "type": "tcp",
                 "spec": {"host": "127.0.0.1", "port": port}, "interval": interval,
                 "retry_interval": interval, "max_attempts": 3, "timeout": timeout}
                for n in range(checks)])
        ctx = multiprocessing.get_context("spawn")
        total = warmup + duration
        readies = [ctx.Event() for _ in range(workers)]
        procs = [ctx.Process(target=run_worker, args=(url, total, r)) for r in readies]
        for proc in procs:
            proc.start()
        for ready in readies:
            ready.wait(60)
        time.sleep(warmup)
        stats = Database(url, pool_size=1)
        with stats.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            before = counters(conn)
        started = time.monotonic()
        cpu0 = os.times()
        killed_at = None
        if kill_after is not None:
            time.sleep(kill_after)
            os.kill(procs[0].pid, 9)  # SIGKILL: its claims stay leased, nothing handed back
            with db.session() as s:
                killed_at = s.execute(text("SELECT clock_timestamp()")).scalar_one()
            time.sleep(max(0.0, duration - kill_after))
        else:
            time.sleep(duration)
        wall = time.monotonic() - started
        with stats.engine.connect() as conn:
            time.sleep(0.6)  # the statistics collector reports about every 500 ms
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            after = counters(conn)
        cpu1 = os.times()
        for proc in procs:
            proc.join(60)
        with db.session() as s:
            rows = s.execute(select(CheckResultRow.check_id, CheckResultRow.started_at)
                             .order_by(CheckResultRow.check_id, CheckResultRow.started_at)).all()
        doubles = sum(1 for a, b in pairwise(rows)
                      if a[0] == b[0] and b[1] - a[1] < timedelta(seconds=interval / 2))
        late, never = ([], 0) if killed_at is None else takeover_lateness(
            rows, killed_at, interval)
        runs = after["results"] - before["results"]
        upd = after["upd"] - before["upd"]
        stats.dispose()
        db.dispose()
        return {
            "workers": workers, "runs_per_s": runs / wall,
            "target_per_s": checks / interval, "doubles": doubles,
            "commits_per_run": (after["commits"] - before["commits"]) / max(runs, 1),
            "state_updates_per_run": upd / max(runs, 1),
            "hot_share": (after["hot"] - before["hot"]) / max(upd, 1),
            "rows_written_per_run": (after["rows"] - before["rows"]) / max(runs, 1),
            "load": os.getloadavg()[0], "children_cpu_s": cpu1.children_user - cpu0.children_user,
            "late_max": late[-1] if late else None,
            "late_p99": late[min(len(late) - 1, int(len(late) * 0.99))] if late else None,
            "late_checks": sum(1 for x in late if x > 1.0), "never": never,
        }
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=4.0,
                        help="each check's timeout (the lease covers it: see --kill-one-after)")
    parser.add_argument("--kill-one-after", type=float, default=None, metavar="SECONDS",
                        help="SIGKILL one worker this long into the window, measure takeover")
    parser.add_argument("--admin-url", default=os.environ.get(
        "DUTYDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    sock, port = listener()
    print(f"{args.checks} TCP checks every {args.interval:g} s on one PostgreSQL, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start")
    print("workers  runs/s (target)  doubles  commits/run  state upd/run  HOT share  "
          "rows written/run  load")
    for workers in (int(w) for w in args.workers.split(",")):
        r = phase(args.admin_url, workers, args.checks, args.interval, args.duration,
                  args.warmup, port, args.kill_one_after, args.timeout)
        print(f"{r['workers']:>7}  {r['runs_per_s']:7.1f} ({r['target_per_s']:.0f})  "
              f"{r['doubles']:>7}  {r['commits_per_run']:11.3f}  "
              f"{r['state_updates_per_run']:13.2f}  {r['hot_share']:9.1%}  "
              f"{r['rows_written_per_run']:16.2f}  {r['load']:.1f}", flush=True)
        if r["late_max"] is not None:
            print(f"         one worker killed {args.kill_one_after:g} s in: takeover lateness "
                  f"max {r['late_max']:.1f} s, p99 {r['late_p99']:.1f} s (interval "
                  f"{args.interval:g} s); {r['late_checks']} checks more than 1 s late, "
                  f"{r['never']} never run again", flush=True)
    sock.close()


if __name__ == "__main__":
    main()
