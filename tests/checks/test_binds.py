"""The engine's fast timestamp binder stores exactly what the model's UTCDateTime stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from checks.binds import FastUTCDateTime
from dutydesk.core.db import UTCDateTime

SAMPLES = [
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2))),  # converted to UTC
    None,
]


def _bind(type_: object, dialect: object, value: object) -> object:
    process = type_._cached_bind_processor(dialect)  # type: ignore[attr-defined]
    return process(value) if process else value


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()],
                         ids=["sqlite", "postgresql"])
@pytest.mark.parametrize("value", SAMPLES)
def test_the_fast_binder_binds_what_utcdatetime_binds(dialect: object, value: object) -> None:
    assert _bind(FastUTCDateTime(), dialect, value) == _bind(UTCDateTime(), dialect, value)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()],
                         ids=["sqlite", "postgresql"])
def test_a_naive_timestamp_is_refused(dialect: object) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        _bind(FastUTCDateTime(), dialect, datetime(2026, 1, 1, 12, 0))
