"""Benchmark: the checks list with 5,000 checks on SQLite (target: p95 under 300 ms).

Run: ``.venv/bin/python bench/checks_list.py [--requests 60]``. Prints p50/p95 and page size of
the first page unfiltered, a text search, a state filter and a deep page (Flask test client,
signed in as viewer), and the CPU time per page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from wall_page import seed  # the wall bench's 5,000-check site

from dutydesk import accounts, migrate
from dutydesk.app import create_app
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.models import Role

URLS = {
    "first page": "/checks",
    "text search": "/checks?q=check-42",
    "state CRITICAL": "/checks?state=CRITICAL",
    "group + type": "/checks?group=Hall+C&type=tcp",
    "page 40": "/checks?page=40",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--checks", type=int, default=5000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url)
    migrate.upgrade(db)
    seed(db, args.checks, 0)
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
            s, "bench", email="viewer@bench.example", password="correct horse battery",
            role=Role.VIEWER,
        )
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["uid"], sess["sv"] = user.id, user.session_version
    print(f"{args.checks} checks, {args.requests} requests per URL")
    for name, path in URLS.items():
        first = client.get(path)
        assert first.status_code == 200, (path, first.status_code)
        times = []
        cpu = time.process_time()
        for _ in range(args.requests):
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            times.append((time.perf_counter() - started) * 1000)
        cpu_ms = (time.process_time() - cpu) * 1000 / len(times)
        times.sort()
        p95 = times[max(int(len(times) * 0.95) - 1, 0)]
        print(
            f"GET {path:<32} {name:<15} p50 {statistics.median(times):6.1f} ms  "
            f"p95 {p95:6.1f} ms  cpu {cpu_ms:5.1f} ms  page {len(first.data) / 1024:5.0f} KiB"
        )
    db.dispose()


if __name__ == "__main__":
    main()
