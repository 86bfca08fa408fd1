"""The combination of what a check's locations saw (checks.locations.combine), case by case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checks.locations import Seen, combine, fresh_window
from checks.result import Status

NOW = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
WINDOW = fresh_window(60, 10)  # 130 s
FRESH, STALE = NOW - timedelta(seconds=30), NOW - timedelta(seconds=131)
OK, WARN, CRIT, UNK = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN


def seen(*rows: tuple[str, Status, datetime | None]) -> list[Seen]:
    return [Seen(name, status, "x", at) for name, status, at in rows]


CASES = [
    # one location, k=1: its own status, as without locations
    (seen(("centre", CRIT, FRESH)), 1, CRIT, "down from 1 of 1 locations"),
    # one of three down with k=2: still up, the one that sees a problem is named
    (seen(("a", CRIT, FRESH), ("b", OK, FRESH), ("c", OK, FRESH)), 2, OK,
     "up: fewer than 2 of 3 locations see it down: a CRITICAL x; b OK x, c OK x"),
    # every fresh location up
    (seen(("a", OK, FRESH), ("b", OK, FRESH)), 1, OK, "up from 2 of 2 locations: a OK x, b OK x"),
    # two of three down with k=2: down, both named
    (seen(("a", CRIT, FRESH), ("b", CRIT, FRESH), ("c", OK, FRESH)), 2, CRIT,
     "down from 2 of 3 locations: a CRITICAL x, b CRITICAL x; c OK x"),
    # one CRITICAL and one WARNING with k=2: two see a problem, the milder one wins
    (seen(("a", CRIT, FRESH), ("b", WARN, FRESH), ("c", OK, FRESH)), 2, WARN,
     "warning from 2 of 3 locations"),
    # a stale CRITICAL does not count: 1 fresh CRITICAL of 2 is below k=2
    (seen(("a", CRIT, STALE), ("b", CRIT, FRESH), ("c", OK, FRESH)), 2, OK, "stale: a"),
    # a stale OK does not count either: the only fresh one is down, k=1
    (seen(("a", OK, STALE), ("b", CRIT, FRESH)), 1, CRIT, "down from 1 of 1 locations"),
    # nothing fresh (all probes offline, never run): UNKNOWN, never up or down
    (seen(("a", CRIT, STALE), ("b", OK, None)), 1, UNK, "no fresh results from any location"),
    # UNKNOWN from a location is not down
    (seen(("a", UNK, FRESH), ("b", CRIT, FRESH)), 2, OK,
     "up: fewer than 2 of 2 locations see it down: a UNKNOWN x, b CRITICAL x"),
    # a result exactly at the edge of the window is still fresh
    (seen(("a", CRIT, NOW - WINDOW)), 1, CRIT, "down from 1 of 1"),
]


@pytest.mark.parametrize(("rows", "k", "status", "words"), CASES)
def test_combine(rows: list[Seen], k: int, status: Status, words: str) -> None:
    got, message = combine(rows, k, NOW, WINDOW)
    assert got is status
    assert words in message
