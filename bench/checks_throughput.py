"""Check engine throughput on loopback, compared with Prometheus + blackbox_exporter.

    .venv/bin/python bench/checks_throughput.py [--duration 60] [--warmup 10]
        [--http-checks 5000] [--tcp-checks 10000] [--interval 5] [--processes N]
        [--skip-prometheus] [--only http|tcp|prometheus]

Phases, one after the other (never overlapping, so each owns the two cores):

1. HTTP: a fresh SQLite database with ``--http-checks`` HTTP checks every ``--interval`` s
   against nginx on 127.0.0.1 (one worker, ``return 200``); the REAL engine (claims, timers,
   semaphore, HTTP probe, state machine, batched writes, Prometheus metrics) runs in
   ``--processes`` engine processes (``checks.workers.EngineProcesses``, default one per core),
   whose CPU is all counted. Each check's results table is prefilled with N=100 rows so trimming
   works as in steady state. Figures are taken over ``--duration`` s after ``--warmup`` s.
2. TCP: the same with ``--tcp-checks`` TCP connect checks against 8 nginx listener ports.
3. Prometheus + blackbox_exporter (Debian packages) scrape the same HTTP targets at the same
   interval; their CPU (both processes, /proc/<pid>/stat) is compared with ours per probe. When
   most of their scrapes fail (time out on a loaded machine), the phase is measured again with
   half the targets, so their CPU per probe is taken where their probes succeed.

Needs: ``apt-get install -y nginx-light prometheus prometheus-blackbox-exporter`` (without nginx a
small asyncio server in a child process is the target; without Prometheus phase 3 is skipped and
said so). Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TICKS = os.sysconf("SC_CLK_TCK")
TCP_PORTS = 8
KEEP = 100


# ---- small helpers -----------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
    ports = [s.getsockname()[1] for s in socks]
    for sock in socks:
        sock.close()
    return ports


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int | str = "self") -> tuple[float, float]:
    """Current and peak resident memory in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


# ---- targets -----------------------------------------------------------------------------


def _asyncio_target(ports: list[int]) -> None:  # pragma: no cover - child process
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, "127.0.0.1", p, backlog=4096)
                   for p in ports]
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


class Targets:
    """nginx (or an asyncio fallback) on one HTTP port and ``TCP_PORTS`` more ports."""

    def __init__(self, workdir: Path) -> None:
        self.http_port, *self.tcp_ports = free_ports(1 + TCP_PORTS)
        self.kind = "nginx" if shutil.which("nginx") else "asyncio server (nginx not installed)"
        ports = [self.http_port, *self.tcp_ports]
        if shutil.which("nginx"):
            listens = "\n".join(f"    listen 127.0.0.1:{p} backlog=4096;" for p in ports)
            conf = workdir / "nginx.conf"
            conf.write_text(f"""
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 16000; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/nb; proxy_temp_path {workdir}/np;
  fastcgi_temp_path {workdir}/nf; uwsgi_temp_path {workdir}/nu; scgi_temp_path {workdir}/ns;
  keepalive_timeout 0;
  server {{
{listens}
    location / {{ return 200 "ok\\n"; }}
  }}
}}
""")
            self.proc: Any = subprocess.Popen(["nginx", "-p", str(workdir), "-c", str(conf),
                                               "-e", str(workdir / "nginx-error.log")])
        else:
            self.proc = multiprocessing.Process(target=_asyncio_target, args=(ports,),
                                                daemon=True)
            self.proc.start()
        for port in ports:
            wait_port(port)

    def cpu_seconds(self) -> float:
        """CPU of the target processes (nginx master + workers), for context only."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):  # a worker that just exited
                total += proc_cpu_seconds(pid)
        return total

    def http_url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.http_port}/t/{n}"

    def stop(self) -> None:
        if isinstance(self.proc, subprocess.Popen):
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        else:
            self.proc.terminate()
            self.proc.join(5)


# ---- our engine --------------------------------------------------------------------------


def seed(url: str, specs: list[tuple[str, dict[str, Any]]], interval: float) -> None:
    """Migrate a fresh database, add the checks and prefill KEEP results per check."""
    from sqlalchemy import insert, select

    from checks.models import Check, CheckResultRow
    from dutydesk import migrate
    from dutydesk.core.db import Database, utcnow

    db = Database(url)
    migrate.upgrade(db)
    now = utcnow()
    with db.session() as s:
        s.execute(insert(Check), [
            {"slug": f"bench-{n}", "display_name": f"bench {n}", "type": kind, "spec": spec,
             "interval": interval, "retry_interval": interval, "max_attempts": 3,
             "timeout": 4.0, "flap_detection": True}
            for n, (kind, spec) in enumerate(specs)])
    with db.session() as s:
        ids = s.scalars(select(Check.id)).all()
    rows = []
    for cid in ids:
        for k in range(KEEP):
            at = now - timedelta(seconds=interval * (KEEP - k))
            rows.append({"check_id": cid, "started_at": at,
                         "status": "OK", "message": "HTTP 200 in 1 ms", "duration": 0.001,
                         "metrics": {"status_code": 200}})
        if len(rows) >= 100_000:
            with db.session() as s:
                s.execute(insert(CheckResultRow), rows)
            rows = []
    if rows:
        with db.session() as s:
            s.execute(insert(CheckResultRow), rows)
    db.dispose()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def db_bytes(path: Path) -> int:
    """Bytes in use by the database as a reader sees it (WAL frames included, free pages not:
    SQLite reuses pages freed by trimming and pruning)."""
    with sqlite3.connect(path) as conn:
        pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
    return (pages - free) * size


def table_bytes(path: Path) -> dict[str, tuple[int, int]]:
    """Bytes (table + its indexes, from dbstat) and row count per table."""
    with sqlite3.connect(path) as conn:
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master "
                                  "WHERE type IN ('table','index')").fetchall())
        sizes: dict[str, int] = {}
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + size
        return {t: (sizes.get(t, 0), conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0])
                for t in ("check_results", "check_rollups", "check_states", "checks", "flips")}


def run_engine_phase(name: str, specs: list[tuple[str, dict[str, Any]]], interval: float,
                     warmup: float, duration: float, targets: Targets, workdir: Path,
                     processes: int) -> dict[str, float]:
    from checks.workers import EngineProcesses

    path = workdir / f"{name}.sqlite"
    url = f"sqlite:///{path}"
    t0 = time.monotonic()
    seed(url, specs, interval)
    print(f"\n== {name.upper()}: {len(specs)} checks every {interval:g} s "
          f"(target {len(specs) / interval:,.0f} checks/s = {60 * len(specs) / interval:,.0f}/min)"
          f"; seeded with {KEEP} results per check in {time.monotonic() - t0:.1f} s")
    engines = EngineProcesses(url, processes)
    engines.start()
    time.sleep(warmup)
    pids = engines.pids()

    def cpu() -> float:  # every engine process, and this one (it collects their reports)
        return sum(proc_cpu_seconds(pid) for pid in pids) + time.process_time()

    runs0, cpu0, wall0 = engines.stats()["runs"], cpu(), time.monotonic()
    engines.recent_lags.clear()
    size0, tcpu0 = db_bytes(path), targets.cpu_seconds()
    time.sleep(duration)
    runs1, cpu1, wall1 = engines.stats()["runs"], cpu(), time.monotonic()
    size1, tcpu1 = db_bytes(path), targets.cpu_seconds()
    restarted = sorted(set(pids) - set(engines.pids()))
    lags = list(engines.recent_lags)
    rss = sum(rss_mib(pid)[0] for pid in pids)
    engines.stop()
    stats = engines.stats()

    wall = wall1 - wall0
    runs = runs1 - runs0
    rate, cpu_used = runs / wall, cpu1 - cpu0
    target = len(specs) / interval
    p50, p95, p99 = (percentile(lags, q) for q in (50, 95, 99))
    print(f"checks/s achieved      {rate:,.0f}  ({runs:,} runs in {wall:.1f} s; "
          f"target {target:,.0f}: {'MET' if rate >= 0.98 * target else 'MISSED'})")
    print(f"CPU                    {100 * cpu_used / wall:.0f} % of one core "
          f"({cpu_used:.1f} s CPU / {wall:.1f} s wall in {processes} engine process(es) + "
          f"this one; the machine has {os.cpu_count()} cores); "
          f"{1e6 * cpu_used / max(runs, 1):.0f} µs CPU per check")
    print(f"RSS                    {rss:.0f} MiB in {len(pids)} engine process(es)"
          + (f"; RESTARTED during the window: {restarted}" if restarted else ""))
    print(f"start lag              p50 {1000 * p50:.1f} ms, p95 {1000 * p95:.1f} ms, "
          f"p99 {1000 * p99:.1f} ms, max {1000 * max(lags, default=0):.0f} ms over {len(lags):,} "
          f"starts (p99 < 1 s: {'MET' if p99 < 1 else 'MISSED'})")
    print(f"results by status      {json.dumps(dict(sorted(stats['by_status'].items())))}"
          f"; timeouts {stats['timeouts']}, write conflicts {stats['conflicts']}, "
          f"failed batches {stats['write_errors']}")
    print(f"target ({targets.kind}) CPU {100 * (tcpu1 - tcpu0) / wall:.0f} % of one core "
          f"(not counted as ours); load average {loadavg()}")
    storage_report(path, len(specs), interval, size1 - size0, wall)
    return {"rate": rate, "cpu_per_probe": cpu_used / max(runs, 1), "p99": p99}


def storage_report(path: Path, checks: int, interval: float, grown: int, wall: float) -> None:
    sizes = table_bytes(path)
    per_row = {t: (b / n if n else 0.0) for t, (b, n) in sizes.items()}
    result_b, rollup_b = per_row["check_results"], per_row["check_rollups"]
    state_b = per_row["check_states"] + per_row["checks"]
    # Bounded by design: N results, minute rows for 24 h, hour rows for 90 d, day rows for 2 y.
    ceiling = KEEP * result_b + (1440 + 2160 + 730) * rollup_b + state_b
    first_day = 1440 * rollup_b + 24 * rollup_b + rollup_b  # results are already at N
    later_day = 24 * rollup_b + rollup_b  # minute rows replace themselves after 24 h
    print(f"database               {sizes['check_results'][1]:,} results "
          f"({result_b:.0f} B/row incl. index, kept N={KEEP}), "
          f"{sizes['check_rollups'][1]:,} rollup rows ({rollup_b:.0f} B/row)")
    print(f"database growth        measured {grown / wall * 3600 / 2**20:,.1f} MiB/h during the "
          f"run (results at N already: minute rollups filling); model: "
          f"{checks * first_day / 24 / 2**20:,.1f} MiB/h for the first 24 h, then "
          f"{checks * later_day / 24 / 2**20:,.2f} MiB/h until hour rows reach 90 days")
    print(f"bytes per check per day {first_day:,.0f} B on day 1, {later_day:,.0f} B/day after; "
          f"ceiling {ceiling / 2**20:.2f} MiB per check, "
          f"{checks * ceiling / 2**30:.1f} GiB for {checks:,} checks (at {interval:g} s)")


# ---- Prometheus + blackbox_exporter ------------------------------------------------------


def run_prometheus_phase(targets: Targets, n: int, interval: float, warmup: float,
                         duration: float, workdir: Path) -> dict[str, float] | None:
    prom, bbx = shutil.which("prometheus"), shutil.which("prometheus-blackbox-exporter")
    print(f"\n== PROMETHEUS + BLACKBOX_EXPORTER: {n} HTTP targets every {interval:g} s")
    if not prom or not bbx:
        print("SKIPPED: apt-get install -y prometheus prometheus-blackbox-exporter")
        return None
    prom_port, bb_port = free_ports(2)
    (workdir / "blackbox.yml").write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 4s\n"
        "    http:\n      preferred_ip_protocol: ip4\n")
    config = {
        "global": {"scrape_interval": f"{interval:g}s", "scrape_timeout": "4s",
                   "evaluation_interval": "1m"},
        "scrape_configs": [{
            "job_name": "blackbox", "metrics_path": "/probe",
            "params": {"module": ["http_2xx"]},
            "static_configs": [{"targets": [targets.http_url(i) for i in range(n)]}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": f"127.0.0.1:{bb_port}"},
            ],
        }],
    }
    (workdir / "prometheus.yml").write_text(json.dumps(config))  # JSON is valid YAML
    log = open(workdir / "prom.log", "w")  # noqa: SIM115 - closed below
    procs = [
        subprocess.Popen([bbx, f"--config.file={workdir}/blackbox.yml",
                          f"--web.listen-address=127.0.0.1:{bb_port}"], stdout=log, stderr=log),
        subprocess.Popen([prom, f"--config.file={workdir}/prometheus.yml",
                          f"--storage.tsdb.path={workdir}/tsdb",
                          f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=log),
    ]
    try:
        wait_port(bb_port)
        wait_port(prom_port)
        time.sleep(warmup)
        cpu0, wall0 = sum(proc_cpu_seconds(p.pid) for p in procs), time.monotonic()
        tcpu0 = targets.cpu_seconds()
        # Look at the targets every few seconds: a scrape error shows only until the next
        # scrape of that target succeeds, so one look at the end would miss most of them.
        errors: dict[str, int] = {}
        while time.monotonic() < wall0 + duration:
            time.sleep(min(5.0, max(0.0, wall0 + duration - time.monotonic())))
            for reason in target_errors(prom_port):
                errors[reason] = errors.get(reason, 0) + 1
        cpu1, wall1 = sum(proc_cpu_seconds(p.pid) for p in procs), time.monotonic()
        tcpu1 = targets.cpu_seconds()
        bb_cpu = proc_cpu_seconds(procs[0].pid)
        wall = wall1 - wall0
        window = f"{int(duration)}s"

        def query(expr: str) -> float:
            q = urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/query?{q}",
                                        timeout=30) as r:
                data = json.load(r)["data"]["result"]
            return float(data[0]["value"][1]) if data else 0.0

        scrapes = query(f'sum(count_over_time(up{{job="blackbox"}}[{window}]))')
        succeeded = query(f'sum(sum_over_time(probe_success{{job="blackbox"}}[{window}]))')
        late = query(f'sum(count_over_time(up{{job="blackbox"}}[{window}]) == bool 0)')
        up_ok = query(f'sum(sum_over_time(up{{job="blackbox"}}[{window}]))')
        slow = query(f'sum(count_over_time((probe_duration_seconds{{job="blackbox"}} > 1)'
                     f'[{window}:]))')
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
    cpu = cpu1 - cpu0
    rate = scrapes / duration
    print(f"probes/s achieved      {rate:,.0f} ({scrapes:,.0f} scrapes in the last {window}, "
          f"{succeeded:,.0f} successful; target {n / interval:,.0f}: "
          f"{'MET' if rate >= 0.98 * n / interval else 'MISSED'}; targets never scraped: "
          f"{late:,.0f}; scrapes that answered: {up_ok:,.0f}; probes slower than 1 s: "
          f"{slow:,.0f})")
    if errors:
        shown = "; ".join(f"{reason} ({count}x)" for reason, count in
                          sorted(errors.items(), key=lambda item: -item[1])[:3])
        print(f"scrape errors seen     {shown}")
    print(f"CPU                    {100 * cpu / wall:.0f} % of one core for both processes "
          f"(blackbox_exporter since start {bb_cpu:.0f} s); "
          f"{1e6 * cpu / max(scrapes, 1):.0f} µs CPU per probe, "
          f"{1e6 * cpu / max(succeeded, 1):.0f} µs per successful probe")
    print(f"target ({targets.kind}) CPU {100 * (tcpu1 - tcpu0) / wall:.0f} % of one core; "
          f"load average {loadavg()}")
    # A failed scrape (timed out under load) is not a probe done: when many failed, compare
    # per successful probe, and say so.
    fair = succeeded >= 0.98 * scrapes
    per_probe = cpu / max(scrapes if fair else succeeded, 1)
    return {"rate": rate, "cpu_per_probe": per_probe, "fair": fair,
            "success": succeeded / max(scrapes, 1)}


def target_errors(prom_port: int) -> list[str]:
    """The last scrape error of every target that has one now (reason text, cut short)."""
    try:
        with urllib.request.urlopen(
                f"http://127.0.0.1:{prom_port}/api/v1/targets?state=active", timeout=30) as r:
            targets = json.load(r)["data"]["activeTargets"]
    except OSError as exc:
        return [f"cannot read targets: {exc}"]
    return [t["lastError"].split(": ")[-1][:120] for t in targets if t.get("lastError")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--http-checks", type=int, default=5000)
    parser.add_argument("--tcp-checks", type=int, default=10000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--skip-prometheus", action="store_true")
    parser.add_argument("--only", choices=("http", "tcp", "prometheus"), default=None)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="engine processes (default: one per core)")
    args = parser.parse_args()

    import logging
    logging.disable(logging.INFO)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"checks_throughput — {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}, fd limit {hard}, load average {loadavg()}")
    workdir = Path(tempfile.mkdtemp(prefix="dd-bench-"))
    targets = Targets(workdir)
    ours = None
    try:
        if args.only in (None, "http"):
            specs = [("http", {"url": targets.http_url(i)}) for i in range(args.http_checks)]
            ours = run_engine_phase("http", specs, args.interval, args.warmup, args.duration,
                                    targets, workdir, args.processes)
        if args.only in (None, "tcp"):
            specs = [("tcp", {"host": "127.0.0.1",
                              "port": targets.tcp_ports[i % len(targets.tcp_ports)]})
                     for i in range(args.tcp_checks)]
            run_engine_phase("tcp", specs, args.interval, args.warmup, args.duration,
                             targets, workdir, args.processes)
        if args.only in (None, "prometheus") and not args.skip_prometheus:
            # Their CPU per probe is only meaningful where their scrapes succeed: when most
            # time out (the machine too loaded for them at this rate), measure again with half
            # the targets, down to an eighth, and compare with the highest rate they sustained.
            n, theirs = args.http_checks, None
            for _attempt in range(4):
                theirs = run_prometheus_phase(targets, n, args.interval, args.warmup,
                                              args.duration, workdir)
                if theirs is None or theirs["fair"]:
                    break
                n //= 2
                print(f"only {100 * theirs['success']:.0f} % of their scrapes succeeded: "
                      f"measuring again with {n} targets")
            if theirs and ours:
                ratio = ours["cpu_per_probe"] / theirs["cpu_per_probe"]
                basis = (f"per probe at {theirs['rate']:,.0f} probes/s" if theirs["fair"] else
                         f"per SUCCESSFUL probe: only {100 * theirs['success']:.0f} % of their "
                         "scrapes succeeded even at the lowest rate tried")
                print(f"\n== CPU per HTTP probe: ours {1e6 * ours['cpu_per_probe']:.0f} µs, "
                      f"Prometheus+blackbox {1e6 * theirs['cpu_per_probe']:.0f} µs ({basis}), "
                      f"ratio ours/theirs {ratio:.2f} ({'LOWER' if ratio < 1 else 'NOT LOWER'})")
    finally:
        targets.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
