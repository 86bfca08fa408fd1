"""A small October 2026 in a Kyiv data center, written the way DutyDesk writes it, for the
report tests (the figures it must produce are worked out by hand in ``test_reports_web``).

Incidents go through the real lifecycle and store (``open_incident``, ``act``), so resolved
ones carry their stored timeline summary exactly as in production. Everything else (shift
rotations, check rollups, notices, visits) is written as rows: their own areas test how they
get there.

Kyiv is UTC+3 until the clocks go back on Sunday 25 October, UTC+2 after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from checks.models import Check, CheckRollup
from dutydesk.core.db import Database
from dutydesk.incidents.lifecycle import open_incident
from dutydesk.incidents.models import Incident
from dutydesk.incidents.sla import SlaPolicy
from dutydesk.incidents.sla_config import sla_snapshot
from dutydesk.incidents.store import act, add_events, apply_to_row
from shifts.models import ShiftRotationRow, ShiftScheduleRow
from shifts.notices.orm import NoticeAffectedService, NoticeRow, StatusService
from shifts.visitors.orm import VisitorClient, VisitRow
from tests.conftest import make_user

ANNA, BORIS = "anna@dc.example", "boris@dc.example"


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class October:
    """Ids of what was seeded: incidents by letter (see ``seed_october``), people."""

    incidents: dict[str, int]
    anna: Any
    boris: Any


def _incident(s: Session, key: str, *, at: datetime, priority: str, source: str,
              service: str | None, title: str) -> int:
    state, events = open_incident(priority=priority, actor=source, now=at)
    row = Incident(dedup_key=key, title=title, source=source, priority=priority,
                   service=service, created_at=at, updated_at=at, last_alert_at=at,
                   sla_targets=sla_snapshot(SlaPolicy()))
    apply_to_row(row, state, at)
    s.add(row)
    s.flush()
    add_events(s, row.id, events)
    return row.id


def _steps(s: Session, incident_id: int, start: datetime,
           steps: list[tuple[float, str, str, dict[str, str]]]) -> None:
    for minutes, action, actor, fields in steps:
        act(s, incident_id, action, actor, start + timedelta(minutes=minutes), **fields)


def seed_october(db: Database) -> October:
    """Incidents A–E and G in October (F in November), shifts, rollups, notices, visits."""
    anna = make_user(db, "engineer", email=ANNA, name="Anna")
    boris = make_user(db, "engineer", email=BORIS, name="Boris")
    ids: dict[str, int] = {}
    with db.session() as s:
        # A: P1 Mail from a check, Monday 5 Oct 12:00 Kyiv; ack 10 min, resolved after 3 h.
        a = ids["A"] = _incident(s, "a", at=utc(10, 5, 9), priority="P1", source="check",
                                 service="Mail", title="Mail server down")
        _steps(s, a, utc(10, 5, 9), [(10, "acknowledge", ANNA, {}),
                                     (180, "resolve", ANNA, {"note": "restarted"})])
        # B: P1 Mail from Alertmanager, 01:30 Wednesday 7 Oct; ack after 20 min (target 15),
        # 2 h pending on the vendor, resolved after 5 h (3 h on the resolve clock).
        b = ids["B"] = _incident(s, "b", at=utc(10, 6, 22, 30), priority="P1",
                                 source="alertmanager", service="Mail", title="Mail queue stuck")
        _steps(s, b, utc(10, 6, 22, 30), [
            (20, "acknowledge", BORIS, {}), (30, "pending", BORIS, {"reason": "vendor"}),
            (150, "resume", BORIS, {}), (300, "resolve", BORIS, {"note": "vendor patch"})])
        # C: P2 VPN reported by hand, Wednesday 14 Oct 10:00; ping-pong between the lines,
        # resolved after 9 h (target 8 h).
        c = ids["C"] = _incident(s, "c", at=utc(10, 14, 7), priority="P2", source="manual",
                                 service="VPN", title="VPN refuses logins")
        _steps(s, c, utc(10, 14, 7), [
            (5, "acknowledge", ANNA, {}),
            (10, "reassign", ANNA, {"line": "second_line", "reason": "needs L2"}),
            (40, "reassign", BORIS, {"line": "first_line", "reason": "client side"}),
            (50, "reassign", ANNA, {"line": "second_line", "reason": "it is not"}),
            (540, "resolve", BORIS, {"note": "certificate renewed"})])
        # D: P3 VPN from a check, Tuesday 20 Oct 15:00, never acknowledged, auto-resolved in 1 h.
        d = ids["D"] = _incident(s, "d", at=utc(10, 20, 12), priority="P3", source="check",
                                 service="VPN", title="VPN latency")
        _steps(s, d, utc(10, 20, 12), [(60, "resolve", "check", {"note": "recovered"})])
        # E: P4 from PagerDuty without a service, Saturday 31 Oct 22:00 (UTC+2 by then);
        # acknowledged after 30 min, pending since 21:00 UTC (its resolve clock is paused).
        e = ids["E"] = _incident(s, "e", at=utc(10, 31, 20), priority="P4", source="pagerduty",
                                 service=None, title="Backup job slow")
        _steps(s, e, utc(10, 31, 20), [(30, "acknowledge", ANNA, {}),
                                       (60, "pending", ANNA, {"reason": "waiting for the job"})])
        # F: 00:30 on 1 November in Kyiv: not October.
        ids["F"] = _incident(s, "f", at=utc(10, 31, 22, 30), priority="P1", source="check",
                             service="Mail", title="November problem")
        # G: 00:30 on Thursday 1 October in Kyiv (21:30 UTC on 30 September): October.
        g = ids["G"] = _incident(s, "g", at=utc(9, 30, 21, 30), priority="P3", source="check",
                                 service="Mail", title="Mail certificate expiring")
        _steps(s, g, utc(9, 30, 21, 30), [(30, "acknowledge", BORIS, {}),
                                          (120, "resolve", BORIS, {"note": "renewed"})])
        _shifts(s, anna.id, boris.id)
        _rollups(s)
        _notices(s)
        _visits(s)
    return October(ids, anna, boris)


def _shifts(s: Session, anna: int, boris: int) -> None:
    """First line on Saturday 10 October: Anna 08:00–20:00, Boris 20:00–08:00 (Kyiv); Anna
    is also shift lead 10:00–14:00 (the same hours: counted once)."""
    for name, line, hours, people, handoff, ends in (
        ("First line", "first_line", 12, [anna, boris], "08:00", utc(10, 11, 5)),
        ("Shift lead", "shift_lead", 4, [anna], "10:00", utc(10, 10, 11)),
    ):
        schedule = ShiftScheduleRow(name=name, line=line, time_zone="Europe/Kyiv")
        s.add(schedule)
        s.flush()
        s.add(ShiftRotationRow(schedule_id=schedule.id, name="october", position=0,
                               participants=people, pattern="fixed_length",
                               pattern_params={"hours": hours}, handoff_time=handoff,
                               start_date=date(2026, 10, 10), restrictions=[], ends_at=ends))


def _rollups(s: Session) -> None:
    """Hour buckets: Mail's worst check loses 45 of 240 measured minutes, VPN 60 of 120."""
    checks = {slug: Check(slug=slug, type="tcp", spec={}, service=service)
              for slug, service in (("mail-http", "Mail"), ("mail-smtp", "Mail"),
                                    ("vpn-gw", "VPN"))}
    s.add_all(checks.values())
    s.flush()
    for slug, resolution, start, count, up in (
        ("mail-http", "hour", utc(9, 30, 21), 60, 60),  # the period's first hour
        ("mail-http", "hour", utc(10, 5, 9), 60, 30),
        ("mail-smtp", "hour", utc(10, 5, 9), 12, 3),  # worse than mail-http in that hour
        ("mail-http", "hour", utc(10, 5, 10), 60, 60),
        ("mail-smtp", "hour", utc(10, 5, 11), 12, 12),
        ("vpn-gw", "hour", utc(10, 14, 7), 60, 0),
        ("vpn-gw", "hour", utc(10, 14, 8), 60, 60),
        ("mail-http", "hour", utc(11, 1, 10), 60, 0),  # November
        ("mail-http", "day", utc(10, 5, 0), 1440, 0),  # hour buckets cover October: unused
    ):
        s.add(CheckRollup(check_id=checks[slug].id, resolution=resolution, bucket_start=start,
                          count=count, up_count=up, ok_count=up))


def _notices(s: Session) -> None:
    mail = StatusService(slug="mail", name="Mail")
    intranet = StatusService(slug="intranet", name="Intranet")
    s.add_all([mail, intranet])
    s.flush()
    for title, service, impact, start, end, published in (
        ("Mail is down", mail, "major_outage", utc(10, 5, 9), utc(10, 5, 10, 30), True),
        ("Mail is slow", mail, "degraded_performance", utc(10, 5, 10), utc(10, 5, 11), True),
        ("Intranet outage", intranet, "partial_outage", utc(9, 30, 20), utc(9, 30, 23), True),
        ("Draft: mail down", mail, "major_outage", utc(10, 20, 9), utc(10, 20, 12), False),
    ):
        notice = NoticeRow(kind="incident", title=title, impact="major", created_at=start,
                           started_at=start, resolved_at=end,
                           published_at=start if published else None)
        s.add(notice)
        s.flush()
        s.add(NoticeAffectedService(notice_id=notice.id, service_id=service.id, impact=impact))


def _visits(s: Session) -> None:
    skyline, acme = VisitorClient(name="Skyline Hosting"), VisitorClient(name="Acme")
    s.add_all([skyline, acme])
    s.flush()
    for client, status, inside, out in (
        (skyline, "left", utc(10, 10, 8), utc(10, 10, 11)),
        (skyline, "left", utc(10, 20, 6), utc(10, 20, 7, 30)),
        (acme, "left", utc(9, 30, 22), utc(9, 30, 23)),  # 01:00 on 1 October in Kyiv
        (acme, "denied", None, None),
        (skyline, "left", utc(11, 2, 9), utc(11, 2, 10)),  # November
    ):
        s.add(VisitRow(client_id=client.id, person_name="Visitor", status=status,
                       recorded_at=inside or utc(10, 12, 10), checked_in_at=inside,
                       checked_out_at=out, areas=[], purpose="works"))
