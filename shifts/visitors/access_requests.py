"""Access requests: entered by staff or a client's API token, approved or rejected by staff."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dutydesk.core import audit
from shifts.visitors.orm import AccessRequestPerson, AccessRequestRow, VisitorClient

from . import rows as R
from .model import AccessRequest, RequestStatus
from .storage_common import VisitorInputError, actor_label, get_row


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
    client = get_row(session, VisitorClient, client_id, "client")
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
        requested_by=request.requested_by or actor_label(actor),
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
    row = get_row(session, AccessRequestRow, request_id, "access request")
    if row.status != RequestStatus.PENDING.value:
        raise VisitorInputError(
            "status",
            f"access request #{row.id} is already {row.status}; only a pending "
            "request can be approved or rejected",
        )
    row.status = (RequestStatus.APPROVED if approve else RequestStatus.REJECTED).value
    row.decided_by = actor_label(actor)
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
