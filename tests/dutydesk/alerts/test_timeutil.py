"""Timestamp parsing as senders write them, and the refusal of naive datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dutydesk.core.timeutil import TimestampError, ensure_utc, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC), id="zulu"),
        pytest.param(
            "2024-05-01T12:00:00.123456789Z",
            datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
            id="go-nanoseconds",
        ),
        pytest.param(
            "2024-05-01T15:00:00+03:00",
            datetime(2024, 5, 1, 12, tzinfo=UTC),
            id="offset-with-colon",
        ),
        pytest.param(
            "2015-07-17T08:42:58.315+0000",
            datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC),
            id="pagerduty-example",
        ),
        pytest.param(
            "2024-05-01 12:00:00-0130",
            datetime(2024, 5, 1, 13, 30, tzinfo=UTC),
            id="space-and-negative-offset",
        ),
        pytest.param("0001-01-01T00:00:00Z", None, id="go-zero-time-is-unset"),
    ],
)
def test_timestamps_parse_to_aware_utc(text, expected):
    parsed = parse_timestamp(text, "startsAt")
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("2024-05-01T12:00:00", "RFC 3339 timestamp", id="no-zone"),
        pytest.param("2024-05-01", "RFC 3339 timestamp", id="date-only"),
        pytest.param("2024-13-01T00:00:00Z", "not a real date", id="month-13"),
        pytest.param("2024-05-01T12:00:00+25:00", "impossible zone offset", id="offset-25h"),
        pytest.param(1714564800, "must be a string timestamp, got a number", id="epoch-number"),
    ],
)
def test_unusable_timestamps_name_the_field(value, message):
    with pytest.raises(TimestampError, match=f"startsAt .*{message}|startsAt {message}"):
        parse_timestamp(value, "startsAt")


def test_ensure_utc_converts_aware_and_refuses_naive():
    kyiv = timezone(timedelta(hours=3))
    assert ensure_utc(datetime(2024, 5, 1, 15, tzinfo=kyiv), "now") == datetime(
        2024, 5, 1, 12, tzinfo=UTC
    )
    with pytest.raises(TimestampError, match="now must be timezone-aware"):
        ensure_utc(datetime(2024, 5, 1), "now")
    with pytest.raises(TimestampError, match="now must be a datetime, got str"):
        ensure_utc("2024-05-01", "now")  # type: ignore[arg-type]
