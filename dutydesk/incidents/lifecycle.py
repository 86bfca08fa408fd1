"""The incident lifecycle as one pure function: ``apply(state, action, actor, now, **fields)``.

States and the actions that move between them::

                 acknowledge                  resolve (note)
    triggered ───────────────▶ acknowledged ────────────────▶ resolved
        ▲  ◀───────────────────     │                            │
        │   unacknowledge (reason)  │ pending (reason)           │ reopen
        │                           ▼                            │
        │                        pending ── resume ──▶ acknowledged (or triggered if
        │                                               it was never acknowledged)
        └────────────────────────────────────────────────────────┘

- ``pending`` (waiting on a customer or vendor) needs a reason; SLA clocks pause while pending.
- ``resolve`` needs a resolution note, from any open state (an auto-resolve passes its own).
- ``acknowledge`` on a resolved incident is refused ("reopen it first"); a second acknowledge is
  refused naming who acknowledged first, so concurrent acks get a clear answer.
- ``reassign`` moves the incident between first and second line (and/or to a person) with a
  reason; it does not change the status. A *hand-back* is a move to a line the incident was
  already assigned to before (first → second → first): ``ping_pong_count`` counts them.
- ``change_priority``, ``note`` and ``escalate`` only add timeline events (plus the priority).

A refused action raises ``TransitionRefused`` (answer 409: the request was fine, the incident's
state forbids it); a bad request raises ``InvalidAction`` (answer 400: missing reason, unknown
field...). Storing the new state with compare-and-set is the caller's job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dutydesk.core.timeutil import TimestampError, ensure_utc
from dutydesk.incidents.events import EventKind, IncidentEvent, IncidentStatus
from dutydesk.incidents.priority import Priority, PriorityError


class LifecycleError(ValueError):
    """Base of lifecycle errors; ``code`` is a stable machine-readable reason."""

    code = "lifecycle_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidAction(LifecycleError):
    """The request itself is wrong (unknown action/field, missing reason or note): HTTP 400."""

    code = "invalid"


class TransitionRefused(LifecycleError):
    """The incident's current state forbids the action (already acked, resolved...): HTTP 409."""

    code = "conflict"


class Line(enum.StrEnum):
    FIRST = "first_line"
    SECOND = "second_line"


class Action(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    UNACKNOWLEDGE = "unacknowledge"
    PENDING = "pending"
    RESUME = "resume"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    CHANGE_PRIORITY = "change_priority"
    NOTE = "note"
    ESCALATE = "escalate"


# Which keyword fields each action accepts; required ones must be non-blank strings.
_FIELDS: dict[Action, tuple[frozenset[str], frozenset[str]]] = {
    # action: (required, optional)
    # snooze_minutes: acknowledged for that long only, then triggered again (a page's "Snooze")
    Action.ACKNOWLEDGE: (frozenset(), frozenset({"snooze_minutes", "via"})),
    Action.UNACKNOWLEDGE: (frozenset({"reason"}), frozenset()),
    Action.PENDING: (frozenset({"reason"}), frozenset()),
    Action.RESUME: (frozenset(), frozenset()),
    # via: "link" or "mail" when a person acted from a page (kept on the event)
    Action.RESOLVE: (frozenset({"note"}), frozenset({"via"})),
    # returned_after_s: the pipeline re-opens an auto-resolved incident whose problem came back
    # (seconds since the resolve); people's forms and the API only pass a reason.
    Action.REOPEN: (frozenset(), frozenset({"reason", "returned_after_s"})),
    Action.REASSIGN: (frozenset({"reason"}), frozenset({"line", "assignee"})),
    Action.CHANGE_PRIORITY: (frozenset({"priority"}), frozenset({"reason"})),
    Action.NOTE: (frozenset({"text"}), frozenset()),
    Action.ESCALATE: (frozenset(), frozenset({"reason", "via"})),
}

_MISSING_MESSAGES = {
    (Action.PENDING, "reason"): (
        "a reason is required to set an incident pending (e.g. 'waiting for the vendor')"
    ),
    (Action.RESOLVE, "note"): "a resolution note is required to resolve an incident",
    (Action.REASSIGN, "reason"): "a reason is required to reassign an incident",
    (Action.UNACKNOWLEDGE, "reason"): "a reason is required to withdraw an acknowledgement",
    (Action.NOTE, "text"): "a note must not be empty",
    (Action.CHANGE_PRIORITY, "priority"): "a new priority (P1..P4) is required",
}

#: How a person acted when not on a screen or the API: a page's link, a reply to a page.
VIA = ("link", "mail")

_OPEN = frozenset({IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED, IncidentStatus.PENDING})


@dataclass(frozen=True, slots=True)
class IncidentState:
    """What the lifecycle needs to know about an incident (stored as columns by the shell).

    ``lines_seen`` lists the lines the incident has been assigned to, in first-assignment order;
    ``ping_pong_count`` is the number of hand-backs to a line already in ``lines_seen``.
    """

    status: IncidentStatus
    priority: Priority
    line: Line = Line.FIRST
    assignee: str | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    pending_reason: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution_note: str | None = None
    lines_seen: tuple[Line, ...] = (Line.FIRST,)
    ping_pong_count: int = 0
    reopen_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN


def open_incident(
    *,
    priority: Priority | str | int,
    actor: str,
    now: datetime,
    line: Line | str = Line.FIRST,
    assignee: str | None = None,
) -> tuple[IncidentState, list[IncidentEvent]]:
    """A new triggered incident and its ``triggered`` timeline event."""
    now = _now(now)
    actor = _actor(actor)
    priority = _priority(priority)
    line = _line(line)
    state = IncidentState(
        status=IncidentStatus.TRIGGERED,
        priority=priority,
        line=line,
        assignee=assignee or None,
        lines_seen=(line,),
    )
    data = {"priority": str(priority), "line": line.value, "assignee": assignee or ""}
    return state, [IncidentEvent(EventKind.TRIGGERED, now, actor, data)]


def apply(
    state: IncidentState,
    action: Action | str,
    actor: str,
    now: datetime,
    **fields: Any,
) -> tuple[IncidentState, list[IncidentEvent]]:
    """Apply ``action`` by ``actor`` at ``now``; return the new state and its timeline events.

    Fields per action: unacknowledge(reason), pending(reason), resolve(note), reopen([reason]),
    reassign(reason, [line], [assignee]), change_priority(priority, [reason]), note(text),
    escalate([reason]). Raises ``InvalidAction`` or ``TransitionRefused`` (see module docstring).
    """
    try:
        action = Action(action)
    except ValueError:
        allowed = ", ".join(a.value for a in Action)
        raise InvalidAction(f"unknown action {action!r}; use one of {allowed}") from None
    now = _now(now)
    actor = _actor(actor)
    values = _check_fields(action, fields)
    via = values.pop("via", None)
    if via is not None and via not in VIA:
        raise InvalidAction(f"via must be one of {', '.join(VIA)}, got {via!r}")
    new, events = _HANDLERS[action](state, actor, now, values)
    if via is not None and events:  # the person acted from a page: the timeline says so
        first = events[0]
        events[0] = IncidentEvent(first.kind, first.at, first.actor, {**first.data, "via": via})
    return new, events


# --- handlers -----------------------------------------------------------------------------------


def _acknowledge(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    if state.status is IncidentStatus.RESOLVED:
        resolved = _by_at(state.resolved_by, state.resolved_at)
        raise TransitionRefused(
            f"cannot acknowledge: the incident was resolved{resolved}; reopen it first",
            "resolved",
        )
    if state.status is IncidentStatus.ACKNOWLEDGED:
        raise TransitionRefused(
            f"already acknowledged{_by_at(state.acknowledged_by, state.acknowledged_at)}",
            "already_acknowledged",
        )
    if state.status is IncidentStatus.PENDING:
        raise TransitionRefused(
            f"cannot acknowledge: the incident is pending ({state.pending_reason}); "
            "resume it instead",
            "pending",
        )
    data: dict[str, Any] = {}
    if "snooze_minutes" in values:
        minutes = values["snooze_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 1440:
            raise InvalidAction(
                f"snooze_minutes must be a whole number from 1 to 1440, got {minutes!r}")
        data["snooze_minutes"] = minutes
    new = replace(
        state, status=IncidentStatus.ACKNOWLEDGED, acknowledged_by=actor, acknowledged_at=now
    )
    return new, [IncidentEvent(EventKind.ACKNOWLEDGED, now, actor, data)]


def _unacknowledge(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    if state.status is not IncidentStatus.ACKNOWLEDGED:
        raise TransitionRefused(
            f"cannot withdraw the acknowledgement: the incident is {state.status.value}",
            "not_acknowledged",
        )
    new = replace(
        state, status=IncidentStatus.TRIGGERED, acknowledged_by=None, acknowledged_at=None
    )
    event = IncidentEvent(EventKind.UNACKNOWLEDGED, now, actor, {"reason": values["reason"]})
    return new, [event]


def _pending(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    if state.status is IncidentStatus.PENDING:
        raise TransitionRefused(
            f"the incident is already pending ({state.pending_reason})", "already_pending"
        )
    _refuse_if_resolved(state, "set pending")
    new = replace(state, status=IncidentStatus.PENDING, pending_reason=values["reason"])
    return new, [IncidentEvent(EventKind.PENDING, now, actor, {"reason": values["reason"]})]


def _resume(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    if state.status is not IncidentStatus.PENDING:
        raise TransitionRefused(
            f"cannot resume: the incident is {state.status.value}, not pending", "not_pending"
        )
    # Back to where it was: somebody already owns it if it was acknowledged before pending.
    status = IncidentStatus.ACKNOWLEDGED if state.acknowledged_by else IncidentStatus.TRIGGERED
    new = replace(state, status=status, pending_reason=None)
    return new, [IncidentEvent(EventKind.RESUMED, now, actor, {"status": status.value})]


def _resolve(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    if state.status is IncidentStatus.RESOLVED:
        raise TransitionRefused(
            f"already resolved{_by_at(state.resolved_by, state.resolved_at)}",
            "already_resolved",
        )
    new = replace(
        state,
        status=IncidentStatus.RESOLVED,
        pending_reason=None,
        resolved_by=actor,
        resolved_at=now,
        resolution_note=values["note"],
    )
    return new, [IncidentEvent(EventKind.RESOLVED, now, actor, {"note": values["note"]})]


def _reopen(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    if state.status is not IncidentStatus.RESOLVED:
        raise TransitionRefused(
            f"cannot reopen: the incident is {state.status.value}, not resolved", "not_resolved"
        )
    new = replace(
        state,
        status=IncidentStatus.TRIGGERED,
        acknowledged_by=None,
        acknowledged_at=None,
        resolved_by=None,
        resolved_at=None,
        resolution_note=None,
        reopen_count=state.reopen_count + 1,
    )
    data: dict[str, Any] = {"reason": values.get("reason", "")}
    if "returned_after_s" in values:
        after = values["returned_after_s"]
        if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
            raise InvalidAction(f"returned_after_s must be a number of seconds, got {after!r}")
        data["returned_after_s"] = int(after)
    return new, [IncidentEvent(EventKind.REOPENED, now, actor, data)]


def line_move(
    current: Line, target: Line, lines_seen: tuple[Line, ...]
) -> tuple[bool, tuple[Line, ...]]:
    """A move from ``current`` to ``target`` line: whether it is a hand-back (ping-pong: back to
    a line already worked on) and the lines seen afterwards. Incidents and requests count
    ping-pong with this one rule."""
    hand_back = target is not current and target in lines_seen
    return hand_back, lines_seen if target in lines_seen else (*lines_seen, target)


def _reassign(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    _refuse_if_resolved(state, "reassign")
    if "line" not in values and "assignee" not in values:
        raise InvalidAction("reassign needs a line (first_line/second_line) or an assignee")
    line = _line(values["line"]) if "line" in values else state.line
    assignee = values.get("assignee", state.assignee if line is state.line else None) or None
    if line is state.line and assignee == state.assignee:
        who = f" ({assignee})" if assignee else ""
        raise TransitionRefused(
            f"the incident is already assigned to {line.value}{who}", "already_assigned"
        )
    hand_back, lines_seen = line_move(state.line, line, state.lines_seen)
    new = replace(
        state,
        line=line,
        assignee=assignee,
        lines_seen=lines_seen,
        ping_pong_count=state.ping_pong_count + (1 if hand_back else 0),
    )
    data = {
        "from_line": state.line.value,
        "to_line": line.value,
        "from_assignee": state.assignee or "",
        "to_assignee": assignee or "",
        "reason": values["reason"],
        "hand_back": hand_back,
    }
    return new, [IncidentEvent(EventKind.REASSIGNED, now, actor, data)]


def _change_priority(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    priority = _priority(values["priority"])
    if priority is state.priority:
        raise TransitionRefused(f"the priority is already {priority}", "same_priority")
    new = replace(state, priority=priority)
    data = {"from": str(state.priority), "to": str(priority), "reason": values.get("reason", "")}
    return new, [IncidentEvent(EventKind.PRIORITY_CHANGED, now, actor, data)]


def _note(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    return state, [IncidentEvent(EventKind.NOTE, now, actor, {"text": values["text"]})]


def _escalate(state: IncidentState, actor: str, now: datetime, values: dict) -> _Result:
    _refuse_if_resolved(state, "escalate")
    reason = values.get("reason", "")
    return state, [IncidentEvent(EventKind.ESCALATED, now, actor, {"reason": reason})]


_Result = tuple[IncidentState, list[IncidentEvent]]

_HANDLERS = {
    Action.ACKNOWLEDGE: _acknowledge,
    Action.UNACKNOWLEDGE: _unacknowledge,
    Action.PENDING: _pending,
    Action.RESUME: _resume,
    Action.RESOLVE: _resolve,
    Action.REOPEN: _reopen,
    Action.REASSIGN: _reassign,
    Action.CHANGE_PRIORITY: _change_priority,
    Action.NOTE: _note,
    Action.ESCALATE: _escalate,
}


# --- helpers ------------------------------------------------------------------------------------


def _check_fields(action: Action, fields: dict[str, Any]) -> dict[str, Any]:
    required, optional = _FIELDS[action]
    unknown = sorted(set(fields) - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional)) or "none"
        raise InvalidAction(
            f"unknown field {unknown[0]!r} for action {action.value!r}; allowed: {allowed}"
        )
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        values[name] = value
    for name in sorted(required):
        if name not in values:
            message = _MISSING_MESSAGES.get(
                (action, name), f"{name} is required for action {action.value!r}"
            )
            raise InvalidAction(message, f"missing_{name}")
    for name in ("reason", "note", "text", "assignee"):
        if name in values and not isinstance(values[name], str):
            raise InvalidAction(f"{name} must be text, got {type(values[name]).__name__}")
    return values


def _refuse_if_resolved(state: IncidentState, verb: str) -> None:
    if state.status is IncidentStatus.RESOLVED:
        raise TransitionRefused(
            f"cannot {verb}: the incident was resolved"
            f"{_by_at(state.resolved_by, state.resolved_at)}; reopen it first",
            "resolved",
        )


def _by_at(who: str | None, when: datetime | None) -> str:
    text = f" by {who}" if who else ""
    if when is not None:
        text += f" at {when:%Y-%m-%d %H:%M} UTC"
    return text


def _now(now: datetime) -> datetime:
    try:
        return ensure_utc(now, "now")
    except TimestampError as exc:
        raise InvalidAction(str(exc)) from None


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise InvalidAction("an actor (who is doing this) is required")
    return actor.strip()


def _priority(value: object) -> Priority:
    try:
        return Priority.parse(value)
    except PriorityError as exc:
        raise InvalidAction(str(exc)) from None


def _line(value: object) -> Line:
    try:
        return Line(value)
    except ValueError:
        raise InvalidAction(f"line must be first_line or second_line, got {value!r}") from None
