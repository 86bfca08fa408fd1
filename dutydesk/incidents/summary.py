"""What an incident's timeline adds up to, kept on the row once it is resolved (for reports).

``summarise(events, policy, now)`` replays a timeline into a ``TimelineSummary``: the first
acknowledgement (when, by whom), the final resolution, the moves between the lines, and the
outcome of both SLA clocks as ``sla_clock`` reads them at ``now`` — so pauses while pending,
reopenings and priority changes count exactly as on the incident page.

Replaying every timeline of a month (thousands of incidents, tens of thousands of events) is
what made the monthly report slow, so the summary of a *resolved* incident is stored in its
row (``summary_columns``) by ``dutydesk.incidents.store.act`` when it is resolved, cleared when
it is reopened, and read back with ``summary_from_columns``. A resolved incident's summary no
longer changes: both clocks have stopped, and a stopped clock keeps its priority's target.
Open incidents are still replayed (their clocks run).

Definitions:

- SLA **outcome** of a clock: ``met`` (stopped under its target), ``breached`` (reached its
  target, stopped or not), ``open`` (running or paused, under its target so far). Elapsed
  times are the clocks' own (pending time does not count).
- **Moves between the lines**: ``reassigned`` events that change the line; ``hand_backs``
  (ping-pong) are those with ``hand_back`` (back to a line the incident had been on).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.sla import ClockStatus, SlaError, SlaPolicy, sla_clock


class Outcome(enum.StrEnum):
    MET = "met"
    BREACHED = "breached"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class ClockOutcome:
    """One SLA clock as of the summary: outcome, elapsed and target in seconds."""

    outcome: Outcome
    elapsed_s: float
    target_s: float

    @classmethod
    def judged(cls, *, breached: bool, running: bool, paused: bool, elapsed: timedelta,
               target: timedelta) -> ClockOutcome:
        """The one rule for incidents' and requests' clocks: breached wins, a clock still
        running or paused is open, a stopped one in time is met."""
        outcome = (Outcome.BREACHED if breached else
                   Outcome.OPEN if running or paused else Outcome.MET)
        return cls(outcome, elapsed.total_seconds(), target.total_seconds())


@dataclass(frozen=True, slots=True)
class TimelineSummary:
    first_ack_at: datetime | None = None
    first_ack_by: str | None = None  # lower-case actor (a login for people)
    resolved_at: datetime | None = None  # the final resolution (None while open)
    resolved_by: str | None = None
    line_moves: int = 0
    moves_to_second_line: int = 0
    hand_backs: int = 0
    ack: ClockOutcome | None = None  # None: no usable SLA policy or timeline
    resolve: ClockOutcome | None = None

    @property
    def moves_to_first_line(self) -> int:
        return self.line_moves - self.moves_to_second_line


def clock_outcome(reading: ClockStatus) -> ClockOutcome:
    """``met`` / ``breached`` / ``open`` for one clock reading (module docstring)."""
    return ClockOutcome.judged(breached=reading.breached, running=reading.running,
                               paused=reading.paused, elapsed=reading.elapsed,
                               target=reading.target)


def summarise(events: Sequence[IncidentEvent], policy: SlaPolicy | None,
              now: datetime) -> TimelineSummary:
    """Replay ``events`` (one incident's timeline, oldest first) as of ``now``.

    ``policy`` is the incident's SLA targets; ``None``, or a timeline the SLA code refuses,
    leaves the clock outcomes ``None`` rather than guessing.
    """
    first_ack_at = first_ack_by = resolved_at = resolved_by = None
    moves = to_second = hand_backs = 0
    for event in events:
        if event.at > now:
            break
        kind = event.kind
        if kind is EventKind.ACKNOWLEDGED and first_ack_at is None:
            first_ack_at, first_ack_by = event.at, event.actor.lower()
        elif kind is EventKind.RESOLVED:
            resolved_at, resolved_by = event.at, event.actor.lower()
        elif kind is EventKind.REOPENED:
            resolved_at = resolved_by = None
        elif kind is EventKind.REASSIGNED:
            data = event.data
            if data.get("from_line") != data.get("to_line"):
                moves += 1
                to_second += data.get("to_line") == "second_line"
                hand_backs += bool(data.get("hand_back"))
    ack = resolve = None
    if policy is not None and events:
        try:
            status = sla_clock(policy, events, now)
        except SlaError:
            status = None
        if status is not None:
            ack, resolve = clock_outcome(status.acknowledge), clock_outcome(status.resolve)
    return TimelineSummary(first_ack_at, first_ack_by, resolved_at, resolved_by, moves,
                           to_second, hand_backs, ack, resolve)


def policy_of_snapshot(snapshot: Mapping[str, Any] | None) -> SlaPolicy | None:
    """The SLA policy an incident's ``sla_targets`` snapshot describes; ``None`` if it has none
    (or an unusable one): then only the configured targets can tell, which the caller knows."""
    if not snapshot:
        return None
    try:
        targets = {k: v for k, v in snapshot.items() if k != "warn_at"}
        return SlaPolicy.from_minutes(targets, warn_at=float(snapshot.get("warn_at", 0.75)))
    except (SlaError, TypeError, ValueError):
        return None


#: The incident columns a stored summary fills (all NULL while the incident is open).
SUMMARY_COLUMNS = (
    "first_ack_at", "first_ack_by", "sla_ack_seconds", "sla_ack_target_seconds",
    "sla_ack_breached", "sla_resolve_seconds", "sla_resolve_target_seconds",
    "sla_resolve_breached", "line_moves", "moves_to_second_line",
)


def summary_columns(summary: TimelineSummary | None) -> dict[str, Any]:
    """Column values storing ``summary`` of a resolved incident; ``None`` clears them all.

    Only a summary with both clock outcomes is stored (``sla_ack_target_seconds`` NOT NULL
    is what marks a stored summary); without one, readers replay the timeline.
    """
    if summary is None or summary.ack is None or summary.resolve is None:
        return dict.fromkeys(SUMMARY_COLUMNS)
    return {
        "first_ack_at": summary.first_ack_at,
        "first_ack_by": (summary.first_ack_by or "")[:200] or None,
        "sla_ack_seconds": summary.ack.elapsed_s,
        "sla_ack_target_seconds": summary.ack.target_s,
        "sla_ack_breached": summary.ack.outcome is Outcome.BREACHED,
        "sla_resolve_seconds": summary.resolve.elapsed_s,
        "sla_resolve_target_seconds": summary.resolve.target_s,
        "sla_resolve_breached": summary.resolve.outcome is Outcome.BREACHED,
        "line_moves": summary.line_moves,
        "moves_to_second_line": summary.moves_to_second_line,
    }


def summary_from_columns(row: Mapping[str, Any]) -> TimelineSummary | None:
    """The stored summary of a resolved incident row, or ``None`` if none is stored.

    ``row`` also needs ``resolved_at``, ``resolved_by`` and ``ping_pong_count`` (hand-backs,
    which the lifecycle counts on every reassignment).
    """
    if row.get("sla_ack_target_seconds") is None:
        return None

    def clock(prefix: str) -> ClockOutcome:
        breached = bool(row[f"sla_{prefix}_breached"])
        return ClockOutcome(Outcome.BREACHED if breached else Outcome.MET,
                            float(row[f"sla_{prefix}_seconds"]),
                            float(row[f"sla_{prefix}_target_seconds"]))

    return TimelineSummary(
        first_ack_at=row["first_ack_at"],
        first_ack_by=row["first_ack_by"],
        resolved_at=row["resolved_at"],
        resolved_by=(row["resolved_by"] or "").lower() or None,
        line_moves=int(row["line_moves"] or 0),
        moves_to_second_line=int(row["moves_to_second_line"] or 0),
        hand_backs=int(row["ping_pong_count"] or 0),
        ack=clock("ack"),
        resolve=clock("resolve"),
    )
