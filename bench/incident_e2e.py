"""End to end: a target goes down → the duty engineer's email arrives. Prints the delay.

    .venv/bin/python bench/incident_e2e.py [--interval 5] [--attempts 2] [--retry 5]

Everything is real and local: an HTTP target on 127.0.0.1 that answers 200 until it is flipped
to 503, an aiosmtpd SMTP server on 127.0.0.1, a fresh migrated SQLite file, one engineer with
an email contact method, one HTTP check applied as checks-as-code, and the real worker
(``dutydesk.worker.Worker``: check engine, flips → pipeline job, outbox sender) in this process.
The bound from issue 4 is interval × attempts + 5 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo

from tests.dutydesk.notify.receivers import SmtpServer

ENGINEER = "night-engineer@dc.example"


class Target:
    """A local HTTP endpoint whose answer (200 or 503) the bench switches."""

    def __init__(self) -> None:
        self.status = 200
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"ok" if target.status == 200 else b"down"
                self.send_response(target.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=int, default=5, help="check interval, seconds")
    parser.add_argument("--attempts", type=int, default=2, help="max_attempts (soft → hard)")
    # 5 s: the check config's minimum retry_interval (2 s is refused: "must be at least 5 s")
    parser.add_argument("--retry", type=int, default=5, help="retry interval, seconds (>= 5)")
    parser.add_argument("--warmup", type=float, default=7.0, help="seconds of OK before failing")
    args = parser.parse_args()

    from checks.config import parse_config
    from checks.config_db import apply
    from dutydesk import accounts, migrate
    from dutydesk.core.config import load_settings
    from dutydesk.core.db import Database
    from dutydesk.incidents.models import ContactMethod
    from dutydesk.models import Role
    from dutydesk.worker import Worker

    bound = args.interval * args.attempts + 5.0
    target, smtp = Target(), SmtpServer()
    path = Path(tempfile.mkdtemp()) / "e2e.sqlite"
    url = f"sqlite:///{path}"
    db = Database(url)
    migrate.upgrade(db)
    settings = load_settings(
        {
            "env": "testing",
            "database_url": url,
            "secret_key": "e" * 40,
            "log_level": "WARNING",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_from": "dutydesk@dc.example",
        },
        environ={},
    )
    with db.session() as s:
        user = accounts.create_user(
            s, "bench", email=ENGINEER, password="bench password 123", role=Role.ENGINEER
        )
        s.add(ContactMethod(user_id=user.id, kind="email", target=ENGINEER, enabled=True))
        config = parse_config(
            "checks:\n"
            "  - name: ups-b12\n"
            "    type: http\n"
            f"    spec: {{url: '{target.url}'}}\n"
            f"    interval: {args.interval}s\n"
            f"    max_attempts: {args.attempts}\n"
            f"    retry_interval: {args.retry}s\n"
            "    timeout: 2s\n"
            "    impact: 1\n"
            "    urgency: 1\n",
            "bench.yaml",
        )
        apply(s, config, "bench")
    worker = Worker(settings, db)
    worker.start()
    try:
        time.sleep(args.warmup)  # the check runs and is OK at least once
        if smtp.mailbox.messages:
            early = smtp.mailbox.messages[0]["Subject"]
            print(f"FAIL: mail arrived before the target failed: {early!r}")
            return 1
        target.status = 503
        failed_at = time.monotonic()
        arrived_at = None
        while time.monotonic() - failed_at < bound * 3:
            if smtp.mailbox.messages:
                arrived_at = time.monotonic()
                break
            time.sleep(0.05)
    finally:
        worker.stop()
        target.stop()
        smtp.stop()
        db.dispose()
    print(f"check: interval {args.interval} s, max_attempts {args.attempts}, "
          f"retry {args.retry} s")
    print(f"bound (interval x attempts + 5 s): {bound:.1f} s")
    if arrived_at is None:
        print(f"target down -> email: no email within {bound * 3:.0f} s")
        print("FAIL")
        return 1
    delay = arrived_at - failed_at
    mail = smtp.mailbox.messages[0]
    print(f"email: to {mail['To']}, subject {mail['Subject']!r}")
    print(f"target down -> email arrived: {delay:.2f} s")
    print("PASS" if delay <= bound else "FAIL")
    return 0 if delay <= bound else 1


if __name__ == "__main__":
    raise SystemExit(main())
