"""Incident priority from impact × urgency (ITIL), and default urgencies per alert source.

Impact says how much is affected, urgency how fast it hurts. Both run from 1 (high) to 3 (low).

====================  ================  ================  ================
impact \\ urgency       1 high            2 medium          3 low
====================  ================  ================  ================
**1 high**            **P1**            **P2**            **P3**
**2 medium**          **P2**            **P3**            **P4**
**3 low**             **P3**            **P4**            **P4**
====================  ================  ================  ================

(The classic ITIL 3×3 grid with its P5 corner folded into P4: DutyDesk has four priorities.)

Impact examples: 1 = a hall, a whole customer or a shared service (power, cooling, core network)
is down; 2 = one system or a group of customers; 3 = one device with redundancy left.

Default urgency of a new incident comes from what raised it:

=================================  ==========================  ===========
source                             value                       urgency
=================================  ==========================  ===========
check state                        CRITICAL                    1 high
check state                        WARNING, UNKNOWN            2 medium
severity (PagerDuty, normalised    critical, error             1 high
Alertmanager label)                warning                     2 medium
                                   info                        3 low
=================================  ==========================  ===========

PagerDuty itself treats critical and error as high urgency; we follow it. Alertmanager's
free-form ``severity`` label is normalised first (``Severity.from_label``: ``page`` → critical,
unknown → warning). Impact defaults to the service's configured impact (medium when unset); both
can be edited on the incident, which re-computes the priority.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from dutydesk.incidents.alerts.model import Severity


class PriorityError(ValueError):
    """An impact, urgency or priority value is out of range."""


class Impact(enum.IntEnum):
    HIGH = 1
    MEDIUM = 2
    LOW = 3


class Urgency(enum.IntEnum):
    HIGH = 1
    MEDIUM = 2
    LOW = 3


class Priority(enum.IntEnum):
    """P1 (most urgent) .. P4. ``str(Priority.P1) == "P1"``; parse with ``Priority.parse``."""

    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, value: object) -> Priority:
        """Accept ``Priority.P2``, ``2``, ``"2"``, ``"P2"`` or ``"p2"``."""
        if isinstance(value, Priority):
            return value
        text = str(value).strip().upper().removeprefix("P")
        if not isinstance(value, bool) and text in ("1", "2", "3", "4"):
            return cls(int(text))
        raise PriorityError(f"priority must be one of P1, P2, P3, P4, got {value!r}")


_LEVEL_NAMES = "1 (high), 2 (medium) or 3 (low)"
_Level = TypeVar("_Level", Impact, Urgency)

# Spelled out cell by cell (not a formula) so the code reads like the table in the docstring.
PRIORITY_MATRIX: dict[tuple[Impact, Urgency], Priority] = {
    (Impact.HIGH, Urgency.HIGH): Priority.P1,
    (Impact.HIGH, Urgency.MEDIUM): Priority.P2,
    (Impact.HIGH, Urgency.LOW): Priority.P3,
    (Impact.MEDIUM, Urgency.HIGH): Priority.P2,
    (Impact.MEDIUM, Urgency.MEDIUM): Priority.P3,
    (Impact.MEDIUM, Urgency.LOW): Priority.P4,
    (Impact.LOW, Urgency.HIGH): Priority.P3,
    (Impact.LOW, Urgency.MEDIUM): Priority.P4,
    (Impact.LOW, Urgency.LOW): Priority.P4,
}


def parse_impact(value: object) -> Impact:
    """``Impact`` from 1..3 (int or digit string); anything else raises ``PriorityError``."""
    return _level(Impact, value, "impact")


def parse_urgency(value: object) -> Urgency:
    """``Urgency`` from 1..3 (int or digit string); anything else raises ``PriorityError``."""
    return _level(Urgency, value, "urgency")


def _level(kind: type[_Level], value: object, name: str) -> _Level:
    if isinstance(value, kind):
        return value
    if isinstance(value, bool):
        raise PriorityError(f"{name} must be {_LEVEL_NAMES}, got {value!r}")
    try:
        return kind(int(str(value).strip()))
    except ValueError:
        raise PriorityError(f"{name} must be {_LEVEL_NAMES}, got {value!r}") from None


def priority_for(impact: Impact | int, urgency: Urgency | int) -> Priority:
    """The matrix cell for ``impact`` × ``urgency`` (see the module docstring)."""
    return PRIORITY_MATRIX[(parse_impact(impact), parse_urgency(urgency))]


def urgency_for_check_status(status_name: str) -> Urgency:
    """Default urgency for an incident raised by a check in ``status_name``.

    CRITICAL → high, WARNING and UNKNOWN → medium. OK never opens an incident; it is refused.
    """
    name = str(status_name).upper()
    if name == "CRITICAL":
        return Urgency.HIGH
    if name in ("WARNING", "UNKNOWN"):
        return Urgency.MEDIUM
    raise PriorityError(
        f"only WARNING, CRITICAL or UNKNOWN checks open incidents, got {status_name!r}"
    )


def urgency_for_severity(severity: Severity | str) -> Urgency:
    """Default urgency for a PagerDuty severity (or a normalised alert severity)."""
    try:
        severity = Severity(severity)
    except ValueError:
        raise PriorityError(
            f"severity must be critical, error, warning or info, got {severity!r}"
        ) from None
    if severity in (Severity.CRITICAL, Severity.ERROR):
        return Urgency.HIGH
    if severity is Severity.WARNING:
        return Urgency.MEDIUM
    return Urgency.LOW


def urgency_for_alertmanager_severity(label: str | None) -> Urgency:
    """Default urgency for an Alertmanager alert's free-form ``severity`` label."""
    return urgency_for_severity(Severity.from_label(label))


def default_priority(*, urgency: Urgency | int, impact: Impact | int | None = None) -> Priority:
    """Priority for a new incident: the service's impact (medium when unset) × ``urgency``."""
    return priority_for(Impact.MEDIUM if impact is None else impact, urgency)
