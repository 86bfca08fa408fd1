"""The visitor log's storage service: load rows, ask the pure rules, write the outcome, audit.

Every function takes the SQLAlchemy ``session`` (the caller commits), the ``actor`` (a
``Principal`` or a label, for the audit log) and, where time matters, ``now`` (aware UTC).
Decisions come from ``checkin``/``rules``/``onsite``/``retention``; nothing here re-implements
them. Audit entries for visits never carry visitor names (they would outlive the purge): they
name the visit id, the client id and the rule code.

Errors: bad input raises ``VisitorInputError`` (a ValueError naming the field); a missing row
raises ``VisitorNotFound`` (a LookupError).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk import audit
from dutydesk.models.visitors import (
    AccessRequestPerson,
    AccessRequestRow,
    AuthorisedPersonRow,
    EquipmentMovementRow,
    VisitorClient,
    VisitorClientContact,
    VisitRow,
)

from . import rows as R
from .checkin import CheckInAttempt, CheckInDecision
from .checkin import check_in as decide_check_in
from .decision import Decision, RuleCode
from .idmask import mask
from .model import (
    AccessRequest,
    AuthorisedPerson,
    Direction,
    EquipmentMovement,
    RequestStatus,
    SitePolicy,
    VisitorDataError,
    VisitStatus,
    require_aware,
)
from .onsite import ExpectedVisitor, OnSite, Overstay, expected_today, overstays, people_on_site
from .retention import RetentionPolicy, persons_to_deactivate, plan_purge
from .rules import CheckOutDecision, equipment_movement_allowed
from .rules import check_out as decide_check_out

# How far back check-in looks for a client's requests (so "outside its window" can be explained).
REQUEST_LOOKBACK = timedelta(days=31)
SETTINGS_KEYS = {
    "timezone",
    "require_nda",
    "require_safety_form",
    "safety_briefing_valid_days",
    "deactivate_after_days",
    "purge_after_days",
}


class VisitorInputError(ValueError):
    """Input the desk or an API client must correct; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class VisitorNotFound(LookupError):
    pass


# --- settings -----------------------------------------------------------------------------


def policies_from_settings(
    extra: Mapping[str, Any] | None, default_timezone: str
) -> tuple[SitePolicy, RetentionPolicy]:
    """The site and retention policies from the ``visitors`` settings section.

    Keys: timezone (IANA, default: the app's zone), require_nda, require_safety_form (bool,
    default true), safety_briefing_valid_days (int or null, default 365),
    deactivate_after_days (default 365), purge_after_days (default 365, at least 90).
    """
    section = dict(extra or {})
    unknown = sorted(set(section) - SETTINGS_KEYS)
    if unknown:
        raise VisitorInputError(
            "visitors",
            f"unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SETTINGS_KEYS))}",
        )
    for key in ("require_nda", "require_safety_form"):
        if key in section and not isinstance(section[key], bool):
            raise VisitorInputError(
                f"visitors.{key}", f"must be true or false, got {section[key]!r}"
            )
    try:
        site = SitePolicy(
            timezone=section.get("timezone", default_timezone),
            require_nda=section.get("require_nda", True),
            require_safety_form=section.get("require_safety_form", True),
            safety_briefing_valid_days=section.get("safety_briefing_valid_days", 365),
        )
        retention = RetentionPolicy(
            deactivate_after_days=section.get("deactivate_after_days", 365),
            purge_after_days=section.get("purge_after_days", 365),
        )
    except (VisitorDataError, ValueError) as exc:
        raise VisitorInputError("visitors", str(exc)) from None
    return site, retention


# --- clients and authorised persons -------------------------------------------------------


def _get(session: Session, model: type, row_id: int, what: str) -> Any:
    row = session.get(model, row_id)
    if row is None or getattr(row, "anonymised", False):
        raise VisitorNotFound(f"no {what} with id {row_id}")
    return row


def create_client(
    session: Session, actor: Any, *, name: str, contacts: Iterable[Mapping[str, Any]] = ()
) -> VisitorClient:
    """A new client; ``contacts`` are mappings with name, email, phone, primary."""
    name = (name or "").strip()
    if not name:
        raise VisitorInputError("name", "client name must not be empty")
    if session.scalar(select(VisitorClient.id).where(VisitorClient.name == name)) is not None:
        raise VisitorInputError("name", f"a client named {name!r} already exists")
    client = VisitorClient(name=name, active=True)
    session.add(client)
    for contact in contacts:
        add_contact(session, actor, client, **contact)
    session.flush()
    audit.record(
        session,
        actor,
        "visitors.client.create",
        "visitor_client",
        client.id,
        summary=f"client {name} created",
        after={"name": name},
    )
    return client


def add_contact(
    session: Session,
    actor: Any,
    client: VisitorClient,
    *,
    name: str,
    email: str = "",
    phone: str = "",
    primary: bool = False,
) -> VisitorClientContact:
    if not (name or "").strip():
        raise VisitorInputError("contact name", "must not be empty")
    contact = VisitorClientContact(
        name=name.strip(),
        email=(email or "").strip(),
        phone=(phone or "").strip(),
        is_primary=bool(primary),
    )
    client.contacts.append(contact)
    session.flush()
    audit.record(
        session,
        actor,
        "visitors.contact.create",
        "visitor_client",
        client.id,
        summary=f"contact {contact.name} added to {client.name}",
    )
    return contact


def set_client_active(session: Session, actor: Any, client_id: int, active: bool) -> VisitorClient:
    client = _get(session, VisitorClient, client_id, "client")
    before = client.active
    client.active = bool(active)
    audit.record(
        session,
        actor,
        "visitors.client.update",
        "visitor_client",
        client.id,
        summary=f"client {client.name} {'activated' if active else 'deactivated'}",
        before={"active": before},
        after={"active": client.active},
    )
    return client


def add_authorised_person(
    session: Session,
    actor: Any,
    *,
    client_id: int,
    name: str,
    id_document_type: str,
    id_number: str,
    scope: Iterable[str] | str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    may_bring_guests: bool = False,
    guest_limit: int = 0,
    may_remove_equipment: bool = False,
    safety_briefing_on: date | None = None,
) -> AuthorisedPersonRow:
    """Put a person on a client's list. ``id_number`` is the number as read; only its mask
    (``idmask.mask``) is stored."""
    _get(session, VisitorClient, client_id, "client")
    if isinstance(scope, str):
        scope = [part for part in scope.replace(";", ",").split(",") if part.strip()]
    try:
        person = AuthorisedPerson(
            client_id=client_id,
            name=(name or "").strip(),
            id_document_type=id_document_type,
            id_number_masked=mask(id_number or ""),
            scope=tuple(scope),
            valid_from=valid_from,
            valid_until=valid_until,
            may_bring_guests=may_bring_guests,
            guest_limit=guest_limit,
            may_remove_equipment=may_remove_equipment,
            safety_briefing_on=safety_briefing_on,
        )
    except ValueError as exc:
        raise VisitorInputError("authorised person", str(exc)) from None
    row = AuthorisedPersonRow(
        client_id=client_id,
        name=person.name,
        id_document_type=person.id_document_type.value,
        id_number_masked=person.id_number_masked,
        scope=R.area_texts(person.scope),
        valid_from=person.valid_from,
        valid_until=person.valid_until,
        may_bring_guests=person.may_bring_guests,
        guest_limit=person.guest_limit,
        may_remove_equipment=person.may_remove_equipment,
        safety_briefing_on=person.safety_briefing_on,
        active=True,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "visitors.person.create",
        "visitor_authorised_person",
        row.id,
        summary=f"{row.name} authorised for client #{client_id}",
        after={"scope": row.scope, "id": row.id_number_masked},
    )
    return row


def set_person_active(
    session: Session, actor: Any, person_id: int, active: bool, *, now: datetime
) -> AuthorisedPersonRow:
    row = _get(session, AuthorisedPersonRow, person_id, "authorised person")
    before = row.active
    row.active = bool(active)
    row.deactivated_at = None if active else now
    audit.record(
        session,
        actor,
        "visitors.person.update",
        "visitor_authorised_person",
        row.id,
        summary=f"{row.name} {'re-activated' if active else 'deactivated'}",
        before={"active": before},
        after={"active": row.active},
    )
    return row


# --- access requests ----------------------------------------------------------------------


def create_request(
    session: Session,
    actor: Any,
    *,
    client_id: int,
    people: Iterable[str],
    window_start: datetime,
    window_end: datetime,
    areas: Iterable[str] | str,
    purpose: str = "",
    racks: str = "",
    vehicle_plate: str | None = None,
    requested_by: str = "",
    now: datetime,
) -> AccessRequestRow:
    """A pending access request (validated by ``AccessRequest``)."""
    client = _get(session, VisitorClient, client_id, "client")
    if isinstance(areas, str):
        areas = [a for a in areas.replace(";", ",").split(",") if a.strip()]
    names = [p.strip() for p in people if p and p.strip()]
    plate = (vehicle_plate or "").strip() or None
    try:
        request = AccessRequest(
            client_id=client.id,
            people=tuple(names),
            window_start=window_start,
            window_end=window_end,
            areas=tuple(areas),
            purpose=purpose or "",
            vehicle_plate=plate,
            requested_by=requested_by or "",
        )
    except ValueError as exc:
        raise VisitorInputError("access request", str(exc)) from None
    if request.window_end <= now:
        raise VisitorInputError(
            "window_end", f"the window ended already ({request.window_end.isoformat()})"
        )
    row = AccessRequestRow(
        client_id=client.id,
        window_start=request.window_start,
        window_end=request.window_end,
        areas=R.area_texts(request.areas),
        purpose=request.purpose,
        racks=(racks or "").strip(),
        vehicle_plate=plate,
        requested_by=request.requested_by or _label(actor),
        status=RequestStatus.PENDING.value,
        people_count=len(names),
        had_vehicle=plate is not None,
        created_at=now,
    )
    row.people = [AccessRequestPerson(name=n) for n in names]
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "visitors.request.create",
        "visitor_access_request",
        row.id,
        summary=f"request for {len(names)} person(s) of client #{client.id}",
        after={
            "window_start": row.window_start.isoformat(),
            "window_end": row.window_end.isoformat(),
            "areas": row.areas,
        },
    )
    return row


def decide_request(
    session: Session,
    actor: Any,
    request_id: int,
    *,
    approve: bool,
    note: str = "",
    now: datetime,
) -> AccessRequestRow:
    """Approve or reject a pending request; a decided request cannot be decided again."""
    row = _get(session, AccessRequestRow, request_id, "access request")
    if row.status != RequestStatus.PENDING.value:
        raise VisitorInputError(
            "status",
            f"access request #{row.id} is already {row.status}; only a pending "
            "request can be approved or rejected",
        )
    row.status = (RequestStatus.APPROVED if approve else RequestStatus.REJECTED).value
    row.decided_by = _label(actor)
    row.decided_at = now
    row.decision_note = (note or "").strip()[:500]
    audit.record(
        session,
        actor,
        f"visitors.request.{'approve' if approve else 'reject'}",
        "visitor_access_request",
        row.id,
        summary=f"request #{row.id} {row.status}",
        before={"status": "pending"},
        after={"status": row.status},
    )
    return row


# --- check-in, check-out, equipment -------------------------------------------------------


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
) -> CheckInOutcome:
    """Judge ``attempt`` with the pure rule and store the result.

    Allowed: an ON_SITE visit; the authorised person's ``last_visit`` becomes ``now``.
    Denied (not correctable): a DENIED visit with code and reason. Correctable: nothing stored.
    """
    require_aware("now", now)
    client_row = _get(session, VisitorClient, client_id, "client")
    persons = session.scalars(
        select(AuthorisedPersonRow).where(AuthorisedPersonRow.client_id == client_id)
    )
    requests = session.scalars(
        select(AccessRequestRow).where(
            AccessRequestRow.client_id == client_id,
            AccessRequestRow.anonymised.is_(False),
            AccessRequestRow.window_end > now - REQUEST_LOOKBACK,
        )
    )
    decision = decide_check_in(
        attempt,
        client=R.client_of(client_row),
        authorised=[R.person_of(p) for p in persons],
        requests=[R.request_of(r) for r in requests],
        visits=[R.visit_of(v) for v in R.on_site_rows(session)],
        policy=policy,
        now=now,
    )
    if decision.visit is None:
        return CheckInOutcome(decision, None)
    row = VisitRow(**R.visit_values(decision.visit), recorded_by=_label(actor))
    row.basis = decision.basis.value if decision.basis else None
    session.add(row)
    session.flush()
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
            f"visit #{row.id} for client #{client_id}: "
            + (
                f"checked in ({row.basis}), badge {row.badge_number}"
                if decision.allowed
                else f"denied ({decision.code.value})"
            )
        ),
        after={"status": row.status, "code": decision.code.value, "areas": row.areas},
    )
    return CheckInOutcome(decision, row)


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
    row = _get(session, VisitRow, visit_id, "visit")
    on_site = [R.visit_of(v) for v in R.on_site_rows(session)]
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
    row = _get(session, VisitRow, visit_id, "visit")
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
        recorded_by=_label(actor),
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


# --- views --------------------------------------------------------------------------------


def on_site_now(session: Session, now: datetime) -> list[OnSite]:
    return people_on_site([R.visit_of(v) for v in R.on_site_rows(session)], now)


def overstays_now(session: Session, now: datetime) -> list[Overstay]:
    visits = [R.visit_of(v) for v in R.on_site_rows(session)]
    ids = {v.request_id for v in visits if v.request_id is not None}
    requests = (
        session.scalars(select(AccessRequestRow).where(AccessRequestRow.id.in_(ids))) if ids else []
    )
    return overstays(visits, [R.request_of(r) for r in requests], now)


def expected_now(session: Session, now: datetime, policy: SitePolicy) -> list[ExpectedVisitor]:
    """Today's expected visitors (site time zone), with what became of them."""
    start, end = now - timedelta(days=2), now + timedelta(days=2)
    requests = [R.request_of(r) for r in R.requests_touching(session, start, end)]
    visits = session.scalars(
        select(VisitRow).where(VisitRow.anonymised.is_(False), VisitRow.recorded_at >= start)
    )
    return expected_today(requests, [R.visit_of(v) for v in visits], now, policy.timezone)


CSV_COLUMNS = (
    "visit_id",
    "client",
    "person",
    "status",
    "basis",
    "recorded_at",
    "checked_in_at",
    "checked_out_at",
    "expected_checkout_at",
    "badge",
    "badge_expires_at",
    "badge_returned",
    "escort",
    "areas",
    "purpose",
    "request_id",
    "id_checked_by",
    "denial_code",
    "denial_reason",
)


def csv_rows(session: Session, visits: Iterable[VisitRow]) -> list[list[str]]:
    """The visit log as CSV cells (times in ISO 8601 UTC); anonymised rows have empty names."""
    clients = dict(session.execute(select(VisitorClient.id, VisitorClient.name)).all())
    escorts: dict[int, str] = {}
    out = []
    for v in visits:
        escort = v.escort_staff or ""
        if v.escort_visit_id is not None:
            if v.escort_visit_id not in escorts:
                other = session.get(VisitRow, v.escort_visit_id)
                escorts[v.escort_visit_id] = (other.person_name or "") if other else ""
            escort = escorts[v.escort_visit_id]
        out.append(
            [
                str(v.id),
                clients.get(v.client_id, ""),
                v.person_name or "",
                v.status,
                v.basis or "",
                _iso(v.recorded_at),
                _iso(v.checked_in_at),
                _iso(v.checked_out_at),
                _iso(v.expected_checkout_at),
                v.badge_number or "",
                _iso(v.badge_expires_at),
                "yes" if v.badge_returned else "no",
                escort,
                "; ".join(v.areas or []),
                v.purpose or "",
                str(v.request_id or ""),
                v.id_checked_by or "",
                v.denial_code or "",
                v.denial_reason or "",
            ]
        )
    return out


def export_csv(session: Session, visits: Iterable[VisitRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(session, visits))
    return buffer.getvalue()


# --- retention (rule 6) -------------------------------------------------------------------


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


# --- helpers ------------------------------------------------------------------------------


def _label(actor: Any) -> str:
    return getattr(actor, "label", None) or str(actor)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


__all__ = [
    "CSV_COLUMNS",
    "CheckInOutcome",
    "Direction",
    "RetentionReport",
    "RuleCode",
    "VisitorInputError",
    "VisitorNotFound",
    "add_authorised_person",
    "add_contact",
    "check_in",
    "check_out",
    "create_client",
    "create_request",
    "decide_request",
    "expected_now",
    "export_csv",
    "on_site_now",
    "overstays_now",
    "policies_from_settings",
    "record_equipment",
    "run_retention",
    "set_client_active",
    "set_person_active",
]
