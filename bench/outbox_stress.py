"""Pages under stress: the outbox sender against slow, dead and fast receivers. Prints figures.

    .venv/bin/python bench/outbox_stress.py [--only storm,twin,kill,throughput] [--pages 2000]
        [--databases sqlite,postgresql | --sqlite] [--repeat 1]

Everything is real and local: a fresh SQLite file and a fresh PostgreSQL database
(``DUTYDESK_TEST_POSTGRES_URL`` or postgres@127.0.0.1:5432), each scenario on each,
aiosmtpd for mail, ``http.server`` receivers on 127.0.0.1 (allowed by ``outbound_allow``, as
an operator would allow an internal network), and the worker's own sender
(``dutydesk.core.notify.dispatcher.Dispatcher``).

1. **storm** — 15 incidents, each paging a webhook that never answers (10 s timeout) and an
   e-mail; how long after its enqueue each e-mail reaches aiosmtpd (issue 22: within 2 s).
2. **twin** — two worker *processes*, each with its own sender and connections, a receiver
   taking 4 s per request, 40 pages: deliveries counted at the receiver by idempotency key
   (issue 22: exactly once each).
3. **kill** — a worker process is killed with SIGKILL mid-burst (receiver 2 s per request,
   transport timeouts 5 s); a second worker process delivers what the first held: seconds from
   the kill until the last of those arrives (issue 22: within timeout + 10 s).
4. **throughput** — ``--pages`` webhook pages to a receiver answering 200 at once (in its own
   process, HTTP/1.1 keep-alive), one sender on its own connection pool: pages per second
   (issue 22: 200/s), the sender's CPU per page, its transactions, and the TCP connections the
   receiver accepted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere in the repo

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402

from dutydesk import migrate  # noqa: E402
from dutydesk.core.config import Settings, load_settings  # noqa: E402
from dutydesk.core.db import Database  # noqa: E402
from dutydesk.core.notify.dispatcher import Dispatcher  # noqa: E402
from dutydesk.core.notify.outbox import enqueue  # noqa: E402
from dutydesk.models import DeliveryAttempt, OutboxMessage  # noqa: E402
from tests.dutydesk.notify.receivers import SmtpServer  # noqa: E402

PG_ADMIN = os.environ.get("DUTYDESK_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# A worker process for "twin" and "kill": runs one sender until it is told to stop (stdin closes)
# or killed. Settings come as JSON on argv.
CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.core.notify.dispatcher import Dispatcher
settings = load_settings(json.loads(sys.argv[1]), environ={{}})
db = Database(settings.database_url, pool_size=4)
sender = Dispatcher(db, settings)
sender.start()
print(sender.name, flush=True)
sys.stdin.read()  # until the bench closes our stdin
sender.stop(grace=5)
"""


# The fast receiver of "throughput", in its own process so it does not share the sender's CPU.
# On SIGTERM it prints how many TCP connections it accepted.
FAST_RECEIVER = """
import signal, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
accepted = [0]
def bye(*_args):
    print(accepted[0], flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (no delayed-ACK stall)
    def setup(self):
        super().setup()
        accepted[0] += 1
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
ThreadingHTTPServer.request_queue_size = 1024  # a burst of new connections is not reset
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    """HTTP receiver: answers after ``delay`` s (never, while ``hold`` is clear); keeps
    (arrival time, Idempotency-Key) of every request."""

    def __init__(self, delay: float = 0.0, hold: threading.Event | None = None) -> None:
        self.delay, self.hold = delay, hold
        self.seen: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.hold is not None:
                    receiver.hold.wait()
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.seen.append((time.monotonic(),
                                          self.headers.get("Idempotency-Key", "")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                with contextlib.suppress(OSError):  # the sender gave up waiting
                    self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # listen() backlog: a burst of connections is not reset

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


class Store:
    """A fresh migrated database for one scenario, dropped afterwards."""

    def __init__(self, sqlite: bool) -> None:
        self.name = f"dutydesk_bench_{uuid.uuid4().hex[:8]}"
        if sqlite:
            self.tmp = tempfile.TemporaryDirectory()
            self.url = f"sqlite:///{self.tmp.name}/bench.sqlite"
        else:
            self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.name
        self.db = Database(self.url, pool_size=8)
        migrate.upgrade(self.db)

    def close(self) -> None:
        self.db.dispose()
        if hasattr(self, "admin"):
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()

    def put(self, key: str, channel: str, target: str, priority: int = 1) -> None:
        with self.db.session() as s:
            enqueue(s, channel=channel, target=target, subject=f"[P{priority}] {key}",
                    body_text="UPS A on battery", idempotency_key=key, source_type="incident",
                    source_id=key, priority=priority)  # each page its own incident

    def failed_attempts(self) -> dict[str, int]:
        """Failed attempts by what went wrong (a fast local receiver should have none)."""
        with self.db.session() as s:
            rows = s.execute(select(DeliveryAttempt.detail, func.count())
                             .where(DeliveryAttempt.ok.is_(False))
                             .group_by(DeliveryAttempt.detail)).all()
        return {detail: n for detail, n in rows}

    def sent(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).where(OutboxMessage.status == "sent")) or 0


def settings_for(url: str, **extra: Any) -> dict[str, Any]:
    # The receivers are on 127.0.0.1: the operator opens loopback to webhooks (netguard).
    return {"env": "testing", "database_url": url, "secret_key": "bench-" + "x" * 40,
            "log_level": "ERROR", "outbound_allow": ["127.0.0.0/8"], **extra}


def wait(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)  # not faster: every look is a query beside the sender's own
    return condition()


def storm(sqlite: bool, with_dead_webhook: bool = True) -> None:
    store, smtp, dead = Store(sqlite), SmtpServer(), Receiver(hold=threading.Event())
    settings = load_settings(settings_for(store.url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                          webhook_timeout=10), environ={})
    sender = Dispatcher(store.db, settings)
    sender.start()
    try:
        enqueued: dict[str, float] = {}
        for n in range(15):
            if with_dead_webhook:
                store.put(f"storm:{n}:hook", "webhook", dead.url)
            enqueued[f"storm:{n}:mail"] = time.monotonic()
            store.put(f"storm:{n}:mail", "email", "night@dc.example")
            time.sleep(0.1)  # incidents arrive over 1.5 s
        arrived: dict[str, float] = {}

        def collect() -> bool:
            for mail in smtp.mailbox.messages:
                key = mail["X-DutyDesk-Idempotency-Key"]
                arrived.setdefault(key, time.monotonic())
            return len(arrived) == 15

        # aiosmtpd keeps no arrival time: poll the mailbox often
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not collect():
            time.sleep(0.01)
        delays = sorted(arrived[k] - enqueued[k] for k in arrived)
        what = ("while a webhook that never answers was paged too" if with_dead_webhook
                else "(control: the same storm without the webhook)")
        print(f"storm: {len(arrived)}/15 e-mails arrived {what}; delay after enqueue median "
              f"{statistics.median(delays):.2f} s, max {max(delays):.2f} s; webhook requests "
              f"answered: {len(dead.seen)}; load average {os.getloadavg()[0]:.1f}")
    finally:
        sender.stop(grace=0.1)
        dead.stop()
        smtp.stop()
        store.close()


def spawn(settings: dict[str, Any]) -> subprocess.Popen[str]:
    import json

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), json.dumps(settings)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
    assert child.stdout is not None
    child.stdout.readline()  # its sender's name: it is running
    return child


def twin(sqlite: bool) -> None:
    store, receiver = Store(sqlite), Receiver(delay=4.0)
    children = [spawn(settings_for(store.url)) for _ in range(2)]
    try:
        started = time.monotonic()
        for n in range(40):
            store.put(f"twin:{n}", "webhook", receiver.url)
        done = wait(lambda: store.sent() == 40, 120)
        took = time.monotonic() - started
        keys = [k for _t, k in receiver.seen]
        twice = len(keys) - len(set(keys))
        print(f"twin: two worker processes, 4 s receiver: {len(set(keys))}/40 pages delivered, "
              f"{twice} delivered twice, all recorded sent: {done}, in {took:.1f} s; failed "
              f"attempts {store.failed_attempts() or 0}")
    finally:
        for child in children:
            child.stdin.close()  # type: ignore[union-attr]
            child.wait(20)
        receiver.stop()
        store.close()


def kill(sqlite: bool) -> None:
    store, receiver = Store(sqlite), Receiver(delay=2.0)
    env = settings_for(store.url, webhook_timeout=5, smtp_timeout=5)
    first = spawn(env)
    second = None
    try:
        for n in range(30):
            store.put(f"kill:{n}", "webhook", receiver.url)
        wait(lambda: len(receiver.seen) >= 8, 30)  # mid-burst: some delivered, some in flight
        with store.db.session() as s:
            held = set(s.scalars(select(OutboxMessage.idempotency_key)
                                 .where(OutboxMessage.status == "sending")))
        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait()
        second = spawn(env)
        wait(lambda: held <= {k for _t, k in receiver.seen[8:]} and store.sent() == 30, 60)
        last = max((t for t, k in receiver.seen if k in held), default=killed_at)
        print(f"kill: {len(held)} pages held by the killed worker; the last of them arrived "
              f"{last - killed_at:.1f} s after kill -9 (transport timeout 5 s + 10 s = 15 s); "
              f"all 30 recorded sent: {store.sent() == 30}")
    finally:
        if second is not None:
            second.stdin.close()  # type: ignore[union-attr]
            second.wait(20)
        receiver.stop()
        store.close()


def throughput(sqlite: bool, pages: int) -> None:
    store = Store(sqlite)
    receiver = subprocess.Popen([sys.executable, "-c", FAST_RECEIVER], stdout=subprocess.PIPE,
                                text=True)
    assert receiver.stdout is not None
    url = f"http://127.0.0.1:{receiver.stdout.readline().strip()}/hook"
    settings: Settings = load_settings(settings_for(store.url), environ={})
    with store.db.session() as s:
        for n in range(pages):
            enqueue(s, channel="webhook", target=url, subject=f"[P2] page {n}",
                    body_text="x", idempotency_key=f"fast:{n}", source_type="incident",
                    source_id=n, priority=2)
    # the sender on its own connections, as in the worker; its transactions are counted
    sender_db = Database(store.url, pool_size=4, worker=True)
    commits = [0]
    event.listen(sender_db.engine, "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1))
    sender = Dispatcher(sender_db, dataclasses.replace(settings))
    started, cpu_before = time.monotonic(), time.process_time()
    sender.start()
    try:
        wait(lambda: store.sent() == pages, 120)
        took, cpu = time.monotonic() - started, time.process_time() - cpu_before
        load = os.getloadavg()[0]
        sent = store.sent()
        receiver.send_signal(signal.SIGTERM)
        connections = receiver.communicate(timeout=10)[0].strip() or "?"
        print(f"throughput: {sent}/{pages} pages delivered and recorded in {took:.1f} s "
              f"= {sent / took:.0f} pages/s (one worker, "
              f"{settings.outbox_per_destination} at once to the one receiver; load average "
              f"{load:.1f}); the sender used {cpu:.1f} CPU-s = {sent / cpu:.0f} pages per "
              f"CPU-second; {commits[0]} sender transactions ({pages / max(commits[0], 1):.1f} "
              f"pages each); {connections} connections accepted by the receiver; failed "
              f"attempts {store.failed_attempts() or 0}")
    finally:
        sender.stop(grace=1)
        sender_db.dispose()
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="storm,twin,kill,throughput")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (each scenario on each)")
    parser.add_argument("--sqlite", action="store_true", help="short for --databases sqlite")
    parser.add_argument("--repeat", type=int, default=1, help="runs of throughput per database")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    databases = ["sqlite"] if args.sqlite else args.databases.split(",")
    for database in databases:
        sqlite = database == "sqlite"
        print(f"== database: {'SQLite' if sqlite else 'PostgreSQL'}", flush=True)
        if "storm" in wanted:
            storm(sqlite)
            storm(sqlite, with_dead_webhook=False)
        if "twin" in wanted:
            twin(sqlite)
        if "kill" in wanted:
            kill(sqlite)
        if "throughput" in wanted:
            for _run in range(args.repeat):
                throughput(sqlite, args.pages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
