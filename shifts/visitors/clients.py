"""Clients, their contacts and their authorised persons lists (storage side).

Every function takes the SQLAlchemy ``session`` (the caller commits) and the ``actor`` (a
``Principal`` or a label, for the audit log). ID numbers are stored only masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core import audit
from shifts.visitors.orm import AuthorisedPersonRow, VisitorClient, VisitorClientContact

from . import rows as R
from .idmask import mask
from .model import AuthorisedPerson
from .storage_common import VisitorInputError, get_row


def create_client(
    session: Session, actor: Any, *, name: str, contacts: Iterable[Mapping[str, Any]] = (),
    escort_required: bool = False,
) -> VisitorClient:
    """A new client; ``contacts`` are mappings with name, email, phone, primary;
    ``escort_required``: none of its visitors enters without an escort."""
    name = (name or "").strip()
    if not name:
        raise VisitorInputError("name", "client name must not be empty")
    if session.scalar(select(VisitorClient.id).where(VisitorClient.name == name)) is not None:
        raise VisitorInputError("name", f"a client named {name!r} already exists")
    client = VisitorClient(name=name, active=True, escort_required=bool(escort_required))
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
        after={"name": name, "escort_required": client.escort_required},
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
    client = get_row(session, VisitorClient, client_id, "client")
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
    escort_required: bool = False,
) -> AuthorisedPersonRow:
    """Put a person on a client's list. ``id_number`` is the number as read; only its mask
    (``idmask.mask``) is stored."""
    get_row(session, VisitorClient, client_id, "client")
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
            escort_required=bool(escort_required),
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
        escort_required=person.escort_required,
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
        after={"scope": row.scope, "id": row.id_number_masked,
               "escort_required": row.escort_required},
    )
    return row


def set_person_active(
    session: Session, actor: Any, person_id: int, active: bool, *, now: datetime
) -> AuthorisedPersonRow:
    row = get_row(session, AuthorisedPersonRow, person_id, "authorised person")
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


def set_escort_required(
    session: Session, actor: Any, *, required: bool, client_id: int | None = None,
    person_id: int | None = None,
) -> VisitorClient | AuthorisedPersonRow:
    """Mark a client (all its visitors) or one authorised person as "escort required"."""
    if (client_id is None) == (person_id is None):
        raise VisitorInputError("escort_required", "name either a client or a person")
    if client_id is not None:
        row: Any = get_row(session, VisitorClient, client_id, "client")
        kind, who = "visitor_client", f"client {row.name}"
    else:
        row = get_row(session, AuthorisedPersonRow, person_id, "authorised person")
        kind, who = "visitor_authorised_person", row.name
    before = bool(row.escort_required)
    row.escort_required = bool(required)
    audit.record(
        session, actor, "visitors.escort_required", kind, row.id,
        summary=f"{who}: escort {'required' if required else 'no longer required'}",
        before={"escort_required": before}, after={"escort_required": row.escort_required},
    )
    return row


def authorised_person(session: Session, client_id: int, person_id: int,
                      now: datetime) -> tuple[str, str]:
    """(client name, person name) of a person on an active client's list who is authorised
    now; ``VisitorNotFound`` for an unknown client or a person not on its list,
    ``VisitorInputError`` for an inactive client or a person not (or no longer) authorised."""
    from .storage_common import VisitorNotFound

    client = get_row(session, VisitorClient, client_id, "client")
    person = get_row(session, AuthorisedPersonRow, person_id, "authorised person")
    if person.client_id != client.id:
        raise VisitorNotFound(f"no authorised person with id {person_id} for client "
                              f"#{client.id}")
    if not client.active:
        raise VisitorInputError("client_id", f"client {client.name!r} is not active")
    if not person.active or person.valid_from > now or (
            person.valid_until is not None and person.valid_until <= now):
        raise VisitorInputError("person_id", f"{person.name} is not authorised now")
    return client.name, person.name
