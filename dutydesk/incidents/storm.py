"""Storm control: at most N pages per person and channel in M minutes; the rest in one digest.

When a hundred alerts fire at once, a person's phone must not ring a hundred times, and none of
the alerts may be lost. Per contact channel (a person's email address, webhook, chat):

- a P1 page always goes out at once (and still counts against the limit);
- any other page goes out if fewer than ``limit`` pages went to that channel in the last
  ``window`` (``page_now``); otherwise it is *held*;
- held pages are folded into one digest message ("14 more alerts: …") once the oldest of them
  waited one ``window`` (``digest_due``), so a storm costs a person at most ``limit`` pages plus
  one digest per window.

The decisions are pure with ``now`` passed in; ``dutydesk.incidents.paging`` keeps the ledger
(``page_ledger``) and writes pages and digests to the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dutydesk.incidents.priority import Priority

DIGEST_LINES = 50
"""A digest names at most this many alerts; it counts the rest ("… and 12 more")."""


@dataclass(frozen=True, slots=True)
class StormPolicy:
    """``limit`` pages per channel in ``window``; P1 is never held."""

    limit: int = 10
    window: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"page limit must be at least 1, got {self.limit}")
        if self.window <= timedelta(0):
            raise ValueError(f"page limit window must be positive, got {self.window}")


def page_now(
    policy: StormPolicy, sent: Sequence[datetime], priority: Priority, now: datetime
) -> bool:
    """Send this page now (True) or hold it for the digest (False)?

    ``sent``: when earlier pages went to the same channel (older ones are ignored).
    """
    if priority is Priority.P1:
        return True
    since = now - policy.window
    recent = sum(1 for at in sent if since < at <= now)
    return recent < policy.limit


def digest_due(policy: StormPolicy, held: Sequence[datetime], now: datetime) -> bool:
    """Is it time to fold the held pages (held at ``held``) into one digest?"""
    return bool(held) and now >= min(held) + policy.window


def digest_message(subjects: Sequence[str]) -> tuple[str, str]:
    """Subject and body of the digest for ``subjects`` (the held pages' subjects, oldest first)."""
    count = len(subjects)
    noun = "alert" if count == 1 else "alerts"
    shown = list(subjects[:DIGEST_LINES])
    first = shown[0] if shown else ""
    subject = f"{count} more {noun}: {first}" + (" …" if count > 1 else "")
    lines = [f"{count} more {noun} while your pages were limited (storm control):", ""]
    lines += [f"- {line}" for line in shown]
    if count > len(shown):
        lines.append(f"… and {count - len(shown)} more")
    return subject[:500], "\n".join(lines) + "\n"
