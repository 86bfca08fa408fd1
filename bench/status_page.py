"""Benchmark: the public status page under a crowd, against a static-string Flask ceiling.

Run: ``.venv/bin/python bench/status_page.py`` (needs ``wrk``: ``apt-get install -y wrk``).

1. A temp SQLite database is migrated and seeded with 50 services (5 groups) and 20 notices.
2. DutyDesk starts as in production (``DUTYDESK_ENV=production``, a 64-char secret key,
   ``dutydesk web``: gunicorn gthread, 2 workers × 8 threads) on a free 127.0.0.1 port, and a
   minimal Flask app returning a static string starts under the same gunicorn settings.
3. wrk runs 64 connections for 10 s against ``/status`` and against the minimal app.
4. Printed: req/s of both, the ratio (goal ≥ 80 %), p99 latency (goal < 100 ms), and whether
   a conditional request (If-None-Match) gets 304. Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
GUNICORN_ARGS = ["--workers", "2", "--threads", "8", "--worker-class", "gthread",
                 "--timeout", "60", "--graceful-timeout", "20"]  # as `dutydesk web`
CONNECTIONS, SECONDS = 64, 10
MIN_RATIO, MAX_P99_MS = 0.80, 100.0

MINIMAL_APP = textwrap.dedent('''
    from flask import Flask
    app = Flask(__name__)

    @app.route("/")
    def index():
        return "ok"
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(database_url: str) -> None:
    from dutydesk import migrate
    from dutydesk.core.db import Database, utcnow
    from shifts.notices import MaintenanceWindow
    from shifts.notices import service as svc

    db = Database(database_url)
    migrate.upgrade(db)
    now = utcnow()
    with db.session() as s:
        slugs = []
        for g in range(5):
            group = svc.save_group(s, "bench", name=f"Hall {g}", position=g, now=now)
            for i in range(10):
                slug = f"svc-{g}-{i}"
                svc.save_service(s, "bench", slug=slug, name=f"Service {g}.{i}",
                                 group_id=group.id, position=i, now=now - timedelta(days=90))
                slugs.append(slug)
        for n in range(20):
            at = now - timedelta(days=4 * n, hours=n)
            if n % 5 == 4:
                svc.create_notice(
                    s, "bench", kind="maintenance", title=f"Maintenance {n}", body="Planned.",
                    affected={slugs[n]: "under_maintenance"}, now=at,
                    window=MaintenanceWindow(at + timedelta(days=1), at + timedelta(days=1,
                                                                                     hours=2)))
                continue
            row = svc.create_notice(s, "bench", kind="incident", title=f"Outage {n}",
                                    body="We are **on it**.",
                                    affected={slugs[n]: "major_outage", slugs[n + 1]:
                                              "partial_outage"}, now=at)
            svc.post_update(s, "bench", row.id, status="identified", body="Found it.",
                            now=at + timedelta(minutes=20))
            if n >= 2:
                svc.resolve(s, "bench", row.id, body="Fixed.", now=at + timedelta(hours=1))
    db.dispose()


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def wrk(url: str, *headers: str) -> tuple[float, float]:
    """(requests/s, p99 ms) from one wrk run (``headers`` as "Name: value")."""
    extra = [arg for h in headers for arg in ("-H", h)]
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", *extra,
                          url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in out or "Socket errors" in out:
        print(out)
    return rps, p99


def page_sizes(url: str) -> tuple[int, int]:
    """Bytes of the page body, plain and gzip."""
    sizes = []
    for encoding in ("identity", "gzip"):
        req = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
        with urllib.request.urlopen(req) as r:
            sizes.append(len(r.read()))
    return sizes[0], sizes[1]


def conditional_304(url: str, tries: int = 20) -> bool:
    """Every one of ``tries`` conditional requests gets 304 — new connections each time, so
    both gunicorn workers answer some of them with the ETag the other one handed out."""
    with urllib.request.urlopen(url) as first:
        etag = first.headers["ETag"]
    for _ in range(tries):
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers={"If-None-Match": etag}))
            return False
        except urllib.error.HTTPError as exc:
            if exc.code != 304:
                return False
    return True


def main() -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    database_url = f"sqlite:///{tmp / 'bench.sqlite'}"
    seed(database_url)
    (tmp / "minimal_app.py").write_text(MINIMAL_APP)
    env = {**os.environ, "DUTYDESK_ENV": "production", "DUTYDESK_SECRET_KEY":
           secrets.token_hex(32), "DUTYDESK_DATABASE_URL": database_url,
           "DUTYDESK_INSTANCE_PATH": str(tmp / "instance"), "PYTHONPATH": str(ROOT)}
    app_port, ceiling_port = free_port(), free_port()
    server_log = (tmp / "server.log").open("w")
    procs = [
        subprocess.Popen([PYTHON, "-m", "dutydesk", "web", "--bind",
                          f"127.0.0.1:{app_port}", "--workers", "2", "--threads", "8"],
                         env=env, cwd=tmp, stdout=server_log, stderr=subprocess.STDOUT),
        subprocess.Popen([PYTHON, "-m", "gunicorn", *GUNICORN_ARGS, "--bind",
                          f"127.0.0.1:{ceiling_port}", "minimal_app:app"],
                         env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    status_url = f"http://127.0.0.1:{app_port}/status"
    ceiling_url = f"http://127.0.0.1:{ceiling_port}/"
    try:
        wait_up(status_url, procs[0])
        wait_up(ceiling_url, procs[1])
        wrk(status_url)  # warm both workers' snapshots
        ceiling_rps, ceiling_p99 = wrk(ceiling_url)
        status_rps, status_p99 = wrk(status_url)
        gzip_rps, gzip_p99 = wrk(status_url, "Accept-Encoding: gzip")
        summary_rps, summary_p99 = wrk(f"http://127.0.0.1:{app_port}/api/v2/summary.json")
        got_304 = conditional_304(status_url)
        plain_bytes, gzip_bytes = page_sizes(status_url)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        server_log.close()
        errors = [ln for ln in (tmp / "server.log").read_text().splitlines()
                  if "status=200" not in ln and "status=304" not in ln]
        if any("Traceback" in ln or "status=5" in ln for ln in errors):
            print("server errors:", *errors[-40:], sep="\n")
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = status_rps / ceiling_rps
    print(f"minimal Flask (static string): {ceiling_rps:10.0f} req/s   p99 {ceiling_p99:7.1f} ms")
    print(f"/status                      : {status_rps:10.0f} req/s   p99 {status_p99:7.1f} ms")
    print(f"/status (Accept-Encoding gzip): {gzip_rps:9.0f} req/s   p99 {gzip_p99:7.1f} ms")
    print(f"/api/v2/summary.json         : {summary_rps:10.0f} req/s   p99 {summary_p99:7.1f} ms")
    print(f"ratio /status / ceiling      : {ratio:10.1%}   (goal >= {MIN_RATIO:.0%})")
    print(f"ratio /status gzip / ceiling : {gzip_rps / ceiling_rps:10.1%}")
    print(f"p99 /status                  : {status_p99:10.1f} ms (goal < {MAX_P99_MS:.0f} ms)")
    print(f"/status body                 : {plain_bytes:10d} B plain, {gzip_bytes} B gzip")
    print(f"If-None-Match -> 304         : {'yes' if got_304 else 'NO'}")
    ok = ratio >= MIN_RATIO and status_p99 < MAX_P99_MS and got_304
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
