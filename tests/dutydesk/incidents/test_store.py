"""Incident storage: compare-and-set actions, the open-key rule, and check flips consumed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from checks.models import Check, CheckDependency, CheckStateRow, FlipRow
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.incidents.jobs import process_flips
from dutydesk.incidents.lifecycle import TransitionRefused
from dutydesk.incidents.models import Incident
from dutydesk.incidents.store import ConcurrentUpdate, act, state_of

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def add_check(db: Database, slug: str, **extra: object) -> int:
    with db.session() as s:
        check = Check(slug=slug, display_name=slug.upper(), type="tcp", spec={}, **extra)
        s.add(check)
        s.flush()
        return check.id


def flip(db: Database, check_id: int, kind: str, old: str | None, new: str, minutes: int) -> None:
    with db.session() as s:
        s.add(
            FlipRow(
                check_id=check_id,
                kind=kind,
                old_status=old,
                new_status=new,
                reason=f"{new.lower()} by test",
                at=NOW + timedelta(minutes=minutes),
            )
        )


def test_a_check_going_down_and_up_opens_and_auto_resolves_one_incident(
    db: Database, settings: Settings
) -> None:
    check_id = add_check(db, "ups-a", service="power", impact=1)
    flip(db, check_id, "problem", "OK", "CRITICAL", 0)
    assert process_flips(db, settings, now=NOW) == 1
    assert process_flips(db, settings, now=NOW) == 0  # each flip is consumed once
    with db.session() as s:
        [incident] = s.scalars(select(Incident)).all()
        assert (incident.status, incident.priority, incident.service) == (
            "triggered",
            "P1",
            "power",
        )
        assert incident.check_id == check_id
    flip(db, check_id, "recovery", "CRITICAL", "OK", 5)
    process_flips(db, settings, now=NOW + timedelta(minutes=5))
    with db.session() as s:
        assert s.get(Incident, incident.id).status == "resolved"


def test_informational_flips_are_marked_processed_without_an_incident(
    db: Database, settings: Settings
) -> None:
    check_id = add_check(db, "crac-1")
    flip(db, check_id, "flapping_started", "OK", "WARNING", 0)
    assert process_flips(db, settings, now=NOW) == 1
    with db.session() as s:
        assert s.scalars(select(Incident)).all() == []
        assert s.scalar(select(FlipRow.processed_at)) is not None


def test_a_check_behind_a_down_parent_is_muted(db: Database, settings: Settings) -> None:
    switch = add_check(db, "switch-b")
    server = add_check(db, "server-b12")
    with db.session() as s:
        s.add(CheckDependency(child_id=server, parent_id=switch))
        s.add(CheckStateRow(check_id=switch, status="CRITICAL", state_type="HARD", next_due_at=NOW))
    flip(db, server, "problem", "OK", "CRITICAL", 0)
    process_flips(db, settings, now=NOW)
    with db.session() as s:
        assert s.scalars(select(Incident)).all() == []


def test_an_action_on_a_stale_version_is_refused(db: Database, settings: Settings) -> None:
    check_id = add_check(db, "pdu-1")
    flip(db, check_id, "problem", "OK", "CRITICAL", 0)
    process_flips(db, settings, now=NOW)
    with db.session() as s:
        incident = s.scalar(select(Incident))
        seen = incident.version
        act(s, incident.id, "note", "olena", NOW, text="looking")
    with pytest.raises(ConcurrentUpdate), db.session() as s:
        act(s, incident.id, "acknowledge", "taras", NOW, expected_version=seen)


def test_state_round_trips_through_the_row(db: Database, settings: Settings) -> None:
    check_id = add_check(db, "pdu-2")
    flip(db, check_id, "problem", "OK", "WARNING", 0)
    process_flips(db, settings, now=NOW)
    with db.session() as s:
        incident = s.scalar(select(Incident))
        act(s, incident.id, "reassign", "olena", NOW, line="second_line", reason="vendor")
        act(s, incident.id, "reassign", "taras", NOW, line="first_line", reason="not ours")
        stored = s.get(Incident, incident.id)
        state = state_of(stored)
    assert state.ping_pong_count == 1
    assert [line.value for line in state.lines_seen] == ["first_line", "second_line"]
    with pytest.raises(TransitionRefused), db.session() as s:
        act(s, incident.id, "resolve", "olena", NOW, note="fixed")
        act(s, incident.id, "acknowledge", "taras", NOW)
