"""Access requests: entered by staff or a client's API token, approved or rejected by staff.

Four eyes (PCI DSS 9.3 in spirit): whoever entered a request — or is named as its requester —
may not approve it; another engineer must. A one-person site turns this off in the ``visitors``
settings with a reason, and every approval of one's own request then records that reason in the
audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.site_scope import default_site
from shifts.visitors.orm import AccessRequestPerson, AccessRequestRow, VisitorClient

from . import rows as R
from .decision import Decision, RuleCode
from .model import AccessRequest, RequestStatus, SitePolicy
from .storage_common import VisitorInputError, actor_key, actor_label, get_row


class FourEyesError(VisitorInputError):
    """The approver entered (or asked for) the request themselves and four eyes is on."""


def approver_names(actor: Any) -> set[str]:
    """The names four eyes knows ``actor`` by: a person by key and label, a token by its id
    only (its label is its name, which another token may share)."""
    names = {actor_key(actor)}
    if getattr(actor, "kind", None) != "token":
        names.add(actor_label(actor))
    return names


def may_approve(actor: Any, row: AccessRequestRow, policy: SitePolicy | None) -> bool:
    """Whether ``actor`` may approve ``row`` under four eyes (for screens to offer the button)."""
    return check_four_eyes(approver_names(actor), row.created_by, row.requested_by,
                           policy).allowed


def check_four_eyes(
    approver: Iterable[str], entered_by: str | None, requested_by: str | None,
    policy: SitePolicy | None,
) -> Decision:
    """May the approver (known by the names in ``approver``) approve a request entered by
    ``entered_by`` and asked for by ``requested_by``?

    Allowed when it is someone else's request, or when the site turned four eyes off (the
    reason of the allowance says so, for the audit). Code: FOUR_EYES.
    """
    names = {name.strip().lower() for name in approver if name and name.strip()}
    own = bool(names & {(who or "").strip().lower() for who in (entered_by, requested_by) if who})
    if not own:
        return Decision.allow("approved by someone other than the requester")
    if policy is not None and not policy.four_eyes:
        return Decision.allow(
            f"own request approved; four eyes is off at this site: {policy.four_eyes_off_reason}"
        )
    return Decision.deny(
        RuleCode.FOUR_EYES,
        "you entered or asked for this request yourself, so another engineer must approve it "
        "(four eyes)",
    )


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
    site_id: int | None = None,
) -> AccessRequestRow:
    """A pending access request (validated by ``AccessRequest``) for the site ``site_id``
    (``None``: the default site): it lets its people in at that site's desk only."""
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
        created_by=actor_key(actor),
        status=RequestStatus.PENDING.value,
        people_count=len(names),
        had_vehicle=plate is not None,
        created_at=now,
        site_id=site_id if site_id is not None else default_site(session).id,
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
            "site_id": row.site_id,
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
    policy: SitePolicy | None = None,
) -> AccessRequestRow:
    """Approve or reject a pending request; a decided request cannot be decided again.

    Approving needs four eyes (``check_four_eyes`` under ``policy``; on without one); rejecting
    one's own
    request (withdrawing it) is always allowed. Raises ``FourEyesError`` when refused."""
    row = get_row(session, AccessRequestRow, request_id, "access request")
    if row.status != RequestStatus.PENDING.value:
        raise VisitorInputError(
            "status",
            f"access request #{row.id} is already {row.status}; only a pending "
            "request can be approved or rejected",
        )
    four_eyes = check_four_eyes(approver_names(actor), row.created_by, row.requested_by, policy)
    if approve and not four_eyes.allowed:
        raise FourEyesError("decided_by", four_eyes.reason)
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
        summary=f"request #{row.id} {row.status}"
        + (f" ({four_eyes.reason})" if approve and "four eyes is off" in four_eyes.reason
           else ""),
        before={"status": "pending"},
        after={"status": row.status, "four_eyes": four_eyes.reason if approve else None},
    )
    return row
