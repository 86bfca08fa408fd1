"""The condition language: what passes, what fails and how a failure explains itself."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from checks.conditions import NOT_JSON, ConditionError, evaluate_conditions, parse_condition

HEALTHY = {
    "status": 200,
    "response_time": 0.042,
    "body": '{"state": "up"} all OK',
    "json": {"state": "up", "items": [{"name": "a", "count": 3}], "tags": ["prod", "db"],
             "ready": True, "note": None, "load": 0.75},
    "headers": CIMultiDict({"Content-Type": "application/json; charset=utf-8"}),
    "cert_expiry": 60 * 86400.0,
}

BROKEN = {
    "status": 503,
    "response_time": 1.5,
    "body": "Service error: database down",
    "json": {"state": "down", "items": [], "tags": ["staging"]},
    "headers": CIMultiDict({"Content-Type": "text/html"}),
    "cert_expiry": 9.5 * 86400,
}


@pytest.mark.parametrize(
    ("text", "explanation"),
    [
        ("status == 200", "status (503) == 200"),
        ("status in (200, 204)", "status (503) in (200, 204)"),
        ("status < 500", "status (503) < 500"),
        ("response_time < 300ms", "response_time (1.5s) < 300ms"),
        ("response_time <= 1s", "response_time (1.5s) <= 1s"),
        ('body contains "OK"', 'body ("Service error: database down") contains "OK"'),
        ('body not contains "error"',
         'body ("Service error: database down") not contains "error"'),
        ('json $.state == "up"', 'json $.state ("down") == "up"'),
        ("json $.items[0].count >= 3", "json $.items[0].count (missing) >= 3"),
        ('json $.tags contains "prod"', 'json $.tags (["staging"]) contains "prod"'),
        ("cert_expiry > 14d", "cert_expiry (9.5d) > 14d"),
        ('header Content-Type contains "json"',
         'header Content-Type ("text/html") contains "json"'),
    ],
)
def test_a_failing_condition_shows_the_value_it_saw(text: str, explanation: str) -> None:
    condition = parse_condition(text)
    assert condition.failure(HEALTHY) is None
    assert condition.failure(BROKEN) == explanation


def test_a_missing_header_fails_and_says_missing() -> None:
    condition = parse_condition('header X-Request-Id != ""')
    assert condition.failure(HEALTHY) == 'header X-Request-Id (missing) != ""'
    assert condition.failure({"headers": {"x-request-id": "abc"}}) is None


@pytest.mark.parametrize(
    "text",
    [
        "status == 200",
        "status != 503",
        "status in (200, 204)",
        "status not in (500, 502, 503)",
        "status >= 200",
        "response_time < 300ms",
        "response_time < 1h30m",  # compound durations are fine
        "cert_expiry > 14d",
        'body contains "OK"',
        'body not contains "error"',
        'json $.state == "up"',
        "json $.items[0].count == 3",
        'json $.items[0]["name"] == "a"',
        "json $.load < 0.9",
        "json $.ready == true",
        "json $.note == null",
        'json $.tags contains "db"',
        'json $.state in ("up", "degraded")',
        'header content-type contains "json"',  # header names are case-insensitive
    ],
)
def test_a_healthy_response_passes(text: str) -> None:
    assert parse_condition(text).failure(HEALTHY) is None


def test_json_number_is_not_equal_to_the_same_text() -> None:
    # "3" in a body is not the number 3: a typed API should say which it means
    assert parse_condition('json $.count == "3"').failure({"json": {"count": 3}}) is not None
    assert parse_condition("json $.count == 3").failure({"json": {"count": 3}}) is None


def test_json_true_is_not_the_number_one() -> None:
    assert parse_condition("json $.flag == 1").failure({"json": {"flag": True}}) is not None


def test_a_body_that_is_not_json_fails_json_conditions_with_a_reason() -> None:
    failure = parse_condition('json $.state == "up"').failure({"json": NOT_JSON})
    assert failure == 'json $.state (body is not JSON) == "up"'


def test_cert_expiry_on_plain_http_is_unavailable() -> None:
    failure = parse_condition("cert_expiry > 14d").failure({"status": 200, "cert_expiry": None})
    assert failure == "cert_expiry (unavailable) > 14d"


def test_ordering_on_text_fails_with_a_note_instead_of_crashing() -> None:
    failure = parse_condition("json $.state > 3").failure({"json": {"state": "up"}})
    assert failure == 'json $.state ("up", not a number) > 3'


def test_long_bodies_are_shortened_in_explanations() -> None:
    failure = parse_condition('body contains "OK"').failure({"body": "x" * 5000})
    assert failure is not None
    assert len(failure) < 100
    assert "…" in failure


def test_all_conditions_must_pass_and_each_failure_is_listed() -> None:
    conditions = [parse_condition(t) for t in
                  ("status == 200", 'body contains "OK"', "response_time < 300ms")]
    assert evaluate_conditions(conditions, HEALTHY) == []
    assert evaluate_conditions(conditions, BROKEN) == [
        "status (503) == 200",
        'body ("Service error: database down") contains "OK"',
        "response_time (1.5s) < 300ms",
    ]


def test_quoted_text_may_contain_escaped_quotes() -> None:
    condition = parse_condition(r'body contains "say \"hi\""')
    assert condition.failure({"body": 'they say "hi" here'}) is None


@pytest.mark.parametrize(
    ("text", "column", "reason_part"),
    [
        ("status = 200", 8, "use '=='"),
        ("status == ", 11, "expected a value"),
        ("stauts == 200", 1, "unknown subject 'stauts'"),
        ('status == "200"', 11, "status compares numbers"),
        ("response_time < 300", 17, "give a unit"),  # bare numbers are ambiguous (ms or s?)
        ("cert_expiry > 14", 15, "give a unit"),
        ("body contains OK", 15, 'put text in quotes: "OK"'),
        ("body < 3", 6, "body cannot use '<'"),
        ("status contains 2", 8, "status cannot use 'contains'"),
        ("json state == 1", 6, "JSON path"),
        ("json $.a..b == 1", 9, "bad JSON path"),
        ("status == 200 200", 15, "unexpected '200'"),
        ("status in 200", 11, "expected '('"),
        ("status in (200, 204", 20, "expected ',' or ')'"),
        ('body contains "abc', 15, "not closed"),
        ("status == 300x", 11, "bad number"),
        ("status not == 200", 12, "expected 'in' or 'contains'"),
        ("header == 1", 8, "header name"),
        ("", 1, "non-empty"),
    ],
)
def test_parse_errors_name_the_column_and_the_reason(
    text: str, column: int, reason_part: str
) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert caught.value.column == column
    assert reason_part in caught.value.reason
    assert f"column {column}" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_condition_keeps_its_source_text_for_export() -> None:
    assert parse_condition("  status == 200").text == "  status == 200"
