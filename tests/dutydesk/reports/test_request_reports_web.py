"""The request report page on real databases: requests worked through the requests service in a
known October (Kyiv) give known figures; the CSV files carry exactly the page's cells; the
stored summary of a resolved request and the replay of an open one agree; bad input is refused
and only shift leads and admins read it.

    A  Oct 6 10:00 mail/mailbox web  P4: reply 10:30 by lead, resolved 12:00 (first contact),
       rated good "Thanks" (Oct 11 09:00 UTC = 12:00 Kyiv)
    B  Oct 6 11:00 vpn/—        phone P4: handed to the second line 11:10 and back 11:20
       (1 hand-back), never answered, resolved Oct 10 11:00: 96 h on both clocks, over the
       8 h first response and the 72 h resolve targets (both breached); rated bad
    C  Oct 7 09:00 mail/—       email P4: still new (both clocks running)
    one "me too" on an open incident of mail, Oct 7
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.security import Principal
from dutydesk.incidents.service import report_manually
from dutydesk.models import Role
from dutydesk.reports.request_tables import REQUEST_TABLES
from dutydesk.requests import ratings
from dutydesk.requests import service as req
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import ServiceRequest
from tests.dutydesk.reports.test_reports_web import Tables

MONTH = "?month=2026-10"
OLGA = Principal(kind="user", role=Role.ENGINEER, label="olga@dc.example")


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def october(db: Database, settings: Settings) -> dict[str, int]:
    from dutydesk.requests.catalog.items import parse_item
    from dutydesk.requests.catalog.store import get_item, save_item
    from shifts.notices.orm import StatusService

    with db.session() as s:
        s.add(StatusService(slug="mail", name="mail"))
        s.flush()
        mailbox = save_item(s, "test", parse_item({  # the catalog's item; the rest are "other"
            "service": "mail", "slug": "mailbox", "name": {"en": "A mailbox"},
            "type": "fault"}), t(1, 9)).id

        def new(email: str, service: str, category: str, channel: str, at: datetime) -> int:
            item = get_item(s, mailbox) if category == "mailbox" else None
            return req.create_request(s, settings, email, req.Requester(email), service=service,
                                      category=category, channel=channel, description="help",
                                      now=at, catalog_item=item).id

        a = new("anna@corp.example", "mail", "mailbox", "web", t(6, 10))
        req.perform(s, settings, OLGA, a, Action.REPLY, t(6, 10, 30), text="On it")
        req.perform(s, settings, OLGA, a, Action.RESOLVE, t(6, 12), note="Done")
        b = new("boris@corp.example", "vpn", "", "phone", t(6, 11))
        req.perform(s, settings, OLGA, b, Action.REASSIGN, t(6, 11, 10), line="second_line",
                    reason="needs L2")
        req.perform(s, settings, "petro@dc.example", b, Action.REASSIGN, t(6, 11, 20),
                    line="first_line", reason="not ours")
        req.perform(s, settings, OLGA, b, Action.RESOLVE, t(10, 11), note="Reset token")
        c = new("clara@corp.example", "mail", "", "email", t(7, 9))
        incident = report_manually(s, OLGA, title="Mail down", service="mail",
                                   severity="critical", details="", settings=settings,
                                   now=t(7, 8))
        req.follow_incident(s, incident, req.Requester("dora@corp.example"), t(7, 9, 5))
        for rid, rating, comment in ((a, "good", "Thanks"), (b, "bad", "")):
            ratings.rate_request(s, settings, s.get(ServiceRequest, rid), rating, comment,
                                 t(11, 9))
        s.commit()
        return {"a": a, "b": b, "c": c}


@pytest.fixture
def lead(signed_in: Any) -> Any:
    return signed_in("shift_lead")


def page_tables(client: Any, query: str = MONTH) -> dict[str, list[list[str]]]:
    response = client.get("/reports/requests" + query)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return {name: rows for name, (_h, rows) in Tables(response.get_data(as_text=True))
            .found.items()}


def test_a_known_october_gives_known_figures(lead: Any, october: dict[str, int]) -> None:
    a, b, c = october["a"], october["b"], october["c"]
    tables = page_tables(lead)
    overview = dict(tables["overview"])  # type: ignore[arg-type]
    assert overview["Requests received"] == "3"
    assert overview["Resolved"] == "2"
    assert overview["First-contact resolution %"] == "50.0"  # A; B went to the second line
    assert overview["Hand-backs (ping-pong)"] == "1"
    assert overview["Good %"] == "50.0"
    assert overview['"Me too" instead of a request'] == "1"
    assert overview["Outage deflection %"] == "25.0"  # 1 of 4 people
    assert overview["Solved by a suggested article"] == "0"
    assert tables["channels"][:4] == [["Web form", "1", "33.3"], ["Email", "1", "33.3"],
                                      ["Phone", "1", "33.3"], ["Walk-in", "0", "0.0"]]
    # P4 targets: first response 8 h, resolve 72 h. A met both (30 min, 2 h). B: first
    # response stopped by the resolution after 96 h (breached), resolve 96 h (breached).
    # C: both still running as of now (weeks later): breached.
    assert tables["sla"][3] == ["P4", "3", "1", "2", "0", "33.3", "1", "2", "0", "33.3"]
    assert sorted((row[0], row[4]) for row in tables["breaches"]) == sorted([
        (f"REQ-{b}", "first response"), (f"REQ-{b}", "resolve"),
        (f"REQ-{c}", "first response"), (f"REQ-{c}", "resolve")])
    # responses: A 30 min, B 96 h (its resolution); resolutions: A 120 min, B 5760 min
    assert tables["times"][-1] == ["All priorities", "3", "2", "2895.0", "5760.0", "2",
                                   "2940.0", "5760.0"]
    assert tables["ping_pong"] == [[f"REQ-{b}", "help", "P4", "vpn", "1"]]
    assert tables["comments"] == [[f"REQ-{a}", "help", "Good", "Thanks", "2026-10-11 12:00"]]
    assert tables["categories"] == [["mailbox", "1", "33.3"],
                                    ["Other (outside the catalog)", "2", "66.7"]]
    assert [row[:3] for row in tables["groups"]] == [["mail", "2", "1"], ["vpn", "1", "1"]]
    days = dict(tables["days"])  # type: ignore[arg-type]
    assert (days["2026-10-06"], days["2026-10-07"], len(days)) == ("2", "1", 31)


def test_every_csv_holds_exactly_the_cells_of_its_table(lead: Any,
                                                        october: dict[str, int]) -> None:
    response = lead.get("/reports/requests" + MONTH)
    found = Tables(response.get_data(as_text=True)).found
    for name in REQUEST_TABLES:
        download = lead.get(f"/reports/requests/{name}.csv{MONTH}")
        assert download.status_code == 200 and download.mimetype == "text/csv"
        assert f"dutydesk-requests-{name}-2026-10.csv" in download.headers[
            "Content-Disposition"]
        headers, *rows = list(csv.reader(io.StringIO(
            download.get_data(as_text=True).removeprefix("\ufeff"))))
        assert headers == found[name][0]
        shown = found[name][1]
        assert rows[:len(shown)] == shown


def test_filters_and_grouping_narrow_the_page(lead: Any, october: dict[str, int]) -> None:
    overview = dict(page_tables(lead, MONTH + "&service=mail")["overview"])  # type: ignore
    assert overview["Requests received"] == "2"
    overview = dict(page_tables(lead, MONTH + "&channel=phone")["overview"])  # type: ignore
    assert overview["Requests received"] == "1"
    overview = dict(page_tables(lead, MONTH + "&line=second_line")["overview"])  # type: ignore
    assert overview["Requests received"] == "1"
    groups = page_tables(lead, MONTH + "&group=channel")["groups"]
    assert [row[0] for row in groups] == ["Email", "Phone", "Web form"]


def test_the_printable_month_and_bad_input(lead: Any, october: dict[str, int]) -> None:
    page = lead.get("/reports/requests/print" + MONTH)
    assert page.status_code == 200
    assert "DutyDesk monthly request report 2026-10" in page.get_data(as_text=True)
    assert lead.get("/reports/requests/print?from=2026-10-01&to=2026-10-02").status_code == 400
    for query in ("channel=fax", "group=moon", "month=2026-13", "engineer=nobody"):
        assert lead.get(f"/reports/requests?{query}").status_code == 400
    assert lead.get("/reports/requests/nothing.csv").status_code == 404


def test_only_shift_leads_and_admins_read_it(signed_in: Any) -> None:
    assert signed_in("engineer").get("/reports/requests").status_code == 403
    assert signed_in("admin").get("/reports/requests").status_code == 200


@pytest.mark.parametrize("query", [
    "month=-1", "month=9999-99", "from=2026-10-01&to=1900-01-01", "from=x&to=y",
    "service=" + "s" * 5000, "category=" + "c" * 5000, "channel=%3Cb%3E", "group=",
    "priority=P9", "line=third_line", "kind=month&month=2026-10&group=engineer",
])
def test_junk_in_the_query_is_a_clear_4xx_or_a_page_never_a_server_error(
    lead: Any, query: str
) -> None:
    for path in ("/reports/requests", "/reports/requests/print", "/reports/requests/days.csv"):
        assert lead.get(f"{path}?{query}").status_code < 500


def test_knowledge_base_deflections_of_the_period_and_service_are_counted(db: Database) -> None:
    """"This solved it" on /help is counted in the month it happened, for its service."""
    from zoneinfo import ZoneInfo

    from dutydesk.reports.period import Filters, month_period
    from dutydesk.reports.request_figures import RequestFilters
    from dutydesk.reports.request_loader import knowledge_base_deflections
    from dutydesk.requests.kb.store import create_article, record_deflection

    article = {"visibility": "public", "texts": {"en": {
        "title": "The printer does not print", "body": "Replace the cartridge."}}}
    with db.session() as s:
        article_id = create_article(s, "lead", article, t(1, 9)).id
        record_deflection(s, article_id, t(2, 9), email="anna@corp.example", service="print")
        record_deflection(s, article_id, t(3, 9), email="ivan@corp.example", service="print")
        record_deflection(s, article_id, t(4, 9), email="olga@corp.example", service="mail")
        record_deflection(s, article_id, t(1, 9) + timedelta(days=40),  # next month
                          email="petro@corp.example", service="print")
    october = month_period("2026-10", ZoneInfo("Europe/Kyiv"))
    with db.session() as s:
        assert knowledge_base_deflections(s, october, RequestFilters()) == 3
        assert knowledge_base_deflections(
            s, october, RequestFilters(base=Filters(service="print"))) == 2
        assert knowledge_base_deflections(s, october, RequestFilters(channel="phone")) == 0
