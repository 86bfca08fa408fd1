"""How one check is judged over time: intervals, attempts and flap detection settings.

A ``CheckPolicy`` is configuration, not state: it comes from YAML or the web UI, is validated once
on construction, and is passed to the pure state machine (:func:`checks.state.next_state`) with
every result. The defaults follow Icinga 2 where an Icinga user would expect them (max_attempts 3,
flap thresholds 25 %/30 %, flap history of 21 states) and are tightened to a data-center poller
(interval 60 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Shortest allowed check and retry interval; faster polling is a load problem, not monitoring.
MIN_INTERVAL_S = 5.0
#: Longest allowed interval: a check that runs less than daily is not a check any more.
MAX_INTERVAL_S = 86_400.0
MAX_ATTEMPTS_LIMIT = 100
#: Flap history bounds, counted in check results (states). 21 states hold 20 state changes.
MIN_FLAP_HISTORY = 3
MAX_FLAP_HISTORY = 64


class PolicyError(ValueError):
    """A check policy value is out of range; the message names field, value and what is allowed."""


def _finite_number(name: str, value: object) -> float:
    # bool is an int subclass; "interval: true" in YAML is a mistake, not 1 second.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise PolicyError(f"{name} must be a finite number, got {value!r}")
    return number


def _whole_number(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{name} must be a whole number, got {value!r}")
    return value


def _check_interval(name: str, value: object) -> float:
    seconds = _finite_number(name, value)
    if seconds < MIN_INTERVAL_S:
        raise PolicyError(f"{name} must be at least {MIN_INTERVAL_S:g} s, got {value!r}")
    if seconds > MAX_INTERVAL_S:
        raise PolicyError(f"{name} must be at most {MAX_INTERVAL_S:g} s (one day), got {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """Validated judgement settings of one check.

    - ``interval``: seconds between runs while the check is OK or in a HARD state.
    - ``retry_interval``: seconds between runs while a problem is still SOFT (being confirmed).
      ``None`` (the default) means ``min(interval, 30 s)``; after construction it is always a float.
    - ``max_attempts``: how many non-OK results in a row make a problem HARD. 1 means the first
      non-OK result is already HARD (no confirmation).
    - ``flap_detection``: whether flap detection runs at all.
    - ``flap_low_threshold`` / ``flap_high_threshold``: percent state change; flapping starts when
      the weighted change rate rises above the high threshold and stops only when it falls below
      the low one (hysteresis).
    - ``flap_history_states``: how many recent results flap detection looks at (21 states hold 20
      state changes, as in Icinga/Nagios).

    Raises :class:`PolicyError` with a message such as "interval must be at least 5 s, got 0".
    """

    interval: float = 60.0
    retry_interval: float | None = None
    max_attempts: int = 3
    flap_detection: bool = True
    flap_low_threshold: float = 25.0
    flap_high_threshold: float = 30.0
    flap_history_states: int = 21

    def __post_init__(self) -> None:
        interval = _check_interval("interval", self.interval)
        retry = (
            min(interval, 30.0)
            if self.retry_interval is None
            else _check_interval("retry_interval", self.retry_interval)
        )
        attempts = _whole_number("max_attempts", self.max_attempts)
        if not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
            raise PolicyError(
                f"max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, "
                f"got {self.max_attempts!r}"
            )
        if not isinstance(self.flap_detection, bool):
            raise PolicyError(f"flap_detection must be true or false, got {self.flap_detection!r}")
        low = _finite_number("flap_low_threshold", self.flap_low_threshold)
        high = _finite_number("flap_high_threshold", self.flap_high_threshold)
        for name, value in (("flap_low_threshold", low), ("flap_high_threshold", high)):
            if not 0.0 <= value <= 100.0:
                raise PolicyError(f"{name} must be a percentage between 0 and 100, got {value:g}")
        if low > high:
            raise PolicyError(
                f"flap_low_threshold ({low:g} %) must not be above "
                f"flap_high_threshold ({high:g} %)"
            )
        states = _whole_number("flap_history_states", self.flap_history_states)
        if not MIN_FLAP_HISTORY <= states <= MAX_FLAP_HISTORY:
            raise PolicyError(
                f"flap_history_states must be between {MIN_FLAP_HISTORY} and "
                f"{MAX_FLAP_HISTORY}, got {self.flap_history_states!r}"
            )
        # Normalise to floats so equality and serialisation do not depend on YAML int/float.
        object.__setattr__(self, "interval", interval)
        object.__setattr__(self, "retry_interval", retry)
        object.__setattr__(self, "flap_low_threshold", low)
        object.__setattr__(self, "flap_high_threshold", high)

    @property
    def retry_seconds(self) -> float:
        """The effective retry interval in seconds (never ``None`` after validation)."""
        assert self.retry_interval is not None  # set in __post_init__
        return self.retry_interval
