"""The request lifecycle as one pure function: ``apply(state, action, actor, now, **fields)``.

::

    new ──start/reply──▶ in_progress ──wait (reason)──▶ waiting ──resume / requester replies──┐
     │                      ▲   │                                                             │
     │                      └───┼─────────────────────────────────────────────────────────────┘
     └──────resolve (note)──────┴──▶ resolved ──close (requester confirms, or N days)──▶ closed
                                        │
                                        └── requester replies / reopen ──▶ in_progress

- ``wait`` (waiting for the requester) needs a reason; SLA clocks pause while waiting.
- The first public ``reply`` by the service desk is the *first response* (its SLA clock stops
  for good) and moves a new request to in progress.
- ``requester_reply`` resumes a waiting request and re-opens a resolved one; a closed request is
  final (the requester writes a new one), so a reply to it is refused.
- ``reassign`` moves the request between first and second line; hand-backs are counted with the
  incidents' rule (``dutydesk.incidents.lifecycle.line_move``).
- ``note`` is internal (never mailed), ``link``/``unlink`` tie the request to an incident.

Refusals raise the incidents' ``TransitionRefused`` (409); bad input ``InvalidAction`` (400), so
the web and API layers answer requests and incidents the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dutydesk.core.timeutil import TimestampError, ensure_utc
from dutydesk.incidents.lifecycle import InvalidAction, Line, TransitionRefused, line_move
from dutydesk.incidents.priority import Priority, PriorityError
from dutydesk.requests.events import EventKind, RequestEvent, RequestStatus

__all__ = ["Action", "InvalidAction", "RequestState", "TransitionRefused", "apply"]

MAX_TEXT = 20_000  # characters of one reply, note or description (a mail, not a log dump)


class Action(enum.StrEnum):
    START = "start"
    REPLY = "reply"
    REQUESTER_REPLY = "requester_reply"
    WAIT = "wait"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    CHANGE_PRIORITY = "change_priority"
    NOTE = "note"
    LINK = "link"
    UNLINK = "unlink"


_FIELDS: dict[Action, tuple[frozenset[str], frozenset[str]]] = {
    Action.START: (frozenset(), frozenset()),
    Action.REPLY: (frozenset({"text"}), frozenset()),
    Action.REQUESTER_REPLY: (frozenset({"text"}), frozenset()),
    Action.WAIT: (frozenset({"reason"}), frozenset()),
    Action.RESUME: (frozenset(), frozenset()),
    Action.RESOLVE: (frozenset({"note"}), frozenset({"incident_id", "article_id"})),
    Action.CLOSE: (frozenset(), frozenset({"reason"})),
    Action.REOPEN: (frozenset(), frozenset({"reason"})),
    Action.REASSIGN: (frozenset({"reason"}), frozenset({"line", "assignee"})),
    Action.CHANGE_PRIORITY: (frozenset({"priority"}), frozenset({"reason"})),
    Action.NOTE: (frozenset({"text"}), frozenset()),
    Action.LINK: (frozenset({"incident_id"}), frozenset()),
    Action.UNLINK: (frozenset(), frozenset()),
}

_MISSING = {
    (Action.WAIT, "reason"): "a reason is required to wait for the requester "
                             "(e.g. 'asked for the error message')",
    (Action.RESOLVE, "note"): "a resolution note is required to resolve a request",
    (Action.REASSIGN, "reason"): "a reason is required to hand a request to another line",
    (Action.REPLY, "text"): "a reply must not be empty",
    (Action.REQUESTER_REPLY, "text"): "a reply must not be empty",
    (Action.NOTE, "text"): "a note must not be empty",
}

OPEN = frozenset({RequestStatus.NEW, RequestStatus.IN_PROGRESS, RequestStatus.WAITING})


@dataclass(frozen=True, slots=True)
class RequestState:
    """What the lifecycle needs to know about a request (stored as columns by the store)."""

    status: RequestStatus
    priority: Priority
    line: Line = Line.FIRST
    assignee: str | None = None
    responded: bool = False  # the desk has answered publicly at least once
    waiting_reason: str | None = None
    incident_id: int | None = None
    lines_seen: tuple[Line, ...] = (Line.FIRST,)
    ping_pong_count: int = 0
    reopen_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


def new_request(*, priority: Priority | str | int, actor: str, now: datetime,
                line: Line | str = Line.FIRST, assignee: str | None = None,
                channel: str = "web") -> tuple[RequestState, list[RequestEvent]]:
    """A new request and its ``created`` event (which carries the priority for the SLA)."""
    now = _now(now)
    state = RequestState(status=RequestStatus.NEW, priority=_priority(priority),
                         line=_line(line), assignee=assignee or None, lines_seen=(_line(line),))
    data = {"priority": str(state.priority), "line": state.line.value,
            "assignee": state.assignee or "", "channel": channel}
    return state, [RequestEvent(EventKind.CREATED, now, actor, data)]


def apply(state: RequestState, action: Action | str, actor: str, now: datetime,
          **fields: Any) -> tuple[RequestState, list[RequestEvent]]:
    """Apply ``action``; return the new state and the events to append to the timeline."""
    try:
        action = Action(action)
    except ValueError:
        raise InvalidAction(f"unknown action {action!r}; one of: "
                            f"{', '.join(a.value for a in Action)}") from None
    now = _now(now)
    values = _check_fields(action, fields)
    return _HANDLERS[action](state, actor, now, values)


def _check_fields(action: Action, fields: dict[str, Any]) -> dict[str, Any]:
    required, optional = _FIELDS[action]
    unknown = set(fields) - required - optional
    if unknown:
        raise InvalidAction(f"{action.value} does not take {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
            if len(value) > MAX_TEXT:
                raise InvalidAction(f"{name} is {len(value)} characters long; at most "
                                    f"{MAX_TEXT} are kept (attach long logs as a file)")
        if value not in (None, ""):
            values[name] = value
    for name in required:
        if name not in values:
            raise InvalidAction(_MISSING.get((action, name), f"{action.value} needs {name}"))
    return values


def _refuse_unless_open(state: RequestState, what: str) -> None:
    if not state.is_open:
        raise TransitionRefused(f"cannot {what}: the request is {state.status.value}; "
                                f"reopen it first", state.status.value)


def _start(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    if state.status is not RequestStatus.NEW:
        raise TransitionRefused(f"the request is already {state.status.value}", "already_started")
    return _move(state, RequestStatus.IN_PROGRESS, EventKind.STARTED, actor, now, {})


def _reply(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    if state.status is RequestStatus.CLOSED:
        raise TransitionRefused("the request is closed; the requester writes a new one",
                                "closed")
    first = not state.responded
    new = replace(state, responded=True,
                  status=RequestStatus.IN_PROGRESS if state.status is RequestStatus.NEW
                  else state.status)
    return new, [RequestEvent(EventKind.REPLIED, now, actor,
                              {"text": v["text"], "first_response": first})]


def _requester_reply(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    if state.status is RequestStatus.CLOSED:
        raise TransitionRefused("the request is closed; please write a new request",
                                "closed")
    events = [RequestEvent(EventKind.REQUESTER_REPLIED, now, actor, {"text": v["text"]})]
    if state.status is RequestStatus.WAITING:
        events.append(RequestEvent(EventKind.RESUMED, now, actor, {"by": "requester"}))
        return replace(state, status=RequestStatus.IN_PROGRESS, waiting_reason=None), events
    if state.status is RequestStatus.RESOLVED:
        events.append(RequestEvent(EventKind.REOPENED, now, actor,
                                   {"reason": "the requester replied"}))
        return replace(state, status=RequestStatus.IN_PROGRESS,
                       reopen_count=state.reopen_count + 1), events
    return state, events


def _wait(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    _refuse_unless_open(state, "wait for the requester")
    if state.status is RequestStatus.WAITING:
        raise TransitionRefused("the request is already waiting for the requester",
                                "already_waiting")
    new = replace(state, status=RequestStatus.WAITING, waiting_reason=v["reason"])
    return new, [RequestEvent(EventKind.WAITING, now, actor, {"reason": v["reason"]})]


def _resume(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    if state.status is not RequestStatus.WAITING:
        raise TransitionRefused("the request is not waiting", "not_waiting")
    new = replace(state, status=RequestStatus.IN_PROGRESS, waiting_reason=None)
    return new, [RequestEvent(EventKind.RESUMED, now, actor, {"by": "desk"})]


def _resolve(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    _refuse_unless_open(state, "resolve")
    data = {"note": v["note"]}
    for name in ("incident_id", "article_id"):
        if name in v:
            data[name] = v[name]
    new = replace(state, status=RequestStatus.RESOLVED, waiting_reason=None)
    return new, [RequestEvent(EventKind.RESOLVED, now, actor, data)]


def _close(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    if state.status is not RequestStatus.RESOLVED:
        raise TransitionRefused("only a resolved request can be closed", "not_resolved")
    return _move(state, RequestStatus.CLOSED, EventKind.CLOSED, actor, now,
                 {"reason": v.get("reason", "")})


def _reopen(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    if state.status is not RequestStatus.RESOLVED:
        raise TransitionRefused(f"only a resolved request can be reopened (it is "
                                f"{state.status.value})", "not_resolved")
    new = replace(state, status=RequestStatus.IN_PROGRESS, reopen_count=state.reopen_count + 1)
    return new, [RequestEvent(EventKind.REOPENED, now, actor, {"reason": v.get("reason", "")})]


def _reassign(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    _refuse_unless_open(state, "hand over")
    if "line" not in v and "assignee" not in v:
        raise InvalidAction("hand-over needs a line (first_line/second_line) or an assignee")
    line = _line(v["line"]) if "line" in v else state.line
    assignee = v.get("assignee", state.assignee if line is state.line else None) or None
    if line is state.line and assignee == state.assignee:
        raise TransitionRefused(f"the request is already with {line.value}"
                                f"{f' ({assignee})' if assignee else ''}", "already_assigned")
    hand_back, seen = line_move(state.line, line, state.lines_seen)
    new = replace(state, line=line, assignee=assignee, lines_seen=seen,
                  ping_pong_count=state.ping_pong_count + hand_back)
    data = {"from_line": state.line.value, "to_line": line.value,
            "from_assignee": state.assignee or "", "to_assignee": assignee or "",
            "reason": v["reason"], "hand_back": hand_back}
    return new, [RequestEvent(EventKind.REASSIGNED, now, actor, data)]


def _change_priority(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    priority = _priority(v["priority"])
    if priority is state.priority:
        raise TransitionRefused(f"the priority is already {priority}", "same_priority")
    data = {"from": str(state.priority), "to": str(priority), "reason": v.get("reason", "")}
    return (replace(state, priority=priority),
            [RequestEvent(EventKind.PRIORITY_CHANGED, now, actor, data)])


def _note(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    return state, [RequestEvent(EventKind.NOTE, now, actor, {"text": v["text"]})]


def _link(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    _refuse_unless_open(state, "link to an incident")
    incident_id = _incident_id(v["incident_id"])
    if state.incident_id == incident_id:
        raise TransitionRefused(f"the request is already linked to incident #{incident_id}",
                                "already_linked")
    data = {"incident_id": incident_id, "previous": state.incident_id}
    return (replace(state, incident_id=incident_id),
            [RequestEvent(EventKind.LINKED, now, actor, data)])


def _unlink(state: RequestState, actor: str, now: datetime, v: dict) -> _Result:
    if state.incident_id is None:
        raise TransitionRefused("the request is not linked to an incident", "not_linked")
    return (replace(state, incident_id=None),
            [RequestEvent(EventKind.UNLINKED, now, actor, {"incident_id": state.incident_id})])


def _move(state: RequestState, status: RequestStatus, kind: EventKind, actor: str,
          now: datetime, data: dict) -> _Result:
    return replace(state, status=status), [RequestEvent(kind, now, actor, data)]


def _incident_id(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidAction(f"incident_id must be an incident number, got {value!r}")
    try:
        number = int(str(value).strip().lstrip("#"))
    except ValueError:
        raise InvalidAction(f"incident_id must be an incident number, got {value!r}") from None
    if not 0 < number < 2**63:
        raise InvalidAction(f"incident_id must be a positive incident number, got {value!r}")
    return number


def _priority(value: Any) -> Priority:
    try:
        return Priority.parse(value)
    except PriorityError as exc:
        raise InvalidAction(str(exc)) from None


def _line(value: Any) -> Line:
    try:
        return Line(value)
    except ValueError:
        raise InvalidAction(f"line must be first_line or second_line, got {value!r}") from None


def _now(now: datetime) -> datetime:
    try:
        return ensure_utc(now, "now")
    except TimestampError as exc:
        raise InvalidAction(str(exc)) from None


_Result = tuple[RequestState, list[RequestEvent]]
_HANDLERS = {
    Action.START: _start, Action.REPLY: _reply, Action.REQUESTER_REPLY: _requester_reply,
    Action.WAIT: _wait, Action.RESUME: _resume, Action.RESOLVE: _resolve, Action.CLOSE: _close,
    Action.REOPEN: _reopen, Action.REASSIGN: _reassign,
    Action.CHANGE_PRIORITY: _change_priority, Action.NOTE: _note, Action.LINK: _link,
    Action.UNLINK: _unlink,
}
