"""The report period and filters from a query string: local months, ranges, refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dutydesk.reports.period import (
    Filters,
    ReportError,
    month_period,
    parse_filters,
    parse_period,
    query_string,
)

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_kyiv_month_runs_from_local_midnight_to_local_midnight() -> None:
    period = month_period("2026-10", KYIV)
    # Kyiv is UTC+3 on 1 October and UTC+2 after the clocks go back on 25 October.
    assert period.start == datetime(2026, 9, 30, 21, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
    assert (period.first_day, period.last_day, period.days) == (
        date(2026, 10, 1), date(2026, 10, 31), 31)
    assert period.label == "2026-10"


def test_the_month_is_the_default_and_follows_the_site_zone_not_utc() -> None:
    # 22:30 UTC on 31 October is already 1 November in Kyiv.
    period = parse_period({}, KYIV, datetime(2026, 10, 31, 22, 30, tzinfo=UTC))
    assert period.month == "2026-11"


def test_december_ends_at_the_first_of_january() -> None:
    period = month_period("2026-12", ZoneInfo("UTC"))
    assert period.end == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_range_includes_both_its_days() -> None:
    period = parse_period({"from": "2026-11-02", "to": "2026-11-08"}, KYIV, NOW)
    assert period.start == datetime(2026, 11, 1, 22, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 8, 22, 0, tzinfo=UTC)
    assert period.days == 7 and period.month is None
    assert period.label == "2026-11-02 – 2026-11-08"
    assert period.query() == {"from": "2026-11-02", "to": "2026-11-08"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"month": "2026-13"}, "month must look like 2026-11"),
        ({"month": "11.2026"}, "month must look like 2026-11"),
        ({"month": "2026-1"}, "month must look like 2026-11"),
        ({"from": "2026-11-05", "to": "2026-11-01"}, "from (2026-11-05) is after to (2026-11-01)"),
        ({"from": "2026-11-01"}, "needs both from and to"),
        ({"from": "yesterday", "to": "2026-11-01"}, "from must be a date"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from must be a date"),
        ({"month": "2026-11", "from": "2026-11-01", "to": "2026-11-02"}, "not both"),
        ({"from": "2025-01-01", "to": "2026-11-01"}, "at most 367 days"),
    ],
)
def test_bad_periods_are_refused_with_a_message(args: dict[str, str], message: str) -> None:
    with pytest.raises(ReportError) as caught:
        parse_period(args, KYIV, NOW)
    assert message in str(caught.value)


def test_filters_are_normalised_and_checked() -> None:
    filters = parse_filters({"priority": "p2", "service": " Mail ", "line": "second_line",
                             "engineer": "Anna@DC.example"}, ["anna@dc.example"])
    assert filters == Filters(service="Mail", priority="P2", line="second_line",
                              engineer="anna@dc.example")
    assert parse_filters({}) == Filters() and not Filters().any


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"priority": "P5"}, "priority must be P1, P2, P3 or P4"),
        ({"line": "third_line"}, "line must be first_line or second_line"),
        ({"engineer": "nobody@dc.example"}, "no engineer with the login"),
    ],
)
def test_bad_filters_are_refused_with_a_message(args: dict[str, str], message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_filters(args, ["anna@dc.example"])


def test_the_query_string_selects_the_same_report_again() -> None:
    period = month_period("2026-10", KYIV)
    filters = Filters(priority="P1", service="Mail & more")
    assert query_string(period, filters) == "month=2026-10&service=Mail+%26+more&priority=P1"
