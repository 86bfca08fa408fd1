"""Delivery lanes: which outbox messages may start now without one slow receiver holding others.

A *lane* is where a message goes: one webhook host (``webhook:hooks.example:443``), the SMTP
relay (``email``: every mail goes through it), the Telegram API. A sender runs several
deliveries at once, bounded three ways (``Limits``):

- ``per_lane``: at most this many at once to one destination, so a webhook that never answers
  ties up only its own lane's slots (its other messages wait; nobody else's do);
- ``per_channel``: at most this many per channel (all webhooks together, all mail ...);
- ``total``: the sender's thread pool.

News about one thing to one receiver keeps its order: a sender has at most one message of a
*stream* (same target, same source — one incident, one notice) in flight, so "resolved" never
overtakes "opened" at the receiver. (Per sender process; several workers order by due time.)

P1 messages are never queued behind lower priorities: due messages are taken P1 first, and a P1
may use ``p1_reserve`` extra slots in its lane and in the pool, beyond the channel bound, so a lane
filled with P3 news still has room for a page. The bounds are per sender process.

``choose`` is pure: it takes the candidates (in the order the database gave them: priority,
then due time) and what is in flight, and returns those that may start now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

P1 = 1


class LaneError(ValueError):
    """Limits out of range."""


@dataclass(frozen=True, slots=True)
class Limits:
    per_lane: int = 16
    per_channel: int = 64
    total: int = 64
    p1_reserve: int = 4

    def __post_init__(self) -> None:
        for name in ("per_lane", "per_channel", "total"):
            if getattr(self, name) < 1:
                raise LaneError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.p1_reserve < 0:
            raise LaneError(f"p1_reserve must be at least 0, got {self.p1_reserve}")

    @property
    def threads(self) -> int:
        """Threads a sender needs: the pool plus the P1 reserve."""
        return self.total + self.p1_reserve


def lane_of(channel: str, target: str) -> str:
    """The lane of a message (pure). Webhooks and chat hooks: their host and port; mail and
    Telegram: the channel itself (one relay, one API)."""
    if channel in ("webhook", "slack"):
        try:
            parts = urlsplit(target.strip())
            port = parts.port or (443 if parts.scheme == "https" else 80)
            host = (parts.hostname or "").lower()
        except ValueError:  # unparseable URL: its own lane, it will fail on its own
            return f"{channel}:?{target[:200]}"
        return f"{channel}:{host}:{port}"[:300]
    return channel


class Candidate(Protocol):
    @property
    def channel(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def lane(self) -> str | None: ...
    @property
    def target(self) -> str: ...
    @property
    def source_type(self) -> str: ...
    @property
    def source_id(self) -> str: ...


@dataclass(slots=True)
class InFlight:
    """What a sender is delivering right now, counted per lane and channel."""

    lanes: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    total: int = 0
    streams: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, message: Candidate) -> None:
        self.lanes[lane_for(message)] += 1
        self.channels[message.channel] += 1
        self.streams[stream_of(message)] += 1
        self.total += 1

    def remove(self, message: Candidate) -> None:
        self.lanes[lane_for(message)] -= 1
        self.channels[message.channel] -= 1
        self.streams[stream_of(message)] -= 1
        self.total -= 1

    def copy(self) -> InFlight:
        return InFlight(Counter(self.lanes), Counter(self.channels), self.total,
                        Counter(self.streams))


def lane_for(message: Candidate) -> str:
    return message.lane or lane_of(message.channel, message.target)


def stream_of(message: Candidate) -> tuple[str, str, str]:
    """Messages that must arrive in order: one receiver, one source."""
    return (message.target, message.source_type, str(message.source_id))


def fits(message: Candidate, busy: InFlight, limits: Limits) -> bool:
    """May ``message`` start while ``busy`` is in flight? (pure)"""
    lane = lane_for(message)
    if busy.streams[stream_of(message)]:
        return False  # the previous news about this to this receiver is still on its way
    if message.priority <= P1:
        return (busy.lanes[lane] < limits.per_lane + limits.p1_reserve
                and busy.total < limits.threads)
    return (busy.lanes[lane] < limits.per_lane
            and busy.channels[message.channel] < limits.per_channel
            and busy.total < limits.total)


def choose(candidates: Iterable[Candidate], busy: InFlight, limits: Limits) -> list[Candidate]:
    """The candidates that may start now, in order, each counted in as it is taken (pure)."""
    taking = busy.copy()
    chosen: list[Candidate] = []
    for message in candidates:
        if fits(message, taking, limits):
            chosen.append(message)
            taking.add(message)
        if taking.total >= limits.threads:
            break
    return chosen


def full(busy: InFlight, limits: Limits) -> tuple[Sequence[str], Sequence[str], Sequence[str]]:
    """Lanes full for ordinary messages, channels full, lanes full even for P1 (for the query)."""
    lanes = [lane for lane, n in busy.lanes.items() if n >= limits.per_lane]
    channels = [channel for channel, n in busy.channels.items() if n >= limits.per_channel]
    p1_lanes = [lane for lane, n in busy.lanes.items() if n >= limits.per_lane + limits.p1_reserve]
    return lanes, channels, p1_lanes
