"""Flap detection: weighted percent state change with start/stop hysteresis.

The model is the one Nagios and Icinga users know. Every result records one boolean: did the
status differ from the previous result's status? The last ``states - 1`` booleans (20 for the
usual 21 states) form the history, oldest first. Each position has a weight rising linearly from
0.8 (oldest) to 1.2 (newest), so recent changes count more and an old burst fades out gradually
instead of dropping off a cliff. The weights average exactly 1.0, so

    percent = 100 * (sum of weights where the status changed) / (states - 1)

is 0 % for a steady check and 100 % for one that changes on every run. A check *starts* flapping
when the percentage rises above the high threshold and *stops* only when it falls below the low
threshold; in between it keeps whatever it was (hysteresis), so a check hovering around one
threshold does not flap in and out of "flapping".

Missing history (a new check) counts as "no change": a check needs several real changes before it
can flap. All functions are pure.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

OLDEST_WEIGHT = 0.8
NEWEST_WEIGHT = 1.2


def _changes_for(states: int) -> int:
    if states < 2:
        raise ValueError(f"flap history must cover at least 2 states, got {states}")
    return states - 1


@functools.cache  # a handful of distinct history lengths; called on every result
def flap_weights(states: int) -> tuple[float, ...]:
    """Weights of the ``states - 1`` change slots, oldest first, linear from 0.8 to 1.2."""
    slots = _changes_for(states)
    if slots == 1:
        return (1.0,)
    step = (NEWEST_WEIGHT - OLDEST_WEIGHT) / (slots - 1)
    return tuple(OLDEST_WEIGHT + step * i for i in range(slots))


def record_change(history: Sequence[bool], changed: bool, states: int) -> tuple[bool, ...]:
    """Append one change flag (newest last) and keep only the last ``states - 1`` flags."""
    slots = _changes_for(states)
    return (*history, changed)[-slots:]


def percent_state_change(history: Sequence[bool], states: int) -> float:
    """Weighted percent state change (0..100) of ``history`` (change flags, oldest first).

    A history shorter than ``states - 1`` is padded with "no change" at the old end; a longer one
    is cut to its newest ``states - 1`` flags.
    """
    slots = _changes_for(states)
    if not any(history):
        return 0.0  # the usual case of a steady check: nothing to weigh
    recent = list(history)[-slots:]
    padded = [False] * (slots - len(recent)) + recent
    weighted = sum(w for w, changed in zip(flap_weights(states), padded, strict=True) if changed)
    # Round away float noise (e.g. 29.999999999) so threshold comparisons match hand arithmetic.
    return round(100.0 * weighted / slots, 6)


def is_flapping(was_flapping: bool, percent: float, low: float, high: float) -> bool:
    """Hysteresis: start above ``high``, stop below ``low``, otherwise keep ``was_flapping``."""
    if was_flapping:
        return not percent < low
    return percent > high
