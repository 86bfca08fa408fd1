"""Status page hold-down: a service in ``auto`` mode shows a new state only once it has held.

A check that flaps every 45 seconds must not make the employees' status page headline flicker
between "All systems operational" and "Major outage: VPN". Each linked check's state, as the
page shows it, changes only after the new state has held for ``hold`` (default 2 minutes), or
when a person publishes a notice update about the service (a person has looked; the state at
that instant is shown at once). While the check engine reports the check as *flapping* the page
keeps what was last announced for it (the engine holds its alert flips meanwhile).

The uptime bars are not held: they still record every real outage from the flips
(:func:`.checklinks.outages_from_flips`). Pure functions; ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from checks.result import Status as CheckStatus

DEFAULT_HOLD = timedelta(minutes=2)


def held_status(
    initial: CheckStatus,
    changes: Sequence[tuple[datetime, CheckStatus]],
    now: datetime,
    hold: timedelta,
    released: Iterable[datetime] = (),
) -> CheckStatus:
    """The state to show: the latest of ``changes`` (time order) that held for ``hold`` (until
    the next change, or ``now`` for the last one), or that was in force when a person published
    (``released`` instants); ``initial`` (the state before the first change) otherwise."""
    released = sorted(released)
    shown = initial
    for index, (at, status) in enumerate(changes):
        end = changes[index + 1][0] if index + 1 < len(changes) else now
        if end - at >= hold or any(at <= moment <= end for moment in released):
            shown = status
    return shown
