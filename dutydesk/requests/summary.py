"""What a request's timeline adds up to, kept on the row once it is resolved (for reports).

``summarise_request(events, policy, now)`` replays one timeline into a ``RequestSummary``: the
first public reply (when, by whom), the final resolution (when, by whom) and the outcome of both
SLA clocks as ``request_clocks`` reads them at ``now`` — pauses while waiting for the requester,
reopenings and priority changes count exactly as on the request page.

The summary of a *resolved* request no longer changes (both clocks have stopped), so
``dutydesk.requests.store.act`` stores it in the row when the request is resolved
(``summary_columns``) and clears it when it is reopened; the reports read it back with
``summary_from_columns`` and replay only the open requests.

Outcomes reuse the incidents' definitions (``dutydesk.incidents.summary``): ``met`` (stopped
under the target), ``breached`` (reached the target, stopped or not), ``open`` (running or
paused, under the target so far).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dutydesk.core.stopwatch import Reading
from dutydesk.incidents.summary import ClockOutcome, Outcome
from dutydesk.requests.events import EventKind, RequestEvent
from dutydesk.requests.sla import RequestSlaError, RequestSlaPolicy, request_clocks

__all__ = ["ClockOutcome", "Outcome", "RequestSummary", "summarise_request"]


@dataclass(frozen=True, slots=True)
class RequestSummary:
    first_response_at: datetime | None = None  # the desk's first public reply
    first_response_by: str | None = None  # lower-case actor
    resolved_at: datetime | None = None  # the final resolution (None while open)
    resolved_by: str | None = None
    response: ClockOutcome | None = None  # None: no usable SLA policy or timeline
    resolve: ClockOutcome | None = None


def clock_outcome(reading: Reading) -> ClockOutcome:
    """``met`` / ``breached`` / ``open`` for one request clock reading (the incidents' rule)."""
    return ClockOutcome.judged(breached=reading.breached, running=reading.running_now,
                               paused=reading.paused, elapsed=reading.elapsed,
                               target=reading.target)


def summarise_request(events: Sequence[RequestEvent], policy: RequestSlaPolicy | None,
                      now: datetime) -> RequestSummary:
    """Replay ``events`` (one request's timeline) as of ``now``; an unusable policy or timeline
    leaves the clock outcomes ``None`` rather than guessing."""
    first_at = first_by = resolved_at = resolved_by = None
    for event in sorted(events, key=lambda e: e.at):
        if event.at > now:
            break
        if event.kind is EventKind.REPLIED and first_at is None:
            first_at, first_by = event.at, event.actor.lower()
        elif event.kind is EventKind.RESOLVED:
            resolved_at, resolved_by = event.at, event.actor.lower()
        elif event.kind is EventKind.REOPENED:
            resolved_at = resolved_by = None
    response = resolve = None
    if policy is not None and events:
        try:
            clocks = request_clocks(policy, events, now)
        except RequestSlaError:
            clocks = None
        if clocks is not None:
            response, resolve = (clock_outcome(clocks.first_response),
                                 clock_outcome(clocks.resolve))
    return RequestSummary(first_at, first_by, resolved_at, resolved_by, response, resolve)


def policy_of_snapshot(snapshot: Mapping[str, Any] | None) -> RequestSlaPolicy:
    """The SLA policy stored on a request when it came in (the defaults for older rows)."""
    if not snapshot:
        return RequestSlaPolicy()
    try:
        return RequestSlaPolicy.from_minutes(snapshot)
    except RequestSlaError:
        return RequestSlaPolicy()


#: The request columns a stored summary fills (all NULL while the request is open).
SUMMARY_COLUMNS = (
    "first_response_at", "first_response_by", "resolved_by", "sla_response_seconds",
    "sla_response_target_seconds", "sla_response_breached", "sla_resolve_seconds",
    "sla_resolve_target_seconds", "sla_resolve_breached",
)


def summary_columns(summary: RequestSummary | None) -> dict[str, Any]:
    """Column values storing ``summary`` of a resolved request; ``None`` clears them all.
    Only a summary with both clock outcomes is stored (``sla_resolve_target_seconds`` NOT NULL
    marks one); without it, readers replay the timeline."""
    if summary is None or summary.response is None or summary.resolve is None:
        return dict.fromkeys(SUMMARY_COLUMNS)
    return {
        "first_response_at": summary.first_response_at,
        "first_response_by": (summary.first_response_by or "")[:200] or None,
        "resolved_by": (summary.resolved_by or "")[:200] or None,
        "sla_response_seconds": summary.response.elapsed_s,
        "sla_response_target_seconds": summary.response.target_s,
        "sla_response_breached": summary.response.outcome is Outcome.BREACHED,
        "sla_resolve_seconds": summary.resolve.elapsed_s,
        "sla_resolve_target_seconds": summary.resolve.target_s,
        "sla_resolve_breached": summary.resolve.outcome is Outcome.BREACHED,
    }


def summary_from_columns(row: Mapping[str, Any]) -> RequestSummary | None:
    """The stored summary of a resolved request row (which also names ``resolved_at``), or
    ``None`` when none is stored."""
    if row.get("sla_resolve_target_seconds") is None:
        return None

    def clock(prefix: str) -> ClockOutcome:
        breached = bool(row[f"sla_{prefix}_breached"])
        return ClockOutcome(Outcome.BREACHED if breached else Outcome.MET,
                            float(row[f"sla_{prefix}_seconds"]),
                            float(row[f"sla_{prefix}_target_seconds"]))

    return RequestSummary(row["first_response_at"], row["first_response_by"],
                          row["resolved_at"], row["resolved_by"], clock("response"),
                          clock("resolve"))
