"""Approval of requests for catalog items that need it ("a new mailbox: approved by the shift
lead"). A request for such an item is created with ``approval_state = "pending"``; someone with
the item's approver role (or a stronger one) approves it (recorded on the timeline, work goes on)
or rejects it with a reason (the request is resolved with that reason, mailed to the requester).
Both are audited. Anyone weaker is refused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.config import Settings
from dutydesk.core.models.accounts import Role
from dutydesk.core.security import Principal
from dutydesk.incidents.lifecycle import TransitionRefused
from dutydesk.requests import service as req
from dutydesk.requests.catalog.store import get_item
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import ServiceRequest
from dutydesk.requests.rules import RequestInputError
from dutydesk.requests.store import get_request


class NotTheApprover(PermissionError):
    """The person's role is weaker than the item's approver role (HTTP 403)."""


def approver_role(session: Session, row: ServiceRequest) -> Role | None:
    """The role that decides on ``row`` while its approval is pending, else None."""
    if row.approval_state != "pending" or row.catalog_item_id is None:
        return None
    role = get_item(session, row.catalog_item_id).approval_role
    return Role(role) if role else None


def decide(session: Session, settings: Settings, actor: Principal, request_id: int,
           now: datetime, *, approve: bool, reason: str = "") -> ServiceRequest:
    """Approve or reject (``reason`` required) the pending request ``request_id``."""
    row = get_request(session, request_id)
    role = approver_role(session, row)
    if role is None:
        raise TransitionRefused(f"{row.number} is not waiting for an approval", "no_approval")
    if not actor.can(role):
        raise NotTheApprover(f"only a {role.value} (or above) may decide on {row.number}")
    reason = reason.strip() if isinstance(reason, str) else ""
    if approve:
        text = f"Approved by {actor.label}" + (f": {reason}" if reason else "")
        row = req.perform(session, settings, actor, row.id, Action.NOTE, now, text=text)
    else:
        if not reason:
            raise RequestInputError("a reason is required to reject a request")
        row = req.perform(session, settings, actor, row.id, Action.RESOLVE, now,
                          note=f"Not approved: {reason}")
    row.approval_state = "approved" if approve else "rejected"
    session.flush()
    audit.record(session, actor, "request.approve" if approve else "request.reject", "request",
                 row.id, summary=f"{row.number} {'approved' if approve else 'rejected'}",
                 after={"approval_state": row.approval_state, "reason": reason})
    return row
