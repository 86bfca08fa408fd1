"""Storm control: at most N pages per person and channel in M minutes, the rest in one digest,
P1 always at once, nothing lost. The decision is pure (``now`` injected); the storm itself is
counted at a real SMTP server (aiosmtpd) against SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dutydesk.core.config import load_settings
from dutydesk.core.db import Database
from dutydesk.core.notify.sender import deliver_due
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.storm import StormPolicy, digest_due, digest_message, page_now
from dutydesk.incidents.storm_io import send_digests
from dutydesk.models import Role
from tests.conftest import make_user
from tests.dutydesk.notify.receivers import SmtpServer

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
POLICY = StormPolicy(limit=10, window=timedelta(minutes=5))


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("sent", "priority", "now", "expected"),
    [
        # nothing sent lately: page
        ([], Priority.P3, s(0), True),
        # nine in the window: the tenth still goes
        ([s(i) for i in range(9)], Priority.P3, s(10), True),
        # ten in the window: hold the eleventh
        ([s(i) for i in range(10)], Priority.P2, s(10), False),
        # ... but never a P1
        ([s(i) for i in range(10)], Priority.P1, s(10), True),
        # the window slides: pages older than 5 minutes no longer count
        ([s(i) for i in range(10)], Priority.P3, s(300), True),
        ([s(i) for i in range(10)], Priority.P3, s(299), False),
    ],
)
def test_a_page_goes_now_only_within_the_limit_unless_it_is_p1(
    sent: list[datetime], priority: Priority, now: datetime, expected: bool
) -> None:
    assert page_now(POLICY, sent, priority, now) is expected


def test_held_pages_are_folded_once_the_oldest_waited_a_window() -> None:
    assert not digest_due(POLICY, [], s(1000))
    assert not digest_due(POLICY, [s(30), s(60)], s(329))
    assert digest_due(POLICY, [s(30), s(60)], s(330))


def test_the_digest_names_what_it_folds() -> None:
    subject, body = digest_message([f"[P3] #{n} UPS {n} on battery" for n in range(14)])
    assert subject.startswith("14 more alerts: [P3] #0 UPS 0 on battery")
    assert body.count("\n- ") == 14


def test_a_bad_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StormPolicy(limit=0)


def test_a_100_alert_storm_reaches_the_mailbox_within_the_limit_plus_digests_none_lost(
    db: Database, tmp_path: Any
) -> None:
    smtp = SmtpServer()
    try:
        settings = load_settings(
            {"env": "testing", "database_url": db.url, "secret_key": "s" * 40,
             "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "instance_path": str(tmp_path)},
            environ={},
        )
        make_user(db, Role.ENGINEER, email="night-shift@dc.example")
        at_of: dict[str, datetime] = {}
        p1: set[str] = set()
        for n in range(100):  # one new alert every 6 s: 100 in 10 minutes, every 10th a P1
            name = f"storm-{n:03d}"
            at_of[name] = s(6 * n)
            impact = 1 if n % 10 == 0 else 3
            if impact == 1:
                p1.add(name)
            alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key=f"alertmanager:{name}",
                          status=AlertStatus.FIRING, starts_at=at_of[name], summary=name,
                          severity=Severity.CRITICAL, details={"impact": impact})
            with db.session() as session:
                process_alerts(session, [alert], settings=settings, now=at_of[name])
            if n % 3 == 0:
                send_digests(db, settings, now=at_of[name])
        for tick in range(0, 20 * 60, 15):  # the digest job keeps running after the storm
            send_digests(db, settings, now=s(600 + tick))
        while deliver_due(db, settings, limit=200):
            pass

        mails = smtp.mailbox.messages
        digests = [m for m in mails if re.match(r"\d+ more alerts?:", m["Subject"])]
        direct = [m for m in mails if m not in digests]
        direct_names = [re.search(r"storm-\d{3}", m["Subject"]).group(0) for m in direct]
        folded = [name for m in digests for name in re.findall(
            r"storm-\d{3}", m.get_body(("plain",)).get_content())]
        # None lost, none twice.
        assert sorted(direct_names + folded) == sorted(at_of)
        # Every P1 went out on its own, at once.
        assert p1 <= set(direct_names)
        # Within any 5 minutes at most 10 direct pages, unless a P1 pushed it over.
        for name in direct_names:
            window = [d for d in direct_names
                      if at_of[name] - timedelta(minutes=5) < at_of[d] <= at_of[name]]
            assert len(window) <= 10 or name in p1, (name, len(window))
        assert 1 <= len(digests) <= 4
        assert len(direct) < 40  # not 100 pages
    finally:
        smtp.stop()
