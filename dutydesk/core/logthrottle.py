"""Repeated failures logged once, not once per retry.

A loop that retries every half second (the engine claiming checks, writing results) fails on
every pass while the database is down: with a traceback each time, the log grew by thousands of
lines a second and buried the first, useful one. :class:`FailureLog` logs the first failure of a
kind with its traceback, then counts the same failure quietly and says how many there were at
most once per ``every`` seconds, and logs the recovery with the count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Streak:
    kind: str
    started: float
    last_logged: float
    count: int = 1
    told: int = 1


class FailureLog:
    """Throttled logging of one loop's failures, keyed by what failed (``"claim"``, ...).

    ``clock`` is monotonic seconds (passed in so tests can drive it)."""

    def __init__(self, logger: logging.Logger, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.every, self.clock = logger, every, clock
        self._streaks: dict[str, _Streak] = {}

    def failed(self, key: str, message: str, *args: object) -> None:
        """Call from an ``except`` block. The first failure of a streak (or one of another
        exception type) is logged with its traceback; the same failure again only as a
        one-line count, at most once per ``every`` seconds."""
        import sys

        exc = sys.exc_info()[1]
        kind = type(exc).__name__ if exc is not None else "error"
        now = self.clock()
        streak = self._streaks.get(key)
        if streak is None or streak.kind != kind:
            self._streaks[key] = _Streak(kind, now, now)
            self.log.error(message, *args, exc_info=exc is not None)
            return
        streak.count += 1
        if now - streak.last_logged >= self.every:
            first = str(exc).splitlines()[0] if exc is not None and str(exc) else kind
            self.log.error(message + " (still failing: %d times in %.0f s; %s: %s)", *args,
                           streak.count, now - streak.started, kind, first)
            streak.last_logged, streak.told = now, streak.count

    def recovered(self, key: str, message: str = "%s works again after %d failures in %.0f s"
                  ) -> None:
        """Call after a pass that worked: ends the streak, logging it if there was one."""
        streak = self._streaks.pop(key, None)
        if streak is not None:
            self.log.warning(message, key, streak.count, self.clock() - streak.started)
