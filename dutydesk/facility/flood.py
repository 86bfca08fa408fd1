"""Per-source rate limiting that folds a flood into one alert with a count.

``FloodGate.admit(source, now)`` answers whether one more message from ``source`` may go on
(at most ``limit`` per one-second window). What it refuses is counted; ``drain(now)`` returns
the flood alerts to raise: one firing alert per flooding source (its count grows with each
drain) and a resolving one when the source has been quiet for ``quiet`` seconds. Pure: the
caller passes a monotonic ``now`` and turns ``Flood`` values into alerts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flood:
    source: str
    dropped: int  # refused since the flood began
    ongoing: bool  # False: the source has been quiet long enough, resolve


@dataclass
class _Window:
    start: float
    count: int = 0


class FloodGate:
    """At most ``limit`` messages per second per source; the rest are counted, not processed."""

    def __init__(self, limit: int, quiet: float = 60.0, max_sources: int = 100_000) -> None:
        self.limit = limit
        self.quiet = quiet
        self.max_sources = max_sources
        self._windows: dict[str, _Window] = {}
        self._dropped: dict[str, int] = {}  # per flooding source, since its flood began
        self._new: dict[str, int] = {}  # refused since the last drain
        self._last_refused: dict[str, float] = {}

    def admit(self, source: str, now: float) -> bool:
        window = self._windows.get(source)
        if window is None or now - window.start >= 1.0:
            if window is None and len(self._windows) >= self.max_sources:
                self._prune(now)
            window = self._windows[source] = _Window(now)
        window.count += 1
        if window.count <= self.limit:
            return True
        self._new[source] = self._new.get(source, 0) + 1
        self._last_refused[source] = now
        return False

    def _prune(self, now: float) -> None:
        for source in [s for s, w in self._windows.items() if now - w.start >= 1.0]:
            del self._windows[source]

    def drain(self, now: float) -> list[Flood]:
        """Floods with new refusals (ongoing) and floods that ended (quiet long enough)."""
        floods = []
        for source, count in self._new.items():
            self._dropped[source] = self._dropped.get(source, 0) + count
            floods.append(Flood(source, self._dropped[source], True))
        self._new.clear()
        for source in list(self._dropped):
            if now - self._last_refused[source] >= self.quiet:
                floods.append(Flood(source, self._dropped.pop(source), False))
                del self._last_refused[source]
        self._prune(now)
        return floods
