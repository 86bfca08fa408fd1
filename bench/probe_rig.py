"""The real parts the remote-probe benches run: a fresh PostgreSQL database, the centre
(``dutydesk web``: gunicorn, as in production), a fast HTTP target on loopback (asyncio on
uvloop, one process per ``SO_REUSEPORT`` listener) and a probe process (``dutydesk probe``),
each in its own process so its CPU can be read from /proc. Used by ``probe_throughput.py`` and
``probe_replay.py``; not a bench itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's code, not the venv's
TICKS = os.sysconf("SC_CLK_TCK")
PG_ADMIN = os.environ.get("DUTYDESK_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of processes (all their threads) from /proc; gone ones count 0."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def children(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found.extend(children(int(child)))
    return found


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new migrated PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine, text

    from dutydesk import migrate
    from dutydesk.core.db import Database

    name = f"dutydesk_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_probe(url: str, name: str, checks: int, interval: float, target_ports: list[int],
               ) -> tuple[int, str, list[int]]:
    """A probe of the default site running ``checks`` HTTP checks every ``interval`` s against
    the target ports (round robin): (probe id, enrolment token, check ids)."""
    from checks.models import Check
    from dutydesk.core.db import Database
    from dutydesk.sites.models import Probe
    from dutydesk.sites.service import assign_check, create_probe

    db = Database(url)
    now = datetime.now(UTC)
    with db.session() as s:
        issued = create_probe(s, "default", name, now)
        rows = [Check(slug=f"{name}-http-{i}", type="http", interval=interval, timeout=5.0,
                      max_attempts=1,
                      spec={"url": f"http://127.0.0.1:{target_ports[i % len(target_ports)]}"
                                   f"/t/{i}"})
                for i in range(checks)]
        s.add_all(rows)
        s.flush()
        ids = [row.id for row in rows]
    with db.session() as s:
        probe = s.get(Probe, issued.probe_id)
        for cid in ids:
            assign_check(s, cid, probe)
    db.dispose()
    return issued.probe_id, issued.secret, ids


# ---- the HTTP target -------------------------------------------------------------------------


def _serve(port: int) -> None:  # pragma: no cover - child process
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
        server = await asyncio.start_server(handle, "127.0.0.1", port, reuse_port=True,
                                            backlog=4096)
        async with server:
            await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


class Target:
    """``processes`` asyncio processes sharing one loopback port (``SO_REUSEPORT``)."""

    def __init__(self, processes: int = 1) -> None:
        import multiprocessing

        self.port = free_port()
        ctx = multiprocessing.get_context("spawn")
        self.procs = [ctx.Process(target=_serve, args=(self.port,), daemon=True)
                      for _ in range(processes)]

    def __enter__(self) -> Target:
        for proc in self.procs:
            proc.start()
        wait_port(self.port)
        return self

    def __exit__(self, *_exc: Any) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.join(5)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]


# ---- the centre and the probe ----------------------------------------------------------------


class Process:
    """A ``python -m dutydesk ...`` child (this tree's code) logging to ``log``."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.args, self.log = args, log
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "dutydesk", *self.args],
                                         env=self.env, cwd=ROOT, stdout=out,
                                         stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    @property
    def pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc is not None else []


def centre(url: str, workdir: Path, workers: int = 2, threads: int = 8) -> tuple[Process, str]:
    """``dutydesk web`` (gunicorn, gthread) on a free loopback port: (process, base URL)."""
    port = free_port()
    proc = Process(["web", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                    "--threads", str(threads)], workdir / "centre.log",
                   {"DUTYDESK_DATABASE_URL": url, "DUTYDESK_CONFIG": "",
                    "DUTYDESK_INSTANCE_PATH": str(workdir / "instance"),
                    "DUTYDESK_LOG_LEVEL": "WARNING"})
    proc.start()
    wait_port(port, 60)
    return proc, f"http://127.0.0.1:{port}"


def warm(server: str, workers: int) -> None:
    """A few requests, so every gunicorn worker has built the app before the clock starts."""
    import urllib.error

    for _ in range(4 * workers):
        with contextlib.suppress(urllib.error.HTTPError):  # 401: the app answered
            urllib.request.urlopen(f"{server}/api/probe/v1/checks", timeout=60).close()


def probe(server: str, state_dir: Path, token: str, metrics_port: int,
          **env: str) -> Process:
    """``dutydesk probe`` of the default site with its /metrics on ``metrics_port``."""
    return Process(["probe", "--server", server, "--site", "default", "--state-dir",
                    str(state_dir), "--enrol-token", token, "--metrics-port", str(metrics_port)],
                   state_dir.parent / f"{state_dir.name}.log", env)


def metrics(port: int) -> dict[str, float]:
    """The probe's /metrics as {"name{labels}": value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def runs_total(sample: dict[str, float]) -> float:
    return sum(v for k, v in sample.items() if k.startswith("dutydesk_probe_check_runs_total{"))
