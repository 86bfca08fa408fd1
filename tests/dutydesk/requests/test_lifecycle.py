"""The request lifecycle: who can move a request where, and what the timeline says about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.incidents.lifecycle import InvalidAction, Line, TransitionRefused
from dutydesk.incidents.priority import Priority
from dutydesk.requests.events import EventKind, RequestStatus
from dutydesk.requests.lifecycle import MAX_TEXT, Action, RequestState, apply, new_request
from dutydesk.requests.rules import parse_request_number, request_number, request_priority

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def fresh() -> RequestState:
    state, events = new_request(priority="P3", actor="anna@example.com", now=NOW)
    assert events[0].kind is EventKind.CREATED and events[0].data["priority"] == "P3"
    return state


def test_the_first_public_reply_starts_a_new_request_and_counts_as_first_response() -> None:
    state, events = apply(fresh(), Action.REPLY, "olga", NOW, text="Restart Outlook, please")
    assert state.status is RequestStatus.IN_PROGRESS and state.responded
    assert events[0].data["first_response"] is True
    _state, later = apply(state, Action.REPLY, "olga", NOW, text="Did it help?")
    assert later[0].data["first_response"] is False


def test_waiting_for_the_requester_needs_a_reason() -> None:
    with pytest.raises(InvalidAction, match="reason is required"):
        apply(fresh(), Action.WAIT, "olga", NOW, reason="  ")
    state, _ = apply(fresh(), Action.WAIT, "olga", NOW, reason="asked for the error text")
    assert (state.status, state.waiting_reason) == (RequestStatus.WAITING,
                                                     "asked for the error text")


def test_the_requester_answering_resumes_a_waiting_request() -> None:
    state, _ = apply(fresh(), Action.WAIT, "olga", NOW, reason="asked for a screenshot")
    state, events = apply(state, Action.REQUESTER_REPLY, "anna@example.com", NOW, text="here")
    assert state.status is RequestStatus.IN_PROGRESS and state.waiting_reason is None
    assert [e.kind for e in events] == [EventKind.REQUESTER_REPLIED, EventKind.RESUMED]


def test_a_reply_to_a_resolved_request_reopens_it_but_a_closed_one_is_final() -> None:
    state, _ = apply(fresh(), Action.RESOLVE, "olga", NOW, note="mailbox quota raised")
    reopened, events = apply(state, Action.REQUESTER_REPLY, "anna@example.com", NOW,
                             text="still full")
    assert reopened.status is RequestStatus.IN_PROGRESS and reopened.reopen_count == 1
    assert events[-1].kind is EventKind.REOPENED
    closed, _ = apply(state, Action.CLOSE, "anna@example.com", NOW, reason="confirmed")
    with pytest.raises(TransitionRefused, match="closed"):
        apply(closed, Action.REQUESTER_REPLY, "anna@example.com", NOW, text="again")


def test_only_a_resolved_request_can_be_closed() -> None:
    with pytest.raises(TransitionRefused, match="only a resolved request"):
        apply(fresh(), Action.CLOSE, "olga", NOW)


def test_handing_back_to_a_line_already_worked_on_counts_as_ping_pong() -> None:
    state, _ = apply(fresh(), Action.REASSIGN, "olga", NOW, line="second_line",
                     reason="needs the mail admins")
    state, events = apply(state, Action.REASSIGN, "ivan", NOW, line="first_line",
                          reason="user-side problem")
    assert state.line is Line.FIRST and state.ping_pong_count == 1
    assert events[0].data["hand_back"] is True


def test_linking_needs_an_open_request_and_a_real_incident_number() -> None:
    state, events = apply(fresh(), Action.LINK, "olga", NOW, incident_id="#42")
    assert state.incident_id == 42 and events[0].data["incident_id"] == 42
    with pytest.raises(TransitionRefused, match="already linked"):
        apply(state, Action.LINK, "olga", NOW, incident_id=42)
    with pytest.raises(InvalidAction, match="positive"):
        apply(fresh(), Action.LINK, "olga", NOW, incident_id=2**64)


def test_a_reply_longer_than_a_mail_is_refused_with_its_length() -> None:
    with pytest.raises(InvalidAction, match=f"at most {MAX_TEXT}"):
        apply(fresh(), Action.NOTE, "olga", NOW, text="x" * 100_000)


def test_an_unknown_action_or_field_is_refused() -> None:
    with pytest.raises(InvalidAction, match="unknown action"):
        apply(fresh(), "explode", "olga", NOW)
    with pytest.raises(InvalidAction, match="does not take"):
        apply(fresh(), Action.START, "olga", NOW, colour="red")


def test_priority_comes_from_the_incidents_matrix() -> None:
    assert request_priority(1, 1) is Priority.P1
    assert request_priority(3, 2) is Priority.P4
    assert request_priority("2", "2") is Priority.P3


def test_request_numbers_read_as_people_say_them() -> None:
    assert request_number(1042) == "REQ-1042"
    for text in ("REQ-1042", "req1042", "#1042", " 1042 "):
        assert parse_request_number(text) == 1042
    assert parse_request_number(str(2**64)) is None
    assert parse_request_number("mail is down") is None


def test_closing_after_quiet_days_is_a_pure_decision() -> None:
    from dutydesk.requests.rules import close_due

    assert close_due(NOW, NOW + timedelta(days=7), timedelta(days=7))
    assert not close_due(NOW, NOW + timedelta(days=6), timedelta(days=7))
    assert not close_due(None, NOW, timedelta(days=7))


def test_only_a_breached_time_to_resolve_on_the_first_line_escalates() -> None:
    from dutydesk.requests.rules import escalates

    assert escalates({"resolve"}, "first_line", True)
    assert not escalates({"first_response"}, "first_line", True)  # late answer: no hand-over
    assert not escalates({"resolve"}, "second_line", True)  # already there
    assert not escalates({"resolve"}, "first_line", False)
