"""Choosing an incident's escalation policy and deleting policies, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.security import Principal
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.jobs import run_clocks
from dutydesk.incidents.lifecycle import InvalidAction, TransitionRefused
from dutydesk.incidents.models import EscalationPolicyRow, Incident, IncidentEventRow
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.policies import PolicyDeleteRefused, choose_policy, delete_policy
from dutydesk.incidents.recipients import DEFAULT_POLICY, policy_for, policy_from_row
from dutydesk.incidents.store import act
from dutydesk.models import AuditEntry, Role

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
OLENA = Principal(kind="user", role=Role.ENGINEER, label="olena@dc.example")


def minutes(m: float) -> datetime:
    return NOW + timedelta(minutes=m)


def open_incident(db: Database, settings: Settings, key: str) -> int:
    alert = Alert(
        source=AlertSource.ALERTMANAGER,
        dedup_key=f"alertmanager:{key}",
        status=AlertStatus.FIRING,
        starts_at=NOW,
        summary=f"{key} on battery",
        severity=Severity.CRITICAL,
    )
    with db.session() as s:
        return process_alerts(s, [alert], settings=settings, now=NOW).opened[0]


def add_policy(db: Database, name: str, steps: list[tuple[str, int]], default: bool = False) -> int:
    with db.session() as s:
        row = EscalationPolicyRow(
            name=name,
            steps=[{"targets": [t], "delay_minutes": d} for t, d in steps],
            is_default=default,
        )
        s.add(row)
        s.flush()
        return row.id


def events(db: Database, incident_id: int, kind: str) -> list[IncidentEventRow]:
    with db.session() as s:
        return list(
            s.scalars(
                select(IncidentEventRow)
                .where(IncidentEventRow.incident_id == incident_id, IncidentEventRow.kind == kind)
                .order_by(IncidentEventRow.id)
            )
        )


def incident(db: Database, incident_id: int) -> Incident:
    with db.session() as s:
        row = s.get(Incident, incident_id)
        assert row is not None
        return row


def test_choosing_a_policy_is_on_the_timeline_in_the_audit_log_and_bumps_the_version(
    db: Database, settings: Settings
) -> None:
    night = add_policy(db, "night", [("shift_lead", 5)])
    incident_id = open_incident(db, settings, "ups-a")
    version = incident(db, incident_id).version
    with db.session() as s:
        choose_policy(s, OLENA, incident_id, night, minutes(2), reason="  vendor on site  ")
    assert incident(db, incident_id).escalation_policy_id == night
    assert incident(db, incident_id).version == version + 1
    [event] = events(db, incident_id, "escalation_policy_changed")
    assert event.actor == "olena@dc.example"
    assert event.data == {
        "from": "default", "to": "night", "from_id": None, "to_id": night,
        "reason": "vendor on site",
    }
    with db.session() as s:
        entry = s.scalar(
            select(AuditEntry).where(AuditEntry.action == "incident.escalation_policy")
        )
        assert entry is not None and entry.entity_id == str(incident_id)
        assert (entry.before, entry.after) == (
            {"escalation_policy": "default"},
            {"escalation_policy": "night", "reason": "vendor on site"},
        )


def test_going_back_to_the_default_policy_is_choosing_none(
    db: Database, settings: Settings
) -> None:
    night = add_policy(db, "night", [("shift_lead", 5)])
    incident_id = open_incident(db, settings, "ups-b")
    with db.session() as s:
        choose_policy(s, OLENA, incident_id, night, minutes(1))
    with db.session() as s:
        choose_policy(s, OLENA, incident_id, None, minutes(2))
    assert incident(db, incident_id).escalation_policy_id is None
    changes = events(db, incident_id, "escalation_policy_changed")
    assert [(e.data["from"], e.data["to"]) for e in changes] == [
        ("default", "night"), ("night", "default"),
    ]


def test_refusals_change_nothing(db: Database, settings: Settings) -> None:
    night = add_policy(db, "night", [("shift_lead", 5)])
    incident_id = open_incident(db, settings, "ups-c")
    with db.session() as s, pytest.raises(InvalidAction, match="no escalation policy with id"):
        choose_policy(s, OLENA, incident_id, night + 100, minutes(1))
    with db.session() as s, pytest.raises(TransitionRefused, match="already follows the 'default'"):
        choose_policy(s, OLENA, incident_id, None, minutes(1))
    with db.session() as s:
        act(s, incident_id, "resolve", "olena", minutes(2), note="mains back")
    with db.session() as s, pytest.raises(TransitionRefused, match="resolved; reopen it first"):
        choose_policy(s, OLENA, incident_id, night, minutes(3))
    assert incident(db, incident_id).escalation_policy_id is None
    assert events(db, incident_id, "escalation_policy_changed") == []


def test_deleting_a_policy_moves_its_open_incidents_to_the_default_with_a_timeline_entry(
    db: Database, settings: Settings
) -> None:
    add_policy(db, "standard", [("first_line", 10)], default=True)
    night = add_policy(db, "night", [("shift_lead", 5)])
    still_open = open_incident(db, settings, "ups-d")
    resolved = open_incident(db, settings, "ups-e")
    for incident_id in (still_open, resolved):
        with db.session() as s:
            choose_policy(s, OLENA, incident_id, night, minutes(1))
    with db.session() as s:
        act(s, resolved, "resolve", "olena", minutes(2), note="mains back")
    version = incident(db, still_open).version
    lead = Principal(kind="user", role=Role.SHIFT_LEAD, label="lead@dc.example")
    with db.session() as s:
        row = s.get(EscalationPolicyRow, night)
        assert row is not None
        assert delete_policy(s, lead, row, minutes(3)) == [still_open]
    with db.session() as s:
        assert s.get(EscalationPolicyRow, night) is None
        assert s.scalar(select(AuditEntry.before).where(
            AuditEntry.action == "escalation_policy.delete"))["name"] == "night"
    # Both fall back to the default: the open one explicitly, the resolved one by the foreign key.
    assert incident(db, still_open).escalation_policy_id is None
    assert incident(db, still_open).version == version + 1
    assert incident(db, resolved).escalation_policy_id is None
    change = events(db, still_open, "escalation_policy_changed")[-1]
    assert (change.data["from"], change.data["to"], change.actor) == (
        "night", "default", "lead@dc.example"
    )
    assert "'night' was deleted" in change.data["reason"]
    assert len(events(db, resolved, "escalation_policy_changed")) == 1  # only the choice


def test_the_default_policy_cannot_be_deleted(db: Database, settings: Settings) -> None:
    standard = add_policy(db, "standard", [("first_line", 10)], default=True)
    with db.session() as s:
        row = s.get(EscalationPolicyRow, standard)
        assert row is not None
        with pytest.raises(PolicyDeleteRefused, match="mark another policy as the default"):
            delete_policy(s, OLENA, row, minutes(1))
    with db.session() as s:
        assert s.get(EscalationPolicyRow, standard) is not None


def test_an_incident_without_a_policy_of_its_own_follows_the_stored_default(
    db: Database, settings: Settings
) -> None:
    incident_id = open_incident(db, settings, "ups-f")
    with db.session() as s:
        assert policy_for(s, s.get(Incident, incident_id)) == DEFAULT_POLICY  # nothing stored
    standard = add_policy(db, "standard", [("second_line", 7)], default=True)
    with db.session() as s:
        expected = policy_from_row(s.get(EscalationPolicyRow, standard))
        assert policy_for(s, s.get(Incident, incident_id)) == expected


def test_the_worker_pages_the_next_step_of_the_chosen_policy(
    db: Database, settings: Settings
) -> None:
    # The built-in default waits 10 minutes on the first line; at minute 3 the engineer picks a
    # policy that waits 2: the next step is due at once (minute 3), then the shift lead at 5.
    fast = add_policy(db, "fast", [("first_line", 2), ("second_line", 2), ("shift_lead", 2)])
    incident_id = open_incident(db, settings, "ups-g")  # first line paged at opening
    with db.session() as s:
        choose_policy(s, OLENA, incident_id, fast, minutes(3))
    run_clocks(db, settings, now=minutes(3))
    run_clocks(db, settings, now=minutes(4))
    run_clocks(db, settings, now=minutes(5))
    pages = events(db, incident_id, "escalation_notified")
    assert [(e.data["position"], e.data["targets"], e.at) for e in pages] == [
        (0, ["first_line"], NOW),
        (1, ["second_line"], minutes(3)),
        (2, ["shift_lead"], minutes(5)),
    ]
