"""Data-center clients' requests: remote hands and equipment installation, filed through the
client API by a person on the client's authorised persons list (the visitor log).

An installation request may name the visit (people, window, areas, racks): the matching
visitor access request is created with it, pending approval at the desk like any other, and
the request's timeline names it. Both are stored in one transaction or neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.timeutil import TimestampError, parse_timestamp
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import ServiceRequest
from dutydesk.requests.rules import RequestInputError
from dutydesk.requests.service import Actor, Requester, create_request, perform
from shifts.visitors.access_requests import create_request as create_access_request
from shifts.visitors.clients import authorised_person
from shifts.visitors.storage_common import VisitorInputError, VisitorNotFound

KINDS = {  # kind → (service, category, request type)
    "remote_hands": ("Remote hands", "remote hands", "service_request"),
    "installation": ("Equipment installation", "installation", "service_request"),
}


class ClientNotAuthorised(LookupError):
    """The client or the person is unknown, or the person is not on the client's list (404)."""


@dataclass(frozen=True, slots=True)
class ClientRequest:
    request: ServiceRequest
    access_request_id: int | None


def file_client_request(session: Session, settings: Settings, actor: Actor, *,
                        client_id: Any, person_id: Any, requester_email: Any, kind: Any,
                        description: Any, now: datetime, subject: Any = "",
                        urgency: Any = 2, visit: Any = None) -> ClientRequest:
    """Register a client's request; ``RequestInputError`` (400) or ``ClientNotAuthorised``
    (404) with nothing stored. ``visit`` (installation only): ``{"window_start",
    "window_end", "areas", "people" (default: the filing person), "racks", "vehicle_plate"}``."""
    if kind not in KINDS:
        raise RequestInputError(f"kind must be one of {', '.join(KINDS)}")
    for name, value in (("client_id", client_id), ("person_id", person_id)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RequestInputError(f"{name} must be a number")
    if visit is not None and kind != "installation":
        raise RequestInputError("only an installation request can ask for a visit")
    if visit is not None and not isinstance(visit, dict):
        raise RequestInputError("visit must be an object")
    try:
        client_name, person_name = authorised_person(session, client_id, person_id, now)
    except VisitorNotFound as exc:
        raise ClientNotAuthorised(str(exc)) from None
    except VisitorInputError as exc:
        raise RequestInputError(str(exc)) from None
    service, category, request_type = KINDS[kind]
    row = create_request(
        session, settings, actor,
        Requester(email=str(requester_email) if isinstance(requester_email, str) else "",
                  name=f"{person_name} ({client_name})"[:200], person_id=person_id),
        service=service, category=category, request_type=request_type, channel="client_api",
        description=description, subject=subject, urgency=urgency, impact=3, now=now)
    access_id = None
    if visit is not None:
        access_id = _visit(session, actor, row, client_id, person_name, visit, now)
        perform(session, settings, "client API", row.id, Action.NOTE, now,
                text=f"Visitor access request #{access_id} created for the installation "
                     f"(pending approval at the desk).")
    return ClientRequest(row, access_id)


def _visit(session: Session, actor: Actor, row: ServiceRequest, client_id: int,
           person_name: str, visit: dict[str, Any], now: datetime) -> int:
    people = visit.get("people", [person_name])
    if not isinstance(people, list) or not all(isinstance(p, str) for p in people):
        raise RequestInputError("visit.people must be a list of names")
    try:
        start = parse_timestamp(visit.get("window_start"), "visit.window_start")
        end = parse_timestamp(visit.get("window_end"), "visit.window_end")
    except TimestampError as exc:
        raise RequestInputError(str(exc)) from None
    if start is None or end is None:
        raise RequestInputError("visit.window_start and visit.window_end are required")
    areas = visit.get("areas", "")
    if not isinstance(areas, str | list):
        raise RequestInputError("visit.areas must be text or a list")
    texts = {k: visit.get(k) or "" for k in ("racks", "vehicle_plate")}
    if not all(isinstance(v, str) for v in texts.values()):
        raise RequestInputError("visit.racks and visit.vehicle_plate must be text")
    try:
        access = create_access_request(
            session, actor, client_id=client_id, people=people, window_start=start,
            window_end=end, areas=areas, purpose=f"{row.number}: {row.subject}"[:500],
            racks=texts["racks"], vehicle_plate=texts["vehicle_plate"] or None,
            requested_by=person_name, now=now)
    except VisitorInputError as exc:
        raise RequestInputError(f"visit: {exc}") from None
    return int(access.id)
