"""The timeline summary a resolved incident keeps for the reports: replay, storage, backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from dutydesk import migrate
from dutydesk.core.db import Database
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.lifecycle import open_incident
from dutydesk.incidents.models import Incident, IncidentEventRow
from dutydesk.incidents.sla import SlaPolicy
from dutydesk.incidents.sla_config import sla_snapshot
from dutydesk.incidents.store import act, add_events, apply_to_row
from dutydesk.incidents.summary import (
    SUMMARY_COLUMNS,
    ClockOutcome,
    Outcome,
    policy_of_snapshot,
    summarise,
    summary_columns,
    summary_from_columns,
)

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
POLICY = SlaPolicy()  # P1: acknowledge 15 min, resolve 4 h; P2: 30 min, 8 h


def ev(kind: str, minutes: float, actor: str = "anna@dc.example", **data: object) -> IncidentEvent:
    return IncidentEvent(EventKind(kind), T0 + timedelta(minutes=minutes), actor, data)


def triggered(priority: str = "P1") -> IncidentEvent:
    return ev("triggered", 0, "check", priority=priority, line="first_line", assignee="")


def test_pending_time_does_not_count_on_the_sla_clocks() -> None:
    summary = summarise([
        triggered(),
        ev("acknowledged", 20),  # 20 min > 15: the acknowledge target is missed
        ev("pending", 30, reason="vendor"),
        ev("resumed", 150, status="acknowledged"),  # two hours waiting for the vendor
        ev("resolved", 300, note="fixed"),
    ], POLICY, T0 + timedelta(days=1))
    assert summary.ack == ClockOutcome(Outcome.BREACHED, 20 * 60, 15 * 60)
    # 5 h wall-clock minus 2 h pending = 3 h, under the 4 h target.
    assert summary.resolve == ClockOutcome(Outcome.MET, 3 * 3600, 4 * 3600)
    assert (summary.first_ack_at, summary.first_ack_by) == (T0 + timedelta(minutes=20),
                                                            "anna@dc.example")
    assert (summary.resolved_at, summary.resolved_by) == (T0 + timedelta(minutes=300),
                                                          "anna@dc.example")


def test_moves_between_the_lines_and_hand_backs_are_counted() -> None:
    move = {"from_assignee": "", "to_assignee": "", "reason": "r"}
    summary = summarise([
        triggered("P2"),
        ev("reassigned", 5, from_line="first_line", to_line="second_line", hand_back=False,
           **move),
        ev("reassigned", 10, from_line="second_line", to_line="first_line", hand_back=True,
           **move),
        ev("reassigned", 12, from_line="first_line", to_line="first_line", hand_back=False,
           **{**move, "to_assignee": "boris@dc.example"}),  # same line: not a move
        ev("reassigned", 15, from_line="first_line", to_line="second_line", hand_back=True,
           **move),
    ], POLICY, T0 + timedelta(hours=1))
    assert (summary.line_moves, summary.moves_to_second_line, summary.moves_to_first_line,
            summary.hand_backs) == (3, 2, 1, 2)


def test_a_reopened_incident_is_open_again_and_its_clock_runs_on() -> None:
    summary = summarise([
        triggered("P2"),
        ev("resolved", 60, "check", note="auto"),
        ev("reopened", 120, "check", reason="again"),
    ], POLICY, T0 + timedelta(minutes=150))
    assert summary.resolved_at is None and summary.resolved_by is None
    # Never acknowledged: the acknowledge clock stopped at 60 min while resolved and runs on
    # from the reopening: 60 + 30 = 90 min > 30 min target.
    assert summary.ack == ClockOutcome(Outcome.BREACHED, 90 * 60, 30 * 60)
    assert summary.resolve == ClockOutcome(Outcome.OPEN, 90 * 60, 8 * 3600)


def test_without_a_policy_there_is_no_sla_outcome_and_nothing_is_stored() -> None:
    summary = summarise([triggered(), ev("resolved", 10)], None, T0 + timedelta(hours=1))
    assert summary.ack is None and summary.resolve is None
    assert summary_columns(summary) == dict.fromkeys(SUMMARY_COLUMNS)
    assert policy_of_snapshot({}) is None
    assert policy_of_snapshot({"P1": {"acknowledge": "soon"}}) is None


def test_stored_columns_read_back_as_the_same_summary() -> None:
    summary = summarise([triggered(), ev("acknowledged", 10), ev("resolved", 100)], POLICY,
                        T0 + timedelta(hours=3))
    row = {**summary_columns(summary), "resolved_at": summary.resolved_at,
           "resolved_by": "Anna@DC.example", "ping_pong_count": 0}
    assert summary_from_columns(row) == summary
    assert summary_from_columns(dict.fromkeys(row)) is None


# --------------------------------------------------------------------------- storage


def new_incident(db: Database, priority: str = "P1", snapshot: bool = True) -> int:
    state, events = open_incident(priority=priority, actor="check", now=T0)
    with db.session() as s:
        key = f"ups-{priority}"
        row = Incident(dedup_key=key, title="UPS A on battery", source="check",
                       priority=priority, created_at=T0, updated_at=T0, last_alert_at=T0,
                       sla_targets=sla_snapshot(POLICY) if snapshot else {})
        apply_to_row(row, state, T0)
        s.add(row)
        s.flush()
        add_events(s, row.id, events)
        return row.id


def stored(db: Database, incident_id: int) -> dict[str, object]:
    with db.session() as s:
        row = s.get(Incident, incident_id)
        return {name: getattr(row, name) for name in SUMMARY_COLUMNS}


def test_resolving_an_incident_stores_its_summary_and_reopening_clears_it(db: Database) -> None:
    incident_id = new_incident(db)
    with db.session() as s:
        act(s, incident_id, "acknowledge", "anna@dc.example", T0 + timedelta(minutes=10))
        act(s, incident_id, "resolve", "Boris@dc.example", T0 + timedelta(hours=5), note="ok")
    assert stored(db, incident_id) == {
        "first_ack_at": T0 + timedelta(minutes=10), "first_ack_by": "anna@dc.example",
        "sla_ack_seconds": 600.0, "sla_ack_target_seconds": 900.0, "sla_ack_breached": False,
        "sla_resolve_seconds": 18000.0, "sla_resolve_target_seconds": 14400.0,
        "sla_resolve_breached": True, "line_moves": 0, "moves_to_second_line": 0,
    }
    with db.session() as s:
        act(s, incident_id, "reopen", "anna@dc.example", T0 + timedelta(hours=6))
    assert stored(db, incident_id) == dict.fromkeys(SUMMARY_COLUMNS)


def test_the_migration_backfills_incidents_resolved_before_it(db: Database) -> None:
    resolved = new_incident(db, "P2")
    still_open = new_incident(db, "P3")
    no_targets = new_incident(db, "P4", snapshot=False)
    with db.session() as s:
        act(s, resolved, "acknowledge", "anna@dc.example", T0 + timedelta(minutes=40))
        act(s, resolved, "resolve", "anna@dc.example", T0 + timedelta(hours=2), note="ok")
        act(s, no_targets, "resolve", "check", T0 + timedelta(hours=1), note="auto")
    expected = stored(db, resolved)
    assert expected["sla_ack_breached"] is True  # 40 min > 30 min for P2
    with db.session() as s:
        events = s.scalar(select(func.count()).select_from(IncidentEventRow))

    migrate.downgrade(db, "0009")  # the summary columns are gone
    migrate.upgrade(db)  # and come back filled in for what was resolved
    assert stored(db, resolved) == expected
    with db.session() as s:  # altering incidents in place kept every timeline event
        assert s.scalar(select(func.count()).select_from(IncidentEventRow)) == events
    assert stored(db, still_open) == dict.fromkeys(SUMMARY_COLUMNS)
    assert stored(db, no_targets) == dict.fromkeys(SUMMARY_COLUMNS)
    with db.session() as s:
        assert s.scalar(select(Incident.status).where(Incident.id == resolved)) == "resolved"
