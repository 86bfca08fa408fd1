"""The report pages on real databases: a hand-worked October gives known figures, the CSV files
carry exactly the page's cells, filters narrow them, bad input is refused, roles are enforced.

Every expected figure below is worked out by hand from ``seed.py`` (its comments give the
times); none is computed by the report code.
"""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from typing import Any

import pytest

from dutydesk.core.db import Database
from dutydesk.reports.tables import TABLES
from tests.conftest import login, make_user
from tests.dutydesk.reports.seed import ANNA, BORIS, October, seed_october

MONTH = "?month=2026-10"


class Tables(HTMLParser):
    """Every ``<table data-report=…>`` of a page as (headers, rows) of cell texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: dict[str, tuple[list[str], list[list[str]]]] = {}
        self._name: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip_row = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "table" and values.get("data-report"):
            self._name = values["data-report"]
            self.found[self._name] = ([], [])
        elif self._name and tag == "tr":
            self._row, self._skip_row = [], values.get("class") == "empty"
        elif self._name and tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._name:
            headers, rows = self.found[self._name]
            if not headers:
                headers.extend(self._row)
            elif not self._skip_row:
                rows.append(self._row)
            self._row = None
        elif tag == "table":
            self._name = None


def csv_of(client: Any, name: str, query: str = MONTH) -> tuple[list[str], list[list[str]]]:
    response = client.get(f"/reports/{name}.csv{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    headers, *rows = list(csv.reader(io.StringIO(text)))
    return headers, rows


@pytest.fixture
def october(db: Database) -> October:
    return seed_october(db)


@pytest.fixture
def lead(signed_in: Any) -> Any:
    return signed_in("shift_lead")


def page_tables(client: Any, query: str = MONTH) -> dict[str, tuple[list[str], list[list[str]]]]:
    response = client.get("/reports" + query)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    return Tables(response.get_data(as_text=True)).found


def test_known_october_gives_known_figures(lead: Any, october: October) -> None:
    i = october.incidents
    t = {name: rows for name, (_headers, rows) in page_tables(lead).items()}
    assert t["sla"] == [
        # priority, incidents, ack met/breached/open/%, resolve met/breached/open/%
        ["P1", "2", "1", "1", "0", "50.0", "2", "0", "0", "100.0"],
        ["P2", "1", "1", "0", "0", "100.0", "0", "1", "0", "0.0"],
        ["P3", "2", "2", "0", "0", "100.0", "2", "0", "0", "100.0"],
        ["P4", "1", "1", "0", "0", "100.0", "0", "0", "1", ""],
        ["All priorities", "6", "5", "1", "0", "83.3", "4", "1", "1", "80.0"],
    ]
    assert t["breaches"] == [
        [f"#{i['C']}", "VPN refuses logins", "P2", "VPN", "resolve", "540.0", "480.0", "60.0"],
        [f"#{i['B']}", "Mail queue stuck", "P1", "Mail", "acknowledge", "20.0", "15.0", "5.0"],
    ]
    assert t["response"] == [
        # priority, incidents, acked, MTTA median/p90, resolved, MTTR median/p90 (minutes)
        ["P1", "2", "2", "15.0", "20.0", "2", "240.0", "300.0"],
        ["P2", "1", "1", "5.0", "5.0", "1", "540.0", "540.0"],
        ["P3", "2", "1", "30.0", "30.0", "2", "90.0", "120.0"],
        ["P4", "1", "1", "30.0", "30.0", "0", "", ""],
        ["All priorities", "6", "5", "20.0", "30.0", "5", "180.0", "540.0"],
    ]
    assert t["trend"] == [
        ["2026-09-28", "1", "30.0", "30.0", "120.0", "120.0"],
        ["2026-10-05", "2", "15.0", "20.0", "240.0", "300.0"],
        ["2026-10-12", "1", "5.0", "5.0", "540.0", "540.0"],
        ["2026-10-19", "1", "", "", "60.0", "60.0"],
        ["2026-10-26", "1", "30.0", "30.0", "", ""],
    ]
    assert t["sources"] == [["Checks", "3", "50.0"], ["Alertmanager", "1", "16.7"],
                            ["PagerDuty", "1", "16.7"], ["Manual reports", "1", "16.7"]]
    assert t["services"] == [["Mail", "3", "50.0"], ["VPN", "2", "33.3"],
                             ["(no service)", "1", "16.7"]]
    heat = {row[0]: row[1:] for row in t["heatmap"]}
    lit = {(day, hour): value for day, cells in heat.items()
           for hour, value in enumerate(cells[:24]) if value != "0"}
    assert lit == {("Monday", 12): "1", ("Wednesday", 1): "1", ("Wednesday", 10): "1",
                   ("Tuesday", 15): "1", ("Saturday", 22): "1", ("Thursday", 0): "1"}
    assert [cells[24] for cells in heat.values()] == ["1", "1", "2", "1", "0", "1", "0"]
    assert t["reassignments"] == [
        ["Incidents", "6"], ["Incidents moved between lines", "1"],
        ["Moves between lines", "3"], ["First line → second line", "2"],
        ["Second line → first line", "1"], ["Incidents with ping-pong", "1"],
        ["Hand-backs (ping-pong)", "2"]]
    assert t["ping_pong"] == [[f"#{i['C']}", "VPN refuses logins", "P2", "VPN", "3", "2"]]
    assert t["engineers"] == [
        # acknowledged first / resolved last; hours on duty, at night, at the weekend; duties
        ["Anna", ANNA, "3", "1", "12.0", "0.0", "12.0", "1"],
        ["Boris", BORIS, "2", "3", "12.0", "8.0", "12.0", "1"],
    ]
    assert t["availability"] == [
        ["VPN", "50.00", "60.0", "120.0", "", "", "", "2",
         f"#{i['C']} VPN refuses logins (P2, 540.0 min); #{i['D']} VPN latency (P3, 60.0 min)"],
        # 4 measured hours, 45 min down; notices: 90 min major + 30 min partial in a month of
        # 745 h (the clocks went back): 100 × (1 − 99 / 44,700) = 99.78.
        ["Mail", "81.25", "45.0", "240.0", "90.0", "30.0", "99.78", "3",
         f"#{i['B']} Mail queue stuck (P1, 300.0 min); #{i['A']} Mail server down (P1, 180.0 "
         f"min); #{i['G']} Mail certificate expiring (P3, 120.0 min)"],
        # 2 h of partial outage inside October: 100 × (1 − 0.3 × 120 / 44,700) = 99.92.
        ["Intranet", "", "", "", "0.0", "120.0", "99.92", "0", ""],
    ]
    assert t["visitors"] == [["2026-10", "Acme", "1", "1.0", "1"],
                             ["2026-10", "Skyline Hosting", "2", "4.5", "0"]]


def test_every_csv_holds_exactly_the_cells_of_its_table_on_the_page(lead: Any,
                                                                   october: October) -> None:
    query = MONTH + "&service=Mail"
    page = page_tables(lead, query)
    assert set(page) == set(TABLES)
    for name in TABLES:
        assert csv_of(lead, name, query) == page[name], name


def test_the_csv_is_a_named_download_with_the_period_in_its_name(lead: Any,
                                                                 october: October) -> None:
    response = lead.get("/reports/sla.csv?from=2026-10-01&to=2026-10-15")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="dutydesk-sla-2026-10-01_2026-10-15.csv"')


def test_filters_narrow_every_figure(lead: Any, october: October) -> None:
    i = october.incidents
    p1 = {name: rows for name, (_h, rows) in page_tables(lead, MONTH + "&priority=P1").items()}
    assert p1["sla"][-1][:2] == ["All priorities", "2"]
    assert p1["sources"][:2] == [["Checks", "1", "50.0"], ["Alertmanager", "1", "50.0"]]

    second = {n: rows for n, (_h, rows) in page_tables(lead, MONTH + "&line=second_line").items()}
    assert second["ping_pong"][0][0] == f"#{i['C']}" and second["sla"][-1][1] == "1"
    # Only C was on the second line; the second line has no schedule, so no duty hours.
    assert second["engineers"] == [["Anna", ANNA, "1", "0", "0.0", "0.0", "0.0", "0"],
                                   ["Boris", BORIS, "0", "1", "0.0", "0.0", "0.0", "0"]]

    boris = {n: rows for n, (_h, rows) in page_tables(lead, MONTH + f"&engineer={BORIS}").items()}
    assert boris["sla"][-1][1] == "3"  # B and G he handled, C he resolved
    assert boris["engineers"] == [["Boris", BORIS, "2", "3", "12.0", "8.0", "12.0", "1"]]

    vpn = {n: rows for n, (_h, rows) in page_tables(lead, MONTH + "&service=VPN").items()}
    assert [row[0] for row in vpn["availability"]] == ["VPN"]
    assert vpn["services"] == [["VPN", "2", "100.0"]]


def test_a_range_counts_only_its_days(lead: Any, october: October) -> None:
    t = {n: rows for n, (_h, rows) in page_tables(lead, "?from=2026-10-05&to=2026-10-07").items()}
    assert t["sla"][-1][1] == "2"  # A on the 5th and B on the 7th (Kyiv)
    assert [row[0] for row in t["trend"]] == ["2026-10-05"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?month=2026-13", "month must look like 2026-11"),
        ("?month=oktober", "month must look like 2026-11"),
        ("?from=2026-10-20&to=2026-10-01", "from (2026-10-20) is after to (2026-10-01)"),
        ("?priority=P7", "priority must be P1, P2, P3 or P4"),
        ("?line=third", "line must be first_line or second_line"),
        ("?engineer=nobody@dc.example", "no engineer with the login"),
    ],
)
def test_bad_input_is_refused_with_a_message(lead: Any, query: str, message: str) -> None:
    for path in ("/reports", "/reports/sla.csv"):
        response = lead.get(path + query)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True).replace("&#39;", "'")


def test_an_unknown_table_is_not_found_and_print_wants_a_month(lead: Any) -> None:
    assert lead.get("/reports/salaries.csv").status_code == 404
    response = lead.get("/reports/print?from=2026-10-01&to=2026-10-31")
    assert response.status_code == 400
    assert "the printable report covers one month" in response.get_data(as_text=True)


def test_the_printable_page_is_a4_with_the_same_figures(lead: Any, october: October) -> None:
    response = lead.get("/reports/print" + MONTH)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'class="report-print"' in html and "reports.css" in html
    assert "DutyDesk monthly report 2026-10" in html
    printed = Tables(html).found
    for name in ("sla", "response", "engineers", "availability"):
        assert printed[name] == page_tables(lead)[name], name
    css = lead.get("/static/css/reports.css").get_data(as_text=True)
    assert "@page { size: A4 portrait" in css


def test_the_form_offers_people_and_services_and_the_button_picks_the_period(
        lead: Any, october: October) -> None:
    html = lead.get("/reports?kind=range&month=2026-11&from=2026-10-05&to=2026-10-07"
                    ).get_data(as_text=True)
    assert "Reports · 2026-10-05 – 2026-10-07" in html
    assert f'<option value="{ANNA}"' in html and '<option value="Intranet">' in html
    assert "/reports/sla.csv?from=2026-10-05&amp;to=2026-10-07" in html


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("engineer", 403),
                                              ("shift_lead", 200), ("admin", 200)])
def test_only_shift_leads_and_admins_read_reports(signed_in: Any, role: str,
                                                  status: int) -> None:
    client = signed_in(role)
    assert client.get("/reports").status_code == status
    assert client.get("/reports/sla.csv").status_code == status
    nav = client.get("/").get_data(as_text=True)
    assert ('href="/reports"' in nav) is (status == 200)


def test_signed_out_visitors_are_sent_to_sign_in(client: Any) -> None:
    response = client.get("/reports?month=2026-10")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ru", ["Отчёты", "Соблюдение SLA", "Все приоритеты", "Цели SLA выполнены"]),
        ("uk", ["Звіти", "Дотримання SLA", "Усі пріоритети", "Цілі SLA виконано"]),
    ],
)
def test_reports_speak_russian_and_ukrainian_on_the_page_and_in_the_csv(
        app: Any, db: Database, october: October, language: str, words: list[str]) -> None:
    user = make_user(db, "shift_lead", language=language)
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    page = client.get("/reports" + MONTH).get_data(as_text=True)
    assert not [w for w in words if w not in page]
    headers, rows = csv_of(client, "sla")
    assert rows[-1][0] == words[2] and "SLA" not in headers[0]
    bad = client.get("/reports?month=2026-13").get_data(as_text=True)
    assert ("месяц указывается как" if language == "ru" else "місяць вказується як") in bad


def test_an_empty_month_shows_no_data_charts_and_empty_tables(lead: Any,
                                                              october: October) -> None:
    html = lead.get("/reports?month=2025-01").get_data(as_text=True)
    tables = Tables(html).found
    assert tables["sla"][1][-1] == ["All priorities", "0", "0", "0", "0", "", "0", "0", "0", ""]
    assert tables["breaches"][1] == [] and tables["visitors"][1] == []
    assert "Nothing in this period." in html
    assert html.count("No data") >= 5  # the charts say so instead of drawing empty axes
    assert csv_of(lead, "breaches", "?month=2025-01")[1] == []
