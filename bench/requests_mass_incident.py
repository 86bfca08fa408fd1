"""Benchmark: a mass incident — 500 requests linked to one outage, an update and the resolution
mailed to each requester through the outbox to a real SMTP server (aiosmtpd), each mail once.

Run: ``.venv/bin/python bench/requests_mass_incident.py [--requests 500]``. Links the requests,
posts one public update (twice, as a double-click would), resolves the incident, lets the
requests' job resolve the linked requests, delivers everything with the outbox sender, then
counts what the SMTP server received per address. Prints the timings and fails loudly if any
requester got a mail twice or not at all.
"""

from __future__ import annotations

import argparse
import collections
import logging
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller

from dutydesk import migrate
from dutydesk.core.config import load_settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role
from dutydesk.core.notify.sender import deliver_due
from dutydesk.core.security import Principal
from dutydesk.incidents.service import report_manually
from dutydesk.incidents.store import act as incident_act
from dutydesk.models import Role as _Role  # noqa: F401 (all tables known)
from dutydesk.requests import service as req
from dutydesk.requests.jobs import follow_resolved_incidents

OLGA = Principal(kind="user", role=Role.ENGINEER, label="olga")


class Counting:
    def __init__(self) -> None:
        self.by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        text = envelope.content.decode("utf-8", "replace")
        subject = next((line for line in text.splitlines() if line.startswith("Subject:")), "")
        kind = ("resolved" if "resolved" in subject.lower() else
                "news" if "news" in subject.lower() else "received")
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.by_kind[kind][rcpt.lower()] += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    counting = Counting()
    smtp = Controller(counting, hostname="127.0.0.1", port=port)
    smtp.start()
    tmp = Path(tempfile.mkdtemp(prefix="dutydesk-bench-"))
    url = f"sqlite:///{tmp / 'bench.sqlite'}"
    db = Database(url)
    try:
        migrate.upgrade(db)
        settings = load_settings({"env": "testing", "database_url": url,
                                  "secret_key": "bench-" + "x" * 40,
                                  "instance_path": str(tmp / "instance"),
                                  "smtp_host": "127.0.0.1", "smtp_port": port}, environ={})
        with db.session() as s:
            incident_id = report_manually(s, OLGA, title="Mail is down", service="mail",
                                          severity="critical", details="", settings=settings,
                                          now=utcnow())
        emails = [f"employee{n}@corp.example" for n in range(args.requests)]
        started = time.perf_counter()
        with db.session() as s:
            for email in emails:
                req.create_request(s, settings, email, req.Requester(email), service="mail",
                                   description="Outlook cannot connect",
                                   incident_id=incident_id, now=utcnow())
        link_s = time.perf_counter() - started
        with db.session() as s:
            print(f"linked {args.requests} requests in {link_s:.1f} s; the incident shows "
                  f"{req.affected_count(s, incident_id)} people affected")
        started = time.perf_counter()
        for _click in range(2):  # a double-click posts the same update twice
            with db.session() as s:
                req.notify_incident_update(s, settings, incident_id,
                                           "We found the cause; back by 12:00", "u1",
                                           utcnow(), OLGA)
        with db.session() as s:
            incident_act(s, incident_id, "resolve", "olga", utcnow(),
                         note="The mail server was restarted")
        with db.session() as s:
            resolved = follow_resolved_incidents(s, settings, utcnow())
        with db.session() as s:
            follow_resolved_incidents(s, settings, utcnow())  # the job runs again
        fan_s = time.perf_counter() - started
        print(f"update and resolution fanned out in {fan_s:.1f} s ({resolved} resolved)")
        started = time.perf_counter()
        attempted = 0
        while True:
            n = deliver_due(db, settings, now=utcnow(), limit=200)
            attempted += n
            if n == 0:
                break
        send_s = time.perf_counter() - started
        print(f"outbox: {attempted} mails delivered in {send_s:.1f} s "
              f"({attempted / max(send_s, 1e-9):.0f} mails/s)")
        problems = []
        for kind in ("received", "news", "resolved"):
            got = counting.by_kind[kind]
            twice = [e for e, c in got.items() if c > 1]
            missing = [e for e in emails if got[e] == 0]
            print(f"{kind:9s}: {sum(got.values())} mails to {len(got)} people; "
                  f"twice {len(twice)}, missing {len(missing)}")
            if twice or missing:
                problems.append(kind)
        print("each requester mailed once per reason: " + ("OK" if not problems else
                                                           f"FAILED ({', '.join(problems)})"))
        if problems:
            raise SystemExit(1)
    finally:
        smtp.stop()
        db.dispose()


if __name__ == "__main__":
    main()
