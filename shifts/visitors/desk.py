"""The desk's writes: check-in (rules 1 and 2), check-out (rules 2 and 3), equipment (rule 4).

Each function loads the rows, asks the pure rule, stores the outcome and audits it. Audit
entries for visits never carry visitor names (they would outlive the purge): they name the
visit id, the client id and the rule code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.site_scope import default_site
from shifts.visitors.orm import (
    OPEN_BADGE_INDEX,
    AccessRequestRow,
    AuthorisedPersonRow,
    EquipmentMovementRow,
    VisitorClient,
    VisitRow,
)

from . import rows as R
from .checkin import CheckInAttempt, CheckInDecision
from .checkin import check_in as decide_check_in
from .decision import Decision, RuleCode
from .model import EquipmentMovement, SitePolicy, VisitorDataError, require_aware
from .rules import CheckOutDecision, equipment_movement_allowed
from .rules import check_out as decide_check_out
from .storage_common import VisitorInputError, actor_label, get_row

# How far back check-in looks for a client's requests (so "outside its window" can be explained).
REQUEST_LOOKBACK = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class CheckInOutcome:
    """The rule's decision and the stored row (None when the refusal was correctable)."""

    decision: CheckInDecision
    row: VisitRow | None


def check_in(
    session: Session,
    actor: Any,
    *,
    client_id: int,
    attempt: CheckInAttempt,
    policy: SitePolicy,
    now: datetime,
    site_id: int | None = None,
) -> CheckInOutcome:
    """Judge ``attempt`` with the pure rule and store the result, at the desk of the site
    ``site_id`` (``None``: the default site).

    Each site's desk is on its own: only the site's own access requests let a visitor in, and
    "already on site", escorts and badge numbers are judged against the visits on site *at that
    site* (badge 7 may be out at two sites at once, never twice at one).

    Allowed: an ON_SITE visit; the authorised person's ``last_visit`` becomes ``now``.
    Denied (not correctable): a DENIED visit with code and reason. Correctable: nothing stored.
    """
    require_aware("now", now)
    client_row = get_row(session, VisitorClient, client_id, "client")
    site_id = site_id if site_id is not None else default_site(session).id
    persons = session.scalars(
        select(AuthorisedPersonRow).where(AuthorisedPersonRow.client_id == client_id)
    )
    requests = session.scalars(
        select(AccessRequestRow).where(
            AccessRequestRow.client_id == client_id,
            AccessRequestRow.site_id == site_id,
            AccessRequestRow.anonymised.is_(False),
            AccessRequestRow.window_end > now - REQUEST_LOOKBACK,
        )
    )
    decision = decide_check_in(
        attempt,
        client=R.client_of(client_row),
        authorised=[R.person_of(p) for p in persons],
        requests=[R.request_of(r) for r in requests],
        visits=[R.visit_of(v) for v in R.on_site_rows(session, site_id)],
        policy=policy,
        now=now,
    )
    if decision.visit is None:
        return CheckInOutcome(decision, None)
    row = VisitRow(**R.visit_values(decision.visit), recorded_by=actor_label(actor),
                   site_id=site_id)
    row.basis = decision.basis.value if decision.basis else None
    try:
        # A savepoint, so losing the race for a badge leaves the caller's transaction usable.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        if not (decision.allowed and _is_open_badge_clash(exc)):
            raise
        return CheckInOutcome(_badge_taken_meanwhile(attempt), None)
    if decision.allowed and row.authorised_person_id is not None:
        person = session.get(AuthorisedPersonRow, row.authorised_person_id)
        if person is not None:
            person.last_visit = now
    action = "visitors.visit.check_in" if decision.allowed else "visitors.visit.deny"
    audit.record(
        session,
        actor,
        action,
        "visitor_visit",
        row.id,
        summary=(
            f"visit #{row.id} for client #{client_id} at site #{site_id}: "
            + (
                f"checked in ({row.basis}), badge {row.badge_number}"
                if decision.allowed
                else f"denied ({decision.code.value})"
            )
        ),
        after={"status": row.status, "code": decision.code.value, "areas": row.areas},
    )
    return CheckInOutcome(decision, row)


def _is_open_badge_clash(exc: IntegrityError) -> bool:
    """True when ``exc`` is the open-badge unique index refusing (PostgreSQL names the index,
    SQLite the column)."""
    text = str(exc.orig)
    return OPEN_BADGE_INDEX in text or "visitor_visits.badge_number" in text


def _badge_taken_meanwhile(attempt: CheckInAttempt) -> CheckInDecision:
    # The same refusal the badge rule gives: another desk issued this badge between our read
    # and our write. Correctable, so nothing is stored and the desk picks another badge.
    return CheckInDecision.deny(
        RuleCode.BADGE_IN_USE,
        f"badge {attempt.badge_number} was just issued to another visitor who is on site; "
        "pick another badge",
    )


def check_out(
    session: Session,
    actor: Any,
    visit_id: int,
    *,
    badge_returned: bool,
    badge_lost_recorded_by: str | None = None,
    now: datetime,
) -> CheckOutDecision:
    """Check a visitor out (rules 2 and 3); the row is updated only when allowed."""
    row = get_row(session, VisitRow, visit_id, "visit")
    on_site = [R.visit_of(v) for v in R.on_site_rows(session, row.site_id)]
    decision = decide_check_out(
        R.visit_of(row),
        visits=on_site,
        badge_returned=badge_returned,
        badge_lost_recorded_by=(badge_lost_recorded_by or "").strip() or None,
        now=now,
    )
    if decision.allowed and decision.visit is not None:
        left = decision.visit
        row.status = left.status.value
        row.checked_out_at = left.checked_out_at
        row.badge_returned = left.badge_returned
        row.badge_lost_recorded_by = left.badge_lost_recorded_by
        row.badge_lost = left.badge_lost
        audit.record(
            session,
            actor,
            "visitors.visit.check_out",
            "visitor_visit",
            row.id,
            summary=f"visit #{row.id} checked out"
            + ("" if left.badge_returned else ", badge lost"),
            before={"status": "on_site"},
            after={"status": row.status, "badge_returned": row.badge_returned},
        )
    return decision


def record_equipment(
    session: Session,
    actor: Any,
    visit_id: int,
    *,
    direction: str,
    description: str,
    serial: str | None = None,
    removal_approved_by: str | None = None,
    now: datetime,
) -> tuple[Decision, EquipmentMovementRow | None]:
    """Record equipment carried in or out (rule 4); stored only when allowed."""
    row = get_row(session, VisitRow, visit_id, "visit")
    try:
        movement = EquipmentMovement(
            visit_id=row.id,
            direction=direction,
            description=(description or "").strip(),
            serial=(serial or "").strip() or None,
            removal_approved_by=(removal_approved_by or "").strip() or None,
            at=now,
        )
    except VisitorDataError as exc:
        raise VisitorInputError("equipment", str(exc)) from None
    person_row = (
        session.get(AuthorisedPersonRow, row.authorised_person_id)
        if row.authorised_person_id is not None
        else None
    )
    decision = equipment_movement_allowed(
        movement,
        visit=R.visit_of(row),
        person=R.person_of(person_row) if person_row is not None else None,
        now=now,
    )
    if not decision.allowed:
        return decision, None
    stored = EquipmentMovementRow(
        visit_id=row.id,
        direction=movement.direction.value,
        description=movement.description,
        serial=movement.serial,
        removal_approved_by=movement.removal_approved_by,
        at=now,
        recorded_by=actor_label(actor),
    )
    session.add(stored)
    session.flush()
    audit.record(
        session,
        actor,
        f"visitors.equipment.{movement.direction.value}",
        "visitor_visit",
        row.id,
        summary=f"equipment {movement.direction.value} for visit #{row.id}: {decision.reason}",
    )
    return decision, stored


def movements_of(session: Session, visit_id: int) -> list[EquipmentMovementRow]:
    return list(
        session.scalars(
            select(EquipmentMovementRow)
            .where(EquipmentMovementRow.visit_id == visit_id)
            .order_by(EquipmentMovementRow.at, EquipmentMovementRow.id)
        )
    )
