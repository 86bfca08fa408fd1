"""Request figures on a hand-worked November (UTC): six requests, every figure worked out by
hand in the comments — none computed by the report code.

    R1 Nov 2 09:00 print/printer web P3 closed, L1 only; reply 09:30 olga, resolved 11:00
       olga; both clocks met; rated good "Fast" (Nov 2 12:00)
    R2 Nov 2 10:15 vpn/- email P2 resolved, L1->L2->L1 (1 hand-back), reopened once; reply
       12:15 olga (breached: 2 h of 1 h), resolved Nov 3 10:15 petro (breached: 24 h of 8 h);
       rated bad "Too slow" (Nov 3 11:00)
    R3 Nov 5 08:00 mail/mailbox phone P4 in progress, L1, anna; reply 08:10 (met); resolve
       open; linked to incident 7
    R4 Nov 5 08:30 mail/- web P3 resolved, L1, no reply, resolved 09:30 anna (met); linked to
       incident 7
    R5 Oct 31 23:00: outside the month
    R6 Nov 30 23:30 print/printer walk_in P3 new: no SLA outcome known
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dutydesk.reports.period import Filters, ReportError, month_period
from dutydesk.reports.request_figures import (
    OTHER,
    RequestFilters,
    build_request_report,
    grouped,
    parse_request_filters,
)
from dutydesk.reports.request_records import RequestRecord, is_other
from dutydesk.reports.request_tables import REQUEST_TABLES, request_tables
from dutydesk.requests.summary import ClockOutcome, Outcome, RequestSummary

NOV = month_period("2026-11", ZoneInfo("UTC"))
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MET, BREACHED, OPEN = Outcome.MET, Outcome.BREACHED, Outcome.OPEN


def t(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def clock(outcome: Outcome, elapsed: float, target: float) -> ClockOutcome:
    return ClockOutcome(outcome, elapsed, target)


RECORDS = [
    RequestRecord(1, "Printer jams", "print", t(2, 9), category="printer", channel="web",
                  priority="P3", status="closed", catalog_item_id=1,
                  summary=RequestSummary(t(2, 9, 30), "olga", t(2, 11), "olga",
                                         clock(MET, 1800, 14400), clock(MET, 7200, 86400)),
                  rating="good", rating_comment="Fast", rated_at=t(2, 12)),
    RequestRecord(2, "VPN down", "vpn", t(2, 10, 15), channel="email", priority="P2",
                  status="resolved", lines_seen=("first_line", "second_line"),
                  ping_pong_count=1, reopen_count=1,
                  summary=RequestSummary(t(2, 12, 15), "olga", t(3, 10, 15), "petro",
                                         clock(BREACHED, 7200, 3600),
                                         clock(BREACHED, 86400, 28800)),
                  rating="bad", rating_comment="Too slow", rated_at=t(3, 11)),
    RequestRecord(3, "Mail quota", "mail", t(5, 8), category="mailbox", channel="phone",
                  priority="P4", status="in_progress", assignee="anna", incident_id=7,
                  catalog_item_id=2,
                  summary=RequestSummary(t(5, 8, 10), "anna", None, None,
                                         clock(MET, 600, 28800), clock(OPEN, 3600, 259200))),
    RequestRecord(4, "Mail down too", "mail", t(5, 8, 30), channel="web", priority="P3",
                  status="resolved", incident_id=7,
                  summary=RequestSummary(None, None, t(5, 9, 30), "anna",
                                         clock(MET, 3600, 14400), clock(MET, 3600, 86400))),
    RequestRecord(5, "Old", "mail", t(31, 23, month=10), priority="P1"),
    RequestRecord(6, "Printer toner", "print", t(30, 23, 30), category="printer",
                  channel="walk_in", priority="P3", status="new", catalog_item_id=1),
]


def report(filters: RequestFilters | None = None, me_too: int = 3):
    return build_request_report(RECORDS, NOV, filters or RequestFilters(), NOW, me_too=me_too)


def test_requests_received_by_channel_day_and_hour() -> None:
    r = report()
    assert [x.id for x in r.requests] == [1, 2, 3, 4, 6]  # R5 came in in October
    assert r.received.total == 5
    assert r.received.by_channel == (("web", 2), ("email", 1), ("phone", 1), ("walk_in", 1),
                                     ("client_api", 0))
    days = dict(r.received.by_day)
    assert len(days) == 30 and sum(days.values()) == 5
    assert (days[date(2026, 11, 2)], days[date(2026, 11, 5)], days[date(2026, 11, 30)]) == (
        2, 2, 1)
    hours = r.received.by_hour
    assert (hours[8], hours[9], hours[10], hours[23], sum(hours)) == (2, 1, 1, 1, 5)


def test_days_and_hours_are_local_to_the_site() -> None:
    kyiv = month_period("2026-11", ZoneInfo("Europe/Kyiv"))  # UTC+2 in November
    r = build_request_report(RECORDS, kyiv, RequestFilters(), NOW)
    # R6 (Nov 30 23:30 UTC) is Dec 1 01:30 in Kyiv: outside; R5 (Oct 31 23:00) is Nov 1 01:00.
    assert [x.id for x in r.requests] == [5, 1, 2, 3, 4]
    assert dict(r.received.by_day)[date(2026, 11, 1)] == 1
    assert r.received.by_hour[1] == 1 and r.received.by_hour[10] == 2  # R5; R3 and R4


def test_first_contact_resolution_counts_the_resolved_that_never_left_the_first_line() -> None:
    fc = report().first_contact
    assert (fc.resolved, fc.first_contact) == (3, 2)  # R1, R2, R4 resolved; R2 went to L2
    assert fc.percent == pytest.approx(200 / 3)


def test_sla_compliance_per_priority_and_the_breaches_worst_first() -> None:
    sla = report().sla
    rows = {row.priority: row for row in sla.rows}
    assert [row.priority for row in sla.rows] == ["P1", "P2", "P3", "P4", ""]
    assert (rows["P1"].requests, rows["P2"].requests, rows["P3"].requests,
            rows["P4"].requests, rows[""].requests) == (0, 1, 3, 1, 5)
    total = rows[""]
    assert (total.response.met, total.response.breached, total.response.open) == (3, 1, 0)
    assert (total.resolve.met, total.resolve.breached, total.resolve.open) == (2, 1, 1)
    assert total.response.percent_met == 75.0
    assert total.resolve.percent_met == pytest.approx(200 / 3)
    assert (rows["P3"].response.met, rows["P3"].resolve.met) == (2, 2)  # R6 has no outcome
    assert [(b.request_id, b.clock, b.over_s) for b in sla.breaches] == [
        (2, "resolve", 57600), (2, "first_response", 3600)]


def test_median_and_p90_of_response_and_resolution_times() -> None:
    rows = {row.priority: row for row in report().times}
    total = rows[""]
    # responses: R3 600, R1 1800, R4 3600 (resolved unanswered), R2 7200 s; R6 none yet
    assert (total.response.count, total.response.median_s, total.response.p90_s) == (
        4, 2700, 7200)
    # resolutions: R4 3600, R1 7200, R2 86400 s
    assert (total.resolution.count, total.resolution.median_s, total.resolution.p90_s) == (
        3, 7200, 86400)
    p3 = rows["P3"]
    assert (p3.requests, p3.response.median_s, p3.response.p90_s) == (3, 2700, 3600)
    assert (p3.resolution.median_s, p3.resolution.p90_s) == (5400, 7200)
    assert rows["P1"].response.median_s is None


def test_ping_pong_and_reopened_requests() -> None:
    r = report()
    assert (r.lines.requests, r.lines.escalated, r.lines.with_ping_pong,
            r.lines.hand_backs) == (5, 1, 1, 1)
    assert [(p.request_id, p.hand_backs) for p in r.lines.top] == [(2, 1)]
    assert (r.reopened.ever_resolved, r.reopened.reopened, r.reopened.reopenings) == (3, 1, 1)
    assert r.reopened.percent == pytest.approx(100 / 3)
    assert r.reopened.requests == ((2, "VPN down", 1),)


def test_satisfaction_share_good_and_comments_newest_first() -> None:
    s = report().satisfaction
    assert (s.resolved, s.rated, s.good, s.bad) == (3, 2, 1, 1)
    assert s.percent_good == 50.0 and s.percent_rated == pytest.approx(200 / 3)
    assert [(c.request_id, c.rating, c.comment) for c in s.comments] == [
        (2, "bad", "Too slow"), (1, "good", "Fast")]


def test_outage_and_knowledge_base_deflection() -> None:
    d = report(me_too=3).deflection
    assert (d.received, d.me_too, d.linked, d.incidents, d.knowledge_base) == (5, 3, 2, 1, 0)
    assert d.outage_percent == 37.5  # 3 of the 8 people who came
    assert d.knowledge_base_percent == 0.0
    assert build_request_report(RECORDS, NOV, RequestFilters(), NOW,
                                knowledge_base=5).deflection.knowledge_base_percent == 50.0


def test_top_categories_then_other_outside_the_catalog() -> None:
    assert report().categories == (("printer", 2), ("mailbox", 1), (OTHER, 2))  # R2, R4
    assert is_other(RECORDS[1]) and not is_other(RECORDS[0])


def test_grouped_by_service_and_by_engineer() -> None:
    chosen = report().requests
    by_service = {g.key: g for g in grouped(chosen, "service")}
    assert [g.key for g in grouped(chosen, "service")] == ["mail", "print", "vpn"]
    mail = by_service["mail"]
    assert (mail.received, mail.resolved, mail.first_contact, mail.response.met,
            mail.resolve.met, mail.resolve.open, mail.resolution.median_s, mail.rated) == (
        2, 1, 1, 2, 1, 1, 3600, 0)
    vpn = by_service["vpn"]
    assert (vpn.reopened, vpn.hand_backs, vpn.rated, vpn.good) == (1, 1, 1, 0)
    engineers = [(g.key, g.received) for g in grouped(chosen, "engineer")]
    assert engineers == [("anna", 2), ("olga", 1), ("petro", 1), (None, 1)]
    categories = [(g.key, g.received) for g in grouped(chosen, "category")]
    assert categories == [("printer", 2), ("mailbox", 1), (None, 2)]
    assert [(g.key, g.received) for g in grouped(chosen, "line")] == [("first_line", 5)]


@pytest.mark.parametrize(("filters", "ids"), [
    (RequestFilters(Filters(engineer="olga")), [1, 2]),  # answered R1 and R2
    (RequestFilters(Filters(line="second_line")), [2]),
    (RequestFilters(Filters(service="mail")), [3, 4]),
    (RequestFilters(Filters(priority="P3")), [1, 4, 6]),
    (RequestFilters(category="printer"), [1, 6]),
    (RequestFilters(channel="web"), [1, 4]),
])
def test_filters_narrow_the_requests(filters: RequestFilters, ids: list[int]) -> None:
    assert [r.id for r in report(filters).requests] == ids


def test_filters_from_the_query_string_and_bad_ones_refused() -> None:
    parsed = parse_request_filters({"channel": "phone", "category": " printer ",
                                    "group": "engineer"}, Filters(service="mail"))
    assert parsed.query() == {"service": "mail", "category": "printer", "channel": "phone",
                              "group": "engineer"}
    for bad in ({"channel": "fax"}, {"group": "weather"}):
        with pytest.raises(ReportError):
            parse_request_filters(bad, Filters())


def test_the_tables_carry_the_figures_as_text() -> None:
    tables = request_tables(report())
    assert tuple(tables) == REQUEST_TABLES
    overview = dict(tables["overview"].rows)
    assert (overview["Requests received"], overview["First-contact resolution %"],
            overview["Good %"], overview["Outage deflection %"],
            overview["Knowledge-base deflection %"], overview["Reopened %"]) == (
        "5", "66.7", "50.0", "37.5", "0.0", "33.3")
    assert tables["times"].rows[-1] == ("All priorities", "5", "4", "45.0", "120.0", "3",
                                        "120.0", "1440.0")
    assert tables["breaches"].rows[0][:5] == ("REQ-2", "VPN down", "P2", "vpn", "resolve")
    assert tables["breaches"].rows[0][5:] == ("1440.0", "480.0", "960.0")
    assert tables["categories"].rows[-1] == ("Other (outside the catalog)", "2", "40.0")
    assert tables["comments"].rows[0] == ("REQ-2", "VPN down", "Bad", "Too slow",
                                          "2026-11-03 11:00")
    # mail: R4 resolved at first contact; R3's resolve clock is still open (not decided)
    assert tables["groups"].rows[0] == ("mail", "2", "1", "100.0", "100.0", "100.0", "60.0",
                                        "60.0", "0", "0", "0", "")
    assert tables["hours"].rows[8] == ("08:00", "2", "40.0")
