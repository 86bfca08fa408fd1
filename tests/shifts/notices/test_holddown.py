"""Status page hold-down: a service's public state changes only once the new state has held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from checks.result import Status
from shifts.notices.holddown import held_status

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
HOLD = timedelta(minutes=2)
OK, CRIT = Status.OK, Status.CRITICAL


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("changes", "now", "released", "shown"),
    [
        # nothing changed: the state before
        ([], m(10), [], OK),
        # down for 1 minute so far: not yet
        ([(m(0), CRIT)], m(1), [], OK),
        # down for 2 minutes: shown
        ([(m(0), CRIT)], m(2), [], CRIT),
        # down 45 s, up 45 s, down 45 s...: every state too short, the page stays green
        ([(m(0.75 * i), CRIT if i % 2 == 0 else OK) for i in range(20)], m(15), [], OK),
        # an outage that held, then a recovery only 30 s old: still shown as down
        ([(m(0), CRIT), (m(5), OK)], m(5.5), [], CRIT),
        # a person published a notice update while it was down: shown at once
        ([(m(0), CRIT)], m(0.5), [m(0.25)], CRIT),
        # a publication before the change does not release it
        ([(m(1), CRIT)], m(1.5), [m(0.5)], OK),
    ],
)
def test_the_shown_state_is_the_latest_that_held(
    changes: list[tuple[datetime, Status]], now: datetime, released: list[datetime],
    shown: Status,
) -> None:
    assert held_status(OK, changes, now, HOLD, released) is shown


def test_no_hold_shows_every_change_at_once() -> None:
    assert held_status(OK, [(m(0), CRIT)], m(0), timedelta(0)) is CRIT
