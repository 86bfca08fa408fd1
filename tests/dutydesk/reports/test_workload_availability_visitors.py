"""Per-engineer workload, availability per service and visitors per client, from plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dutydesk.reports.availability import RollupRecord, availability, checks_downtime
from dutydesk.reports.people import Person, engineer_workload
from dutydesk.reports.period import month_period
from dutydesk.reports.records import IncidentRecord, TimelineSummary
from dutydesk.reports.visitors import VisitRecord, visitors_per_client
from shifts.notices.uptime import OutageInterval, OutageSeverity
from shifts.oncall import Shift

KYIV = ZoneInfo("Europe/Kyiv")
OCTOBER = month_period("2026-10", KYIV)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PEOPLE = {1: Person(1, "anna@dc.example", "Anna"), 2: Person(2, "boris@dc.example", "Boris")}


def utc(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def incident(n: int, acked: str | None, resolved: str | None, **fields: object) -> IncidentRecord:
    summary = TimelineSummary(first_ack_by=acked, resolved_by=resolved,
                              resolved_at=utc(5, 12) if resolved else None)
    return IncidentRecord(n, f"#{n}", "check", fields.get("service", "Mail"),  # type: ignore
                          "P3", "resolved" if resolved else "acknowledged", utc(5, 9),
                          summary=summary)


# --------------------------------------------------------------------------- engineers


def test_engineers_count_first_acknowledgements_final_resolutions_and_duty() -> None:
    records = [incident(1, "anna@dc.example", "anna@dc.example"),
               incident(2, "boris@dc.example", "check"),  # auto-resolved: nobody's
               incident(3, "anna@dc.example", None)]
    # Saturday 10 October in Kyiv (UTC+3): Anna 08:00-20:00, Boris 20:00-08:00 Sunday.
    duties = [Shift(utc(10, 5), utc(10, 17), (1,)), Shift(utc(10, 17), utc(11, 5), (2,)),
              # Anna is also shift lead 10:00-14:00: the same hours, counted once.
              Shift(utc(10, 7), utc(10, 11), (1,))]
    anna, boris = engineer_workload(records, duties, PEOPLE, OCTOBER)
    assert (anna.name, anna.acknowledged, anna.resolved) == ("Anna", 2, 1)
    assert (anna.duty_hours, anna.night_hours, anna.weekend_hours, anna.shifts) == (
        12.0, 0.0, 12.0, 1)
    assert (boris.acknowledged, boris.resolved) == (1, 0)
    # Night is 22:00-06:00: 8 of Boris's 12 hours; all 12 fall on Saturday and Sunday.
    assert (boris.duty_hours, boris.night_hours, boris.weekend_hours, boris.shifts) == (
        12.0, 8.0, 12.0, 1)


def test_duty_outside_the_period_is_cut_off_and_one_engineer_can_be_picked() -> None:
    duties = [Shift(utc(30, 9, month=9), utc(1, 9), (2,))]  # ends 12:00 Kyiv on 1 October
    [boris] = engineer_workload([], duties, PEOPLE, OCTOBER)
    assert boris.duty_hours == 12.0  # from Kyiv midnight (21:00 UTC) to 09:00 UTC
    assert engineer_workload([], duties, PEOPLE, OCTOBER, engineer="anna@dc.example") == ()


# --------------------------------------------------------------------------- availability


def rollup(service: str, check: int, day: int, hour: int, count: int, up: int) -> RollupRecord:
    return RollupRecord(service, check, utc(day, hour), 60.0, count, up)


def test_a_service_is_as_down_as_its_worst_check_in_each_bucket() -> None:
    rows = [rollup("Mail", 1, 5, 9, 60, 30),  # half the results failed
            rollup("Mail", 2, 5, 9, 12, 3),  # three quarters failed: this one counts
            rollup("Mail", 1, 5, 10, 60, 60), rollup("Mail", 2, 5, 11, 12, 12),
            rollup("VPN", 3, 14, 7, 60, 0)]
    assert checks_downtime(rows) == {"Mail": (180.0, 45.0), "VPN": (60.0, 60.0)}
    # The loader counts healthy buckets in SQL and passes only the failing ones: same figures.
    failing = [r for r in rows if r.up_count < r.count]
    assert checks_downtime(failing, {"Mail": 180.0, "VPN": 60.0}) == checks_downtime(rows)


def test_availability_joins_checks_notices_and_incidents_by_service_name() -> None:
    rows = [rollup("Mail", 1, 5, 9, 60, 30), rollup("Mail", 1, 5, 10, 60, 60)]
    outages = {"mail": [  # the status page calls it "mail": same service, letter case aside
        OutageInterval(utc(5, 9), utc(5, 10, 30), OutageSeverity.MAJOR, "Mail is down"),
        OutageInterval(utc(5, 10), utc(5, 11), OutageSeverity.PARTIAL, "Mail slow")]}
    records = [incident(1, None, "anna@dc.example"), incident(2, None, None)]
    [mail] = availability(rows, ["mail"], outages, records, OCTOBER, NOW)
    assert (mail.service, mail.measured_minutes, mail.down_minutes, mail.checks_uptime) == (
        "Mail", 120.0, 30.0, 75.0)
    # Partial 10:00-11:00 overlaps the major outage until 10:30: only 30 min are partial.
    assert (mail.major_minutes, mail.partial_minutes) == (90.0, 30.0)
    october_minutes = (31 * 24 + 1) * 60  # the clocks went back on 25 October: 745 hours
    assert mail.notices_uptime == 100 * (1 - (90 + 0.3 * 30) / october_minutes)
    # The open incident has run since 5 October 09:00 UTC: it is the worst.
    assert [w.incident_id for w in mail.worst] == [2, 1]
    assert mail.worst[0].minutes == (NOW - utc(5, 9)).total_seconds() / 60


def test_services_come_least_available_first_and_a_filter_keeps_one() -> None:
    rows = [rollup("Mail", 1, 5, 9, 10, 9), rollup("VPN", 2, 5, 9, 10, 5)]
    found = availability(rows, ["Intranet"], {}, [], OCTOBER, NOW)
    assert [(a.service, a.checks_uptime, a.notices_uptime) for a in found] == [
        ("VPN", 50.0, None), ("Mail", 90.0, None), ("Intranet", None, 100.0)]
    assert [a.service for a in availability(rows, [], {}, [], OCTOBER, NOW, "vpn")] == ["VPN"]


def test_notices_of_a_period_that_has_not_begun_count_nothing() -> None:
    november = month_period("2026-11", KYIV)
    [row] = availability([], ["Mail"], {}, [], november, november.start - timedelta(days=1))
    assert row.major_minutes is None and row.notices_uptime is None


# --------------------------------------------------------------------------- visitors


def test_visitors_per_client_per_month_with_hours_and_refusals() -> None:
    visits = [
        VisitRecord("Skyline", "left", utc(10, 8), utc(10, 8), utc(10, 11)),
        VisitRecord("Skyline", "left", utc(20, 6), utc(20, 6), utc(20, 7, 30)),
        VisitRecord("Acme", "left", utc(30, 22, month=9), utc(30, 22, month=9),
                    utc(30, 23, month=9)),  # 01:00 on 1 October in Kyiv
        VisitRecord("Acme", "denied", utc(12, 10)),
        VisitRecord("Acme", "on_site", utc(31, 20), utc(31, 20)),  # still inside: until NOW
        VisitRecord("Skyline", "left", utc(2, 9, month=11), utc(2, 9, month=11),
                    utc(2, 10, month=11)),  # November
    ]
    acme, skyline = visitors_per_client(visits, OCTOBER, NOW)
    assert (acme.month, acme.client, acme.visits, acme.denied) == ("2026-10", "Acme", 2, 1)
    assert acme.hours_on_site == 1.0 + (NOW - utc(31, 20)).total_seconds() / 3600
    assert (skyline.visits, skyline.hours_on_site, skyline.denied) == (2, 4.5, 0)
