"""Noise decisions of the incident stage: a returning problem and a flapping check.

**Re-open instead of re-create.** A problem that comes back within ``window`` after its incident
was resolved *automatically* (its source reported recovery) re-opens that incident: the timeline
says "problem returned after 3 min", ``returns_count`` grows, and nobody already paged for it
is paged again. An incident a person resolved is a closed case: a new alert opens a new one.

**Flapping = one incident.** The check engine tells the pipeline when a check starts and stops
flapping (``flapping_started``/``flapping_stopped`` flips; problem and recovery flips are held
while it flaps). The alert built from such a flip carries ``details["flapping"]`` = ``started``
or ``stopped``. While an incident is flapping it stays open and pages nobody; flapping starting
pages once, flapping ending pages once with the final state (a recovery resolves it). Any other
alert for a flapping incident (the engine's "settled after flapping stopped" flip, when it
arrives without or after the ``stopped`` one) also ends the flapping, so either order ends it
exactly once.

All functions are pure; ``now`` is passed in.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from dutydesk.incidents.alerts.model import Alert, AlertSource

AUTOMATIC_ACTORS = frozenset(source.value for source in AlertSource) - {AlertSource.MANUAL.value}
"""Who resolves an incident when its source reports recovery (the pipeline's actor names)."""


def returned_after(
    resolved_by: str | None,
    resolved_at: datetime | None,
    now: datetime,
    window: timedelta,
) -> timedelta | None:
    """How long after an automatic resolve the problem came back, or ``None`` when the incident
    must not be re-opened (resolved by a person, not resolved, or longer ago than ``window``).

    A zero ``window`` turns re-opening off.
    """
    if resolved_at is None or resolved_by not in AUTOMATIC_ACTORS or window <= timedelta(0):
        return None
    after = now - resolved_at
    if after < timedelta(0) or after > window:
        return None
    return after


class FlapChange(enum.StrEnum):
    """What an alert does to an incident's flapping mark."""

    NONE = "none"
    STARTS = "starts"
    ENDS = "ends"


def flap_change(alert: Alert, incident_flapping: bool) -> FlapChange:
    """Does ``alert`` start or end flapping on an incident whose mark is ``incident_flapping``?"""
    marker = alert.details.get("flapping")
    if marker == "started":
        return FlapChange.NONE if incident_flapping else FlapChange.STARTS
    if incident_flapping:
        return FlapChange.ENDS  # "stopped", or the settle flip when "stopped" came earlier/never
    return FlapChange.NONE
