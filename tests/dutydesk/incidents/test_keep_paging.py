"""Keep paging and quiet hours: an unacknowledged P1/P2 is never left silent after its last
escalation step, and a person's quiet hours hold back P3/P4 pages only, until they end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.escalation import (
    DueNotification,
    EscalationError,
    EscalationPolicy,
    EscalationStep,
    escalation_due,
    notified_event,
)
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.jobs import run_clocks
from dutydesk.incidents.keep_paging import repage_due
from dutydesk.incidents.models import EscalationPolicyRow, IncidentEventRow, QuietHoursRow
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.quiet import QuietHours, QuietHoursError, parse_time_of_day, quiet_until
from dutydesk.models import OutboxMessage, Role
from tests.conftest import make_user

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
POLICY = EscalationPolicy((EscalationStep(("first_line",), 5), EscalationStep(("shift_lead",),
                                                                              5)),
                          repage_minutes=10)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def step(position: int, at: datetime, people: list[str]) -> IncidentEvent:
    event = notified_event(DueNotification(0, position, position, 0,
                                           POLICY.step_at(position).targets, at), at)
    return IncidentEvent(event.kind, event.at, event.actor, {**event.data, "people": people})


TRIGGERED = IncidentEvent(EventKind.TRIGGERED, T0, "alertmanager", {"priority": "P1"})
BOTH_STEPS = [TRIGGERED, step(0, m(0), ["taras"]), step(1, m(5), ["olena"])]


def repaged(at: datetime, count: int) -> IncidentEvent:
    return IncidentEvent(EventKind.REPAGED, at, "escalation",
                         {"people": ["olena"], "count": count, "cycle": 0})


@pytest.mark.parametrize(
    ("events", "priority", "now", "due", "next_at"),
    [
        # the last step (the shift lead) was paged at 5; nobody acknowledged: again at 15
        (BOTH_STEPS, "P1", m(14), False, m(15)),
        (BOTH_STEPS, "P1", m(15), True, m(15)),
        (BOTH_STEPS, "P2", m(40), True, m(15)),  # a late tick still repeats (once)
        # the repeat at 15 counts: the next one at 25
        ([*BOTH_STEPS, repaged(m(15), 1)], "P1", m(24), False, m(25)),
        ([*BOTH_STEPS, repaged(m(15), 1), repaged(m(25), 2)], "P1", m(35), True, m(35)),
        # P3/P4: the policy's steps are the whole story
        (BOTH_STEPS, "P3", m(60), False, None),
        (BOTH_STEPS, "P4", m(60), False, None),
        # the last step is not paged yet: escalation comes first
        (BOTH_STEPS[:2], "P1", m(30), False, None),
        # acknowledged or resolved: silence is right
        ([*BOTH_STEPS, IncidentEvent(EventKind.ACKNOWLEDGED, m(6), "olena")], "P1", m(30),
         False, None),
        ([*BOTH_STEPS, IncidentEvent(EventKind.RESOLVED, m(6), "olena", {"note": "x"})], "P1",
         m(30), False, None),
    ],
)
def test_an_unacknowledged_p1_p2_is_paged_again_every_n_minutes_after_the_last_step(
    events: list[IncidentEvent], priority: str, now: datetime, due: bool,
    next_at: datetime | None,
) -> None:
    repage = repage_due(POLICY, escalation_due(POLICY, events, now), priority, events, now)
    assert (repage.due, repage.next_at) == (due, next_at)
    if due:
        assert repage.targets == ("shift_lead",) and repage.people == ("olena",)


def test_a_policy_refuses_a_repeat_interval_out_of_range() -> None:
    for bad in (0, 241, "15", True):
        with pytest.raises(EscalationError, match="keep paging every"):
            EscalationPolicy((EscalationStep(("first_line",), 5),), repage_minutes=bad)


def _open(db: Database, settings: Settings, at: datetime, impact: int) -> int:
    alert = Alert(source=AlertSource.ALERTMANAGER, dedup_key=f"alertmanager:ups-{impact}",
                  status=AlertStatus.FIRING, starts_at=at, summary="UPS A on battery",
                  severity=Severity.CRITICAL, details={"impact": impact, "urgency": impact})
    with db.session() as s:
        [incident_id] = process_alerts(s, [alert], settings=settings, now=at).opened
    return incident_id


def _rows(db: Database, incident_id: int, prefix: str) -> list[OutboxMessage]:
    with db.session() as s:
        rows = list(s.scalars(select(OutboxMessage).where(
            OutboxMessage.source_id == str(incident_id),
            OutboxMessage.subject.startswith(prefix)).order_by(OutboxMessage.id)))
        s.expunge_all()
        return rows


def test_the_clock_job_keeps_paging_until_someone_acknowledges(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    with db.session() as s:
        s.add(EscalationPolicyRow(name="night", steps=[
            {"targets": ["first_line"], "delay_minutes": 5}], is_default=True,
            repage_minutes=10))
    incident_id = _open(db, settings, T0, impact=1)
    for minute in (1, 6, 14):
        run_clocks(db, settings, now=m(minute))
    assert _rows(db, incident_id, "[STILL OPEN]") == []  # 10 min after the last step: not yet
    for minute in (15, 16, 24, 25, 30):
        run_clocks(db, settings, now=m(minute))
    repeats = _rows(db, incident_id, "[STILL OPEN]")
    assert [r.target for r in repeats] == ["taras@dc.example"] * 2  # at 15 and at 25
    assert "Acknowledge: http" in repeats[0].body_text  # links in every repeat, too
    with db.session() as s:
        from dutydesk.incidents.store import act

        act(s, incident_id, "acknowledge", "taras@dc.example", m(31))
    for minute in (35, 45, 90):
        run_clocks(db, settings, now=m(minute))
    assert len(_rows(db, incident_id, "[STILL OPEN]")) == 2  # acknowledged: quiet
    with db.session() as s:
        counts = [r.data["count"] for r in s.scalars(select(IncidentEventRow).where(
            IncidentEventRow.kind == "repaged"))]
    assert counts == [1, 2]


# --------------------------------------------------------------------------- quiet hours

KYIV = ZoneInfo("Europe/Kyiv")
NIGHT = QuietHours(parse_time_of_day("22:00", "start"), parse_time_of_day("07:00", "end"))


def kyiv(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=KYIV).astimezone(UTC)


@pytest.mark.parametrize(
    ("hours", "priority", "at", "until"),
    [
        (NIGHT, Priority.P3, kyiv(23, 23), kyiv(24, 7)),  # evening: held until the morning
        (NIGHT, Priority.P4, kyiv(24, 3), kyiv(24, 7)),  # after midnight: the same morning
        (NIGHT, Priority.P3, kyiv(24, 7), None),  # the quiet hours are over
        (NIGHT, Priority.P3, kyiv(23, 21, 59), None),  # not yet begun
        (NIGHT, Priority.P1, kyiv(23, 23), None),  # P1/P2 always go
        (NIGHT, Priority.P2, kyiv(24, 3), None),
        (QuietHours(13 * 60, 14 * 60), Priority.P3, kyiv(23, 13, 30), kyiv(23, 14)),  # a nap
        (QuietHours(600, 600), Priority.P4, kyiv(23, 10), None),  # empty span
        (None, Priority.P4, kyiv(23, 23), None),
    ],
)
def test_quiet_hours_hold_back_p3_p4_until_they_end(
    hours: QuietHours | None, priority: Priority, at: datetime, until: datetime | None
) -> None:
    assert quiet_until(hours, KYIV, priority, at) == until


def test_quiet_hours_keep_their_local_times_across_a_dst_change() -> None:
    # 29 March 2026: Kyiv moves from UTC+2 to UTC+3 at 03:00 local.
    held = quiet_until(NIGHT, KYIV, Priority.P3, datetime(2026, 3, 28, 22, 30, tzinfo=UTC))
    assert held == datetime(2026, 3, 29, 7, 0, tzinfo=KYIV).astimezone(UTC)
    assert held.hour == 4  # 07:00 summer time


@pytest.mark.parametrize("text", ["25:00", "7", "", "07:60", "ab:cd"])
def test_a_bad_time_of_day_is_refused_by_name(text: str) -> None:
    with pytest.raises(QuietHoursError, match="start must be a time of day"):
        parse_time_of_day(text, "start")


def test_a_p3_page_waits_for_the_end_of_the_quiet_hours_a_p1_does_not(
    db: Database, settings: Settings
) -> None:
    taras = make_user(db, Role.ENGINEER, email="taras@dc.example", timezone="Europe/Kyiv")
    with db.session() as s:
        s.add(QuietHoursRow(user_id=taras.id, start_minute=NIGHT.start, end_minute=NIGHT.end))
    late = kyiv(23, 23, 30)
    p3 = _open(db, settings, late, impact=3)
    p1 = _open(db, settings, late, impact=1)
    [held] = _rows(db, p3, "[P3]")
    [sent] = _rows(db, p1, "[P1]")
    assert held.next_attempt_at == kyiv(24, 7)  # delivered when the quiet hours end
    assert sent.next_attempt_at == sent.created_at  # at once
