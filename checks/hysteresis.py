"""Metric thresholds with recovery hysteresis, so a value hovering at a threshold does not flap.

Example (direction "above"): server room temperature, WARNING above 27 °C, CRITICAL above 30 °C,
recover below 25 °C. A room at 28 °C is WARNING; when it cools to 26 °C it stays WARNING (it has
not recovered yet); only below 25 °C is it OK again. A room that was fine and warms to 26 °C stays
OK: the band between 25 and 27 keeps whatever the previous judgement was.

Direction "below" mirrors this for values that are bad when low, e.g. UPS battery minutes
remaining: WARNING below 15 min, CRITICAL below 5 min, recover above 20 min.

Rules, for "above" (mirror everything for "below"):

1. ``value > critical`` -> CRITICAL; else ``value > warning`` -> WARNING. Triggers are strict:
   exactly 27 °C is not "above 27".
2. Otherwise, if the previous status was a problem (WARNING or CRITICAL) and the value has not
   yet fallen strictly below ``recover``, the problem is held: WARNING if a warning threshold is
   configured (the value is past the critical trigger no more), else CRITICAL.
3. Otherwise OK.

A missing or NaN value is UNKNOWN. ``recover=None`` disables hysteresis (recover at the trigger).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from itertools import pairwise

from checks.result import Status


class ThresholdError(ValueError):
    """Thresholds that contradict each other; the message names the fields and values."""


class Direction(enum.StrEnum):
    ABOVE = "above"  # bad when high (temperature, load %)
    BELOW = "below"  # bad when low (battery minutes, free disk)


def _number_or_none(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ThresholdError(f"{name} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class MetricThresholds:
    """Warning/critical triggers and the recovery point for one metric.

    ``metric`` names the value in messages ("temperature", "battery minutes remaining").
    For ``direction="above"`` the order must be ``recover <= warning <= critical``; for
    ``"below"`` it is ``critical <= warning <= recover``. At least one trigger is required.
    """

    warning: float | None = None
    critical: float | None = None
    recover: float | None = None
    direction: Direction = Direction.ABOVE
    metric: str = "value"

    def __post_init__(self) -> None:
        try:
            direction = Direction(self.direction)
        except ValueError:
            raise ThresholdError(
                f"direction must be 'above' or 'below', got {self.direction!r}"
            ) from None
        warning = _number_or_none("warning", self.warning)
        critical = _number_or_none("critical", self.critical)
        recover = _number_or_none("recover", self.recover)
        if warning is None and critical is None:
            raise ThresholdError(f"{self.metric}: set a warning or a critical threshold (or both)")
        # Listed from the "good" end to the "bad" end, so each must not be worse than the next.
        ordered = [("recover", recover), ("warning", warning), ("critical", critical)]
        present = [(n, v) for n, v in ordered if v is not None]
        for (name_a, a), (name_b, b) in pairwise(present):
            wrong = a > b if direction is Direction.ABOVE else a < b
            if wrong:
                relation = "at or below" if direction is Direction.ABOVE else "at or above"
                raise ThresholdError(
                    f"{self.metric}: {name_a} ({a:g}) must be {relation} {name_b} ({b:g}) "
                    f"when direction is '{direction.value}'"
                )
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "warning", warning)
        object.__setattr__(self, "critical", critical)
        object.__setattr__(self, "recover", recover)

    def _beyond(self, value: float, limit: float | None) -> bool:
        if limit is None:
            return False
        return value > limit if self.direction is Direction.ABOVE else value < limit

    def _recovered(self, value: float) -> bool:
        if self.recover is None:
            return True
        if self.direction is Direction.ABOVE:
            return value < self.recover
        return value > self.recover


@dataclass(frozen=True, slots=True)
class MetricVerdict:
    status: Status
    reason: str


def assess_metric(
    value: float | None, thresholds: MetricThresholds, previous_status: Status | None
) -> MetricVerdict:
    """Judge ``value`` with hysteresis and say why, e.g. "temperature 26 has not recovered
    (needs below 25; was CRITICAL)". ``previous_status`` is the last judgement of this metric
    (``None`` if there was none)."""
    t = thresholds
    name = t.metric
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MetricVerdict(Status.UNKNOWN, f"{name}: no value")
    word = t.direction.value
    if t._beyond(value, t.critical):
        return MetricVerdict(Status.CRITICAL, f"{name} {value:g} is {word} {t.critical:g}")
    if t._beyond(value, t.warning):
        return MetricVerdict(Status.WARNING, f"{name} {value:g} is {word} {t.warning:g}")
    was_problem = previous_status in (Status.WARNING, Status.CRITICAL)
    if was_problem and not t._recovered(value):
        held = Status.WARNING if t.warning is not None else Status.CRITICAL
        need = "below" if t.direction is Direction.ABOVE else "above"
        assert previous_status is not None and t.recover is not None
        return MetricVerdict(
            held,
            f"{name} {value:g} has not recovered (needs {need} {t.recover:g}; "
            f"was {previous_status.name})",
        )
    return MetricVerdict(Status.OK, f"{name} {value:g} is OK")


def judge_with_hysteresis(
    value: float | None, thresholds: MetricThresholds, previous_status: Status | None
) -> Status:
    """The status of ``value`` given the previous judgement; see the module docstring."""
    return assess_metric(value, thresholds, previous_status).status
