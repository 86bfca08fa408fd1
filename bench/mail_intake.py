"""Benchmark: the intake mailbox — mails from a real Dovecot (Debian's dovecot-imapd) to
requests, every one stored once.

Run: ``.venv/bin/python bench/mail_intake.py [--mails 300] [--duplicates 30]``. Starts a
throw-away Dovecot on a free loopback port (``tests/peers/dovecot.py``), APPENDs the mails (some
of them twice, as a mail server retrying would), then polls as the worker does until the inbox
is empty. Prints mails per minute taken in (the issue asks for 100 a minute sustained) and checks
that each distinct mail became exactly one request and the inbox is empty.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from dutydesk import migrate
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.mailin.imap import poll_once
from dutydesk.jobs import mail_handlers, mail_intake_config
from dutydesk.requests.models import ServiceRequest
from tests.peers.dovecot import Dovecot


def raw(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Employee {n % 50} <employee{n % 50}@corp.example>"
    msg["To"] = "help@corp.example"
    msg["Subject"] = f"Problem number {n}"
    msg["Message-ID"] = f"<bench-{n}@corp.example>"
    msg.set_content(f"Something is broken ({n}).\n" + "details " * 40)
    return msg.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--duplicates", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    server = Dovecot.start(tmp / "dovecot")
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url)
    try:
        migrate.upgrade(db)
        settings = load_settings({
            "env": "testing", "database_url": url, "secret_key": "bench-" + "x" * 40,
            "instance_path": str(tmp / "instance"), "smtp_from": "help@corp.example",
            "imap_host": server.host, "imap_port": server.tls_port,
            "imap_username": server.user, "imap_password": server.password,
            "imap_ca_file": server.ca_file, "request_ack_per_hour": 1000}, environ={})
        started = time.perf_counter()
        with server.client() as imap:  # one connection for the whole delivery
            for n in range(args.mails):
                imap.append("INBOX", None, None, raw(n))
                if n < args.duplicates:
                    imap.append("INBOX", None, None, raw(n))
        print(f"delivered {args.mails + args.duplicates} mails by IMAP APPEND in "
              f"{time.perf_counter() - started:.1f} s")
        config, handlers = mail_intake_config(settings), mail_handlers(settings)
        started = time.perf_counter()
        statuses: dict[str, int] = {}
        polls = 0
        while True:
            result = poll_once(db, config, handlers, utcnow, (settings.smtp_from,))
            polls += 1
            for outcome in result.outcomes:
                statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            if not result.outcomes and result.left == 0:
                break
        took = time.perf_counter() - started
        done = sum(statuses.values())
        with db.session() as s:
            stored = s.scalar(select(func.count(ServiceRequest.id)))
        print(f"took in {done} mails in {took:.1f} s over {polls} polls: "
              f"{done / took * 60:.0f} mails/min ({statuses})")
        ok = stored == args.mails and server.uids("INBOX") == []
        print(f"requests stored: {stored} for {args.mails} distinct mails; inbox empty: "
              f"{server.uids('INBOX') == []} -> {'OK' if ok else 'FAILED'}")
        if not ok:
            raise SystemExit(1)
    finally:
        server.stop()
        db.dispose()


if __name__ == "__main__":
    main()
