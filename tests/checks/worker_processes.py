"""Helpers for tests that run real ``dutydesk worker`` processes: start one in its own process
group (as if on its own machine), find its children, and an HTTP target that remembers every
request per path (to count probe-level doubles)."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dutydesk.core.db import Database
from dutydesk.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]


def start_worker(url: str, tmp: Path, *, processes: str = "", name: str = "w") -> Any:
    """``python -m dutydesk worker`` on ``url`` in its own session (process group)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUTYDESK_")}
    env.update(DUTYDESK_DATABASE_URL=url, DUTYDESK_ENV="testing",
               DUTYDESK_SECRET_KEY="test-secret-key-" + "x" * 32,
               DUTYDESK_INSTANCE_PATH=str(tmp / f"instance-{name}"),
               DUTYDESK_CHECK_PROCESSES=processes, PYTHONPATH=str(ROOT))
    log = open(tmp / f"worker-{name}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "dutydesk", "worker"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def wait_until_running(db: Database, proc: Any, timeout: float = 60) -> None:
    """Until the worker wrote its heartbeat (its jobs and engine are started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}: {log_of(proc)}")
        with db.session() as s:
            if s.scalar(select(WorkerHeartbeat.pid).where(WorkerHeartbeat.pid == proc.pid)):
                return
        time.sleep(0.2)
    raise AssertionError(f"worker did not start in {timeout} s: {log_of(proc)}")


def log_of(proc: Any) -> str:
    proc.log_file.flush()
    return Path(proc.log_file.name).read_text(errors="replace")[-3000:]


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(proc: Any) -> None:
    """End a worker and its group whatever state it is in (test clean-up)."""
    if proc.poll() is None:
        with_group(proc, signal.SIGCONT)
        with_group(proc, signal.SIGKILL)
        proc.wait(10)
    proc.log_file.close()


def with_group(proc: Any, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


class CountingTarget:
    """An HTTP server on 127.0.0.1 answering 200 after ``delay`` s, remembering when each path
    was requested (``hits[path]`` = wall-clock seconds)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.hits: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with target._lock:
                    target.hits[self.path].append(time.time())
                if target.delay:
                    time.sleep(target.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"up")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def doubles(times: list[float], interval: float) -> int:
    """How many of ``times`` (a check's run starts or probes, epoch seconds) follow the
    previous one by less than half its interval (the engine never schedules two runs of a
    check closer than that; only a run done twice would be)."""
    ordered = sorted(times)
    return sum(1 for a, b in itertools.pairwise(ordered) if b - a < interval / 2)
