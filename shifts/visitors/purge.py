"""Rule 6 on the stored log: deactivate idle authorisations, anonymise data past retention.

The decisions (who is idle, what is past retention, what the anonymised record keeps) come from
the pure ``retention`` module; this applies them to the rows and audits the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from shifts.visitors.orm import (
    AccessRequestRow,
    AuthorisedPersonRow,
    EquipmentMovementRow,
    VisitRow,
)

from . import rows as R
from .model import VisitStatus, require_aware
from .retention import RetentionPolicy, persons_to_deactivate, plan_purge


@dataclass(frozen=True, slots=True)
class RetentionReport:
    deactivated: int
    visits_purged: int
    requests_purged: int


def run_retention(
    session: Session, actor: Any, *, policy: RetentionPolicy, now: datetime
) -> RetentionReport:
    """Deactivate idle authorised persons and anonymise visits and requests past retention."""
    require_aware("now", now)
    persons = {
        p.id: p
        for p in session.scalars(
            select(AuthorisedPersonRow).where(AuthorisedPersonRow.active.is_(True))
        )
    }
    idle = persons_to_deactivate([R.person_of(p) for p in persons.values()], now, policy)
    for person in idle:
        row = persons[person.id]
        row.active = False
        row.deactivated_at = now
        audit.record(
            session,
            actor,
            "visitors.person.deactivate",
            "visitor_authorised_person",
            row.id,
            summary=f"no visit in {policy.deactivate_after_days} days",
        )

    cutoff = now - policy.retention
    # Only visits recorded before the cutoff can be past retention; on-site ones are needed to
    # tell "still inside". Guests of an old escort were recorded while the escort was inside.
    visit_rows = list(
        session.scalars(
            select(VisitRow).where(
                VisitRow.anonymised.is_(False),
                (VisitRow.recorded_at <= cutoff) | (VisitRow.status == VisitStatus.ON_SITE.value),
            )
        )
    )
    request_rows = list(
        session.scalars(
            select(AccessRequestRow).where(
                AccessRequestRow.anonymised.is_(False), AccessRequestRow.window_end <= cutoff
            )
        )
    )
    old_ids = [v.id for v in visit_rows]
    movement_rows = (
        list(
            session.scalars(
                select(EquipmentMovementRow).where(EquipmentMovementRow.visit_id.in_(old_ids))
            )
        )
        if old_ids
        else []
    )
    plan = plan_purge(
        visits=[R.visit_of(v) for v in visit_rows],
        requests=[R.request_of(r) for r in request_rows],
        movements=[R.movement_of(m) for m in movement_rows],
        now=now,
        policy=policy,
    )
    by_id = {v.id: v for v in visit_rows}
    for anon in plan.visits:
        _anonymise_visit_row(by_id[anon.id], anon)
    purged_ids = {a.id for a in plan.visits}
    for m in movement_rows:
        if m.visit_id in purged_ids:
            session.delete(m)
    requests_by_id = {r.id: r for r in request_rows}
    for anon in plan.requests:
        row = requests_by_id[anon.id]
        row.people = []
        row.vehicle_plate = None
        row.purpose = ""
        row.racks = ""
        row.requested_by = ""
        row.decided_by = None
        row.decision_note = ""
        row.people_count = anon.people_count
        row.had_vehicle = anon.had_vehicle
        row.anonymised = True
        row.purged_at = now
    if plan.visits or plan.requests or idle:
        audit.record(
            session,
            actor,
            "visitors.retention",
            "visitor_log",
            None,
            summary=f"{len(idle)} person(s) deactivated, {len(plan.visits)} visit(s) and "
            f"{len(plan.requests)} request(s) anonymised",
        )
    return RetentionReport(len(idle), len(plan.visits), len(plan.requests))


def _anonymise_visit_row(row: VisitRow, anon: Any) -> None:
    row.person_name = None
    row.authorised_person_id = None
    row.id_checked_by = None
    row.badge_number = None
    row.escort_visit_id = None
    row.escort_staff = None
    row.purpose = ""
    row.denial_reason = None
    row.badge_lost_recorded_by = None
    row.recorded_by = None
    row.on_authorised_list = anon.on_authorised_list
    row.escorted = anon.escorted
    row.guest_count = anon.guest_count
    row.equipment_in_count = anon.equipment_in_count
    row.equipment_out_count = anon.equipment_out_count
    row.badge_lost = anon.badge_lost
    row.anonymised = True
    row.purged_at = anon.purged_at
