"""Rows ⇄ value objects for the visitor log, and the few queries the service and screens share.

Nothing here decides anything: rows are turned into the frozen dataclasses of ``model`` so the
pure rules can judge them. Anonymised rows (past retention) never become value objects: they have
no names any more and no rule needs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from shifts.visitors.orm import (
    AccessRequestRow,
    AuthorisedPersonRow,
    EquipmentMovementRow,
    VisitorClient,
    VisitRow,
)

from .areas import Area
from .badges import normalise_badge
from .model import (
    AccessRequest,
    AuthorisedPerson,
    Client,
    EquipmentMovement,
    Visit,
    VisitStatus,
)


def area_texts(areas: Iterable[Area]) -> list[str]:
    return [a.text for a in areas]


def client_of(row: VisitorClient) -> Client:
    contacts = tuple(" ".join(p for p in (c.name, c.email, c.phone) if p) for c in row.contacts)
    return Client(id=row.id, name=row.name, contacts=contacts, active=row.active,
                  escort_required=bool(row.escort_required))


def person_of(row: AuthorisedPersonRow) -> AuthorisedPerson:
    return AuthorisedPerson(
        id=row.id,
        client_id=row.client_id,
        name=row.name,
        id_document_type=row.id_document_type,
        id_number_masked=row.id_number_masked,
        scope=tuple(row.scope or ()),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        may_bring_guests=row.may_bring_guests,
        guest_limit=row.guest_limit,
        may_remove_equipment=row.may_remove_equipment,
        last_visit=row.last_visit,
        safety_briefing_on=row.safety_briefing_on,
        active=row.active,
        escort_required=bool(row.escort_required),
    )


def request_of(row: AccessRequestRow) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        client_id=row.client_id,
        people=tuple(p.name for p in row.people),
        window_start=row.window_start,
        window_end=row.window_end,
        areas=tuple(row.areas or ()),
        purpose=row.purpose,
        vehicle_plate=row.vehicle_plate,
        requested_by=row.requested_by,
        status=row.status,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def visit_of(row: VisitRow) -> Visit:
    return Visit(
        id=row.id,
        client_id=row.client_id,
        person_name=row.person_name or "",
        status=row.status,
        recorded_at=row.recorded_at,
        authorised_person_id=row.authorised_person_id,
        request_id=row.request_id,
        id_checked_by=row.id_checked_by,
        name_matched=row.name_matched,
        badge_number=row.badge_number,
        badge_expires_at=row.badge_expires_at,
        escort_visit_id=row.escort_visit_id,
        escort_staff=row.escort_staff,
        checked_in_at=row.checked_in_at,
        expected_checkout_at=row.expected_checkout_at,
        checked_out_at=row.checked_out_at,
        areas=tuple(row.areas or ()),
        purpose=row.purpose,
        nda_signed=row.nda_signed,
        safety_form_signed=row.safety_form_signed,
        denial_code=row.denial_code,
        denial_reason=row.denial_reason,
        badge_returned=row.badge_returned,
        badge_lost_recorded_by=row.badge_lost_recorded_by,
    )


def movement_of(row: EquipmentMovementRow) -> EquipmentMovement:
    return EquipmentMovement(
        id=row.id,
        visit_id=row.visit_id,
        direction=row.direction,
        description=row.description,
        serial=row.serial,
        removal_approved_by=row.removal_approved_by,
        at=row.at,
    )


def visit_values(visit: Visit) -> dict[str, Any]:
    """Column values of ``visit`` (for a new row or for updating one)."""
    return {
        "client_id": visit.client_id,
        "person_name": visit.person_name,
        "status": visit.status.value,
        "recorded_at": visit.recorded_at,
        "authorised_person_id": visit.authorised_person_id,
        "request_id": visit.request_id,
        "id_checked_by": visit.id_checked_by,
        "name_matched": visit.name_matched,
        "badge_number": visit.badge_number,
        "badge_expires_at": visit.badge_expires_at,
        "escort_visit_id": visit.escort_visit_id,
        "escort_staff": visit.escort_staff,
        "checked_in_at": visit.checked_in_at,
        "expected_checkout_at": visit.expected_checkout_at,
        "checked_out_at": visit.checked_out_at,
        "areas": area_texts(visit.areas),
        "purpose": visit.purpose,
        "nda_signed": visit.nda_signed,
        "safety_form_signed": visit.safety_form_signed,
        "denial_code": visit.denial_code,
        "denial_reason": visit.denial_reason,
        "badge_returned": visit.badge_returned,
        "badge_lost_recorded_by": visit.badge_lost_recorded_by,
        "badge_lost": visit.badge_lost,
        "on_authorised_list": visit.authorised_person_id is not None,
        "escorted": visit.escort_visit_id is not None or visit.escort_staff is not None,
    }


# --- shared queries -----------------------------------------------------------------------


def on_site_rows(session: Session, site_id: int | None = None) -> list[VisitRow]:
    """Visits on site now (at the site ``site_id``; ``None``: at every site)."""
    query = select(VisitRow).where(
        VisitRow.status == VisitStatus.ON_SITE.value, VisitRow.anonymised.is_(False))
    if site_id is not None:
        query = query.where(VisitRow.site_id == site_id)
    return list(session.scalars(query.order_by(VisitRow.checked_in_at, VisitRow.id)))


def requests_touching(
    session: Session, start: datetime, end: datetime, site_id: int | None = None
) -> list[AccessRequestRow]:
    """Requests (not anonymised) whose window overlaps ``[start, end)`` (for the site
    ``site_id``; ``None``: for every site)."""
    query = select(AccessRequestRow).where(
        AccessRequestRow.anonymised.is_(False),
        AccessRequestRow.window_start < end,
        AccessRequestRow.window_end > start,
    )
    if site_id is not None:
        query = query.where(AccessRequestRow.site_id == site_id)
    return list(session.scalars(
        query.order_by(AccessRequestRow.window_start, AccessRequestRow.id)))


def visit_search(
    *,
    person: str | None = None,
    client_id: int | None = None,
    badge: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    site_id: int | None = None,
) -> Select[tuple[VisitRow]]:
    """Visits matching the filters, newest first (shared by the log screen, CSV and API).

    ``since``/``until`` select on when the visit was recorded (arrival at the desk);
    ``site_id`` on the site whose desk recorded it (``None``: every site).
    """
    query = select(VisitRow).order_by(VisitRow.recorded_at.desc(), VisitRow.id.desc())
    if person:
        query = query.where(
            VisitRow.person_name.ilike(f"%{_escape_like(person.strip())}%", escape="\\")
        )
    if client_id is not None:
        query = query.where(VisitRow.client_id == client_id)
    if badge:
        # stored badges are in their one form, so " b-001 " finds B001
        query = query.where(VisitRow.badge_number == normalise_badge(badge))
    if status:
        query = query.where(VisitRow.status == status)
    if since is not None:
        query = query.where(VisitRow.recorded_at >= since)
    if until is not None:
        query = query.where(VisitRow.recorded_at < until)
    if site_id is not None:
        query = query.where(VisitRow.site_id == site_id)
    return query


def person_search(session: Session, text: str, limit: int = 12) -> list[AuthorisedPersonRow]:
    """Active authorised persons whose name contains every word of ``text``."""
    words = [w for w in text.split() if w]
    if not words:
        return []
    query = select(AuthorisedPersonRow).where(AuthorisedPersonRow.active.is_(True))
    for word in words:
        query = query.where(AuthorisedPersonRow.name.ilike(f"%{_escape_like(word)}%", escape="\\"))
    return list(session.scalars(query.order_by(AuthorisedPersonRow.name).limit(limit)))


def request_person_search(
    session: Session, text: str, start: datetime, end: datetime, limit: int = 12,
    site_id: int | None = None,
) -> list[tuple[AccessRequestRow, str]]:
    """(request, name) for approved requests overlapping ``[start, end)`` naming ``text``
    (for the site ``site_id``; ``None``: every site)."""
    words = [w.casefold() for w in text.split() if w]
    if not words:
        return []
    found = []
    for row in requests_touching(session, start, end, site_id):
        if row.status != "approved":
            continue
        for person in row.people:
            if all(w in person.name.casefold() for w in words):
                found.append((row, person.name))
    return found[:limit]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
