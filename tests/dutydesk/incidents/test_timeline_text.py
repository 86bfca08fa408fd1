"""Timeline events told as sentences: one per kind, translated pieces, fallbacks that never crash.

No Flask here: ``describe`` is pure and ``Phrase.render`` takes any Flask-Babel style gettext.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dutydesk.core.notify.transports import Outcome
from dutydesk.incidents.escalation import DueNotification, notified_event
from dutydesk.incidents.events import (
    ACK_TIMEOUT_REASON,
    SNOOZE_ENDED_REASON,
    EventKind,
    IncidentEvent,
    policy_deleted_reason,
)
from dutydesk.incidents.lifecycle import apply, open_incident
from dutydesk.incidents.models import EscalationPolicyRow
from dutydesk.incidents.notify_timeline import notification_event
from dutydesk.incidents.policies import policy_changed_event
from dutydesk.incidents.sla import SlaPolicy, sla_events_due
from dutydesk.incidents.timeline_text import (
    EVENT_NAMES,
    Phrase,
    describe,
    describe_actor,
    duration,
)
from dutydesk.models import OutboxMessage

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def told(kind: str, data: Any) -> str:
    """The English sentence, with the extras the way the page shows them."""
    text = describe(kind, data)
    extras = "; ".join(f"{k}: {v}" for k, v in text.extras)
    return text.summary.render() + (f" ({extras})" if extras else "")


# --------------------------------------------------------------------------- every kind

CASES = [
    # (kind, data, sentence) — one line per situation a duty engineer meets
    ("triggered", {"priority": "P2", "line": "first_line", "assignee": ""},
     "Opened: priority P2, First line"),
    ("triggered", {"priority": "P1", "line": "second_line", "assignee": "olga@dc.example"},
     "Opened: priority P1, Second line, assigned to olga@dc.example"),
    ("alert", {"dedup_key": "alertmanager:ups-a", "status": "firing"},
     "The alert came again: still firing"),
    ("alert", {"dedup_key": "alertmanager:ups-a", "status": "resolved"},
     "The alert source reported recovery"),
    ("acknowledged", {}, "Acknowledged"),
    ("unacknowledged", {"reason": "wrong rack"}, "Acknowledgement withdrawn: wrong rack"),
    # the worker's acknowledgement timeout says so in its own words
    ("unacknowledged", {"reason": ACK_TIMEOUT_REASON},
     "Acknowledgement timed out: triggered again"),
    ("pending", {"reason": "waiting for the vendor"}, "Set to pending: waiting for the vendor"),
    ("resumed", {"status": "acknowledged"}, "Resumed: back to acknowledged"),
    ("resumed", {"status": "triggered"}, "Resumed: waiting for acknowledgement again"),
    ("resolved", {"note": "fuse replaced"}, "Resolved: fuse replaced"),
    ("reopened", {"reason": ""}, "Reopened"),
    ("reopened", {"reason": "on battery again"}, "Reopened: on battery again"),
    # the pipeline re-opened an auto-resolved incident because its problem came back
    ("reopened", {"reason": "problem returned after 3 min", "returned_after_s": 185},
     "Problem returned after 3 min 05 s"),
    # one of two Alertmanagers resolved; the other still fires
    ("alert", {"dedup_key": "alertmanager:ups-a", "status": "resolved",
               "source": "http://am-a:9093", "still_firing": ["http://am-b:9093"]},
     "http://am-a:9093 reported recovery; still firing from http://am-b:9093: the incident "
     "stays open"),
    ("flapping", {"state": "started", "status": "CRITICAL"},
     "The check started flapping; pages are held until it settles"),
    ("flapping", {"state": "stopped", "status": "OK"}, "The check stopped flapping; it is now OK"),
    ("person_unreachable", {"person": "ivan@dc.example", "targets": ["first_line"]},
     "ivan@dc.example has no working contact method: skipped, the next step is paged"),
    ("repaged", {"people": ["ivan@dc.example"], "count": 3},
     "Still not acknowledged: paged again (3), ivan@dc.example"),
    ("acknowledged", {"snooze_minutes": 30}, "Snoozed for 30 min (acknowledged until then)"),
    ("acknowledged", {"via": "mail"}, "Acknowledged (by replying to the page)"),
    ("resolved", {"note": "fuse", "via": "link"}, "Resolved: fuse (from the page's link)"),
    ("unacknowledged", {"reason": SNOOZE_ENDED_REASON}, "Snooze ended: triggered again"),
    ("reassigned", {"from_line": "first_line", "to_line": "second_line", "from_assignee": "",
                    "to_assignee": "", "reason": "needs a DBA", "hand_back": False},
     "Reassigned from First line to Second line: needs a DBA"),
    ("reassigned", {"from_line": "second_line", "to_line": "first_line",
                    "from_assignee": "olga@dc.example", "to_assignee": "ivan@dc.example",
                    "reason": "not a database problem", "hand_back": True},
     "Reassigned from Second line (olga@dc.example) to First line (ivan@dc.example) "
     "(hand-back): not a database problem"),
    ("priority_changed", {"from": "P3", "to": "P1", "reason": "whole hall B is down"},
     "Priority changed P3 → P1: whole hall B is down"),
    ("note", {"text": "**Fuse** replaced"}, "Note"),  # its Markdown body is shown below it
    ("escalated", {"reason": "nobody answers"}, "Escalation requested: nobody answers"),
    ("escalation_notified", {"cycle": 0, "position": 1, "step": 1, "round": 0,
                             "targets": ["second_line"]},
     "Escalation step 2 notified: Second line"),
    ("escalation_notified", {"cycle": 0, "position": 4, "step": 0, "round": 1,
                             "targets": ["shift_lead", "user:chief@dc.example"]},
     "Escalation step 1, round 2, notified: Shift lead, chief@dc.example"),
    ("escalation_policy_changed", {"from": "default", "to": "vendor on site", "from_id": None,
                                   "to_id": 7, "reason": "vendor engineer on site"},
     "Escalation policy changed: default policy → vendor on site: vendor engineer on site"),
    ("escalation_policy_changed", {"from": "vendor on site", "to": "default", "from_id": 7,
                                   "to_id": None,
                                   "reason": policy_deleted_reason("vendor on site")},
     "Escalation policy vendor on site was deleted; the incident follows the default policy"),
    ("notification_sent", {"channel": "email", "target": "ivan@dc.example", "attempt": 1,
                           "detail": "250 OK"},
     "Notification sent by email to ivan@dc.example"),
    # a URL's path may hold a secret token: only its host is shown
    ("notification_sent", {"channel": "slack", "attempt": 1, "detail": "ok",
                           "target": "https://hooks.slack.com/services/T0/B0/s3cret"},
     "Notification sent to Slack at hooks.slack.com"),
    ("notification_failed", {"channel": "webhook", "attempt": 2, "detail": "HTTP 503",
                             "target": "https://user:pw@ops.example:8443/hook?token=s3cret"},
     "Notification by webhook to ops.example:8443 failed (attempt 2): HTTP 503"),
    ("notification_failed", {"channel": "telegram", "target": "-1001234", "attempt": 1,
                             "detail": "chat not found"},
     "Notification to Telegram chat -1001234 failed: chat not found"),
    ("sla_warning", {"clock": "acknowledge", "priority": "P3", "elapsed_s": 450, "target_s": 600},
     "SLA warning: time to acknowledge at 75 % (7 min 30 s of 10 min)"),
    ("sla_breached", {"clock": "resolve", "priority": "P1", "elapsed_s": 14_700,
                      "target_s": 14_400},
     "SLA breached: time to resolve at 102 % (4 h 05 min of 4 h)"),
]


@pytest.mark.parametrize(("kind", "data", "sentence"), CASES)
def test_each_event_kind_reads_as_a_sentence(kind: str, data: dict, sentence: str) -> None:
    assert told(kind, data) == sentence


def test_the_table_covers_every_event_kind() -> None:
    assert {kind for kind, _, _ in CASES} == {kind.value for kind in EventKind}
    assert set(EVENT_NAMES) == set(EventKind)


def test_a_note_carries_its_markdown_body() -> None:
    text = describe("note", {"text": "**Fuse** replaced"})
    assert text.summary.render() == "Note" and text.markdown == "**Fuse** replaced"
    assert describe("triggered", {"priority": "P2", "line": "first_line"}).markdown is None


def test_every_event_the_domain_writes_is_told_whole_with_no_leftover_data() -> None:
    """The events as lifecycle, SLA, escalation, policies and the outbox sender write them."""
    state, events = open_incident(priority="P3", actor="alertmanager", now=T0)
    steps = [
        ("acknowledge", {}),
        ("unacknowledge", {"reason": ACK_TIMEOUT_REASON}),
        ("reassign", {"line": "second_line", "reason": "DBA"}),
        ("reassign", {"line": "first_line", "reason": "back"}),
        ("change_priority", {"priority": "P1", "reason": "hall down"}),
        ("note", {"text": "*checked*"}),
        ("escalate", {"reason": "no answer"}),
        ("pending", {"reason": "vendor"}),
        ("resume", {}),
        ("resolve", {"note": "fixed"}),
        ("reopen", {"reason": "again"}),
    ]
    for minute, (action, fields) in enumerate(steps, start=1):
        state, new = apply(state, action, "ivan@dc.example", T0 + timedelta(minutes=minute),
                           **fields)
        events += new
    events += sla_events_due(SlaPolicy(), events[:1], T0 + timedelta(hours=5))
    events.append(notified_event(DueNotification(0, 0, 0, 0, ("first_line",), T0), T0))
    vendor = EscalationPolicyRow(id=3, name="vendor")
    events.append(policy_changed_event(T0, "olga", from_row=None, to_row=vendor, reason="x"))
    message = OutboxMessage(channel="email", target="ivan@dc.example", attempts=1)
    events.append(notification_event(message, Outcome(True, "250 OK")))
    events.append(notification_event(message, Outcome(False, "550 no such user")))
    events.append(IncidentEvent(EventKind.ALERT, T0, "check",
                                {"dedup_key": "check:ups-a", "status": "firing"}))
    events.append(IncidentEvent(EventKind.FLAPPING, T0, "check",
                                {"state": "started", "status": "CRITICAL"}))
    events.append(IncidentEvent(EventKind.PERSON_UNREACHABLE, T0, "escalation",
                                {"person": "ivan@dc.example", "targets": ["first_line"]}))
    events.append(IncidentEvent(EventKind.REPAGED, T0, "escalation",
                                {"people": ["ivan@dc.example"], "count": 2}))
    assert {e.kind for e in events} == set(EventKind)
    for event in events:
        text = describe(event.kind, event.data)
        assert text.extras == (), (event.kind, text.extras)
        assert text.summary.msgid != "Event %(kind)s"
        if event.data and event.kind not in (EventKind.NOTE, EventKind.ACKNOWLEDGED):
            assert text.summary.msgid != EVENT_NAMES[event.kind], event.kind  # not the fallback


# --------------------------------------------------------------------------- fallbacks


def test_an_unknown_kind_shows_its_name_and_data() -> None:
    assert told("power_cycled", {"pdu": "B12-2", "outlet": 7, "empty": ""}) == (
        "Event power_cycled (pdu: B12-2; outlet: 7)")


def test_unknown_keys_of_a_known_kind_are_shown_after_the_sentence() -> None:
    assert told("acknowledged", {"via": "phone"}) == "Acknowledged (via: phone)"
    assert told("escalated", {"reason": "", "pager": ["a", "b"]}) == (
        "Escalation requested (pager: a, b)")


@pytest.mark.parametrize(
    ("kind", "data", "sentence"),
    [
        # data a kind cannot read falls back to the kind's name with everything it holds
        ("sla_warning", {"clock": "acknowledge", "elapsed_s": "soon", "target_s": 600},
         "SLA warning (clock: acknowledge; elapsed_s: soon; target_s: 600)"),
        ("sla_breached", {"clock": "resolve", "elapsed_s": 10, "target_s": 0},
         "SLA breached (clock: resolve; elapsed_s: 10; target_s: 0)"),
        ("reassigned", {"to_line": "second_line"}, "Reassigned (to_line: second_line)"),
        ("resumed", {"status": "sleeping"}, "Resumed (status: sleeping)"),
        ("escalation_notified", {"step": 0, "targets": "first_line"},
         "Escalation notified (step: 0; targets: first_line)"),
        ("note", {"text": None}, "Note"),
        ("triggered", None, "Triggered"),
        ("priority_changed", ["P1"], "Priority changed (data: P1)"),
        # values nobody knows keep their stored spelling
        ("triggered", {"priority": "P2", "line": "third_line"}, "Opened: priority P2, third_line"),
        ("sla_warning", {"clock": "respond", "elapsed_s": 60, "target_s": 80},
         "SLA warning: respond at 75 % (1 min of 1 min 20 s)"),
        ("notification_sent", {"channel": "pager", "target": "42"},
         "Notification sent via pager to 42"),
    ],
)
def test_odd_data_never_crashes_and_still_shows(kind: str, data: Any, sentence: str) -> None:
    assert told(kind, data) == sentence


# --------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "0 s"), (45, "45 s"), (60, "1 min"), (450, "7 min 30 s"), (3605, "1 h"),
     (7500, "2 h 05 min"), (86_400, "1 d"), (97_200, "1 d 3 h")],
)
def test_durations_read_like_a_clock(seconds: int, text: str) -> None:
    assert duration(seconds).render() == text


def test_system_actors_are_named_and_people_shown_as_they_are() -> None:
    assert describe_actor("sla") == Phrase("SLA clocks")
    assert describe_actor("alertmanager") == "Alertmanager"
    assert describe_actor("ivan@dc.example") == "ivan@dc.example"


def test_every_piece_of_a_sentence_goes_through_the_given_gettext() -> None:
    """Nested phrases (line names, durations, clock names) are translated before they are put in."""
    catalog = {
        "Reassigned from %(from)s to %(to)s (hand-back)": "Передан от %(from)s к %(to)s (возврат)",
        "%(event)s: %(reason)s": "%(event)s: %(reason)s",
        "First line": "Первая линия",
        "Second line": "Вторая линия",
        "SLA warning: %(clock)s at %(percent)s %% (%(elapsed)s of %(target)s)":
            "Предупреждение SLA: %(clock)s — %(percent)s %% (%(elapsed)s из %(target)s)",
        "time to acknowledge": "время на подтверждение",
        "%(m)s min %(s)02d s": "%(m)s мин %(s)02d с",
        "%(m)s min": "%(m)s мин",
    }

    def gettext(msgid: str, **variables: Any) -> str:
        text = catalog[msgid]  # a piece left untranslated would raise here
        return text % variables if variables else text

    reassigned = describe("reassigned", {"from_line": "first_line", "to_line": "second_line",
                                         "reason": "нужен DBA", "hand_back": True})
    assert reassigned.summary.render(gettext) == (
        "Передан от Первая линия к Вторая линия (возврат): нужен DBA")
    warning = describe("sla_warning", {"clock": "acknowledge", "elapsed_s": 450, "target_s": 600})
    assert warning.summary.render(gettext) == (
        "Предупреждение SLA: время на подтверждение — 75 % (7 мин 30 с из 10 мин)")


def test_people_text_with_percent_signs_is_not_taken_for_a_placeholder() -> None:
    assert told("pending", {"reason": "CPU at 100% (%(x)s)"}) == (
        "Set to pending: CPU at 100% (%(x)s)")
