"""Admin screen: deliveries that failed or are still waiting, with every attempt, and a retry.

An admin sees why a page did not arrive (each attempt: when, how long, what the receiver or
network said, permanent or not) and can send a message again once the cause is fixed. A retry
is audited and is a compare-and-set (``outbox.retry_now``): a message being sent or already
sent is left alone. Webhook URLs are shown without their path and query, which often hold a
token (Slack, Mattermost, Telegram hooks).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role
from dutydesk.core import audit
from dutydesk.core.db import utcnow
from dutydesk.core.notify.outbox import retry_now
from dutydesk.models import DeliveryAttempt, OutboxMessage, Role
from dutydesk.pagination import PaginationError, paginate, parse_page_args

bp = Blueprint("deliveries", __name__, url_prefix="/admin/deliveries")

#: What the screen can show; "waiting" is pending or being sent (not yet delivered, not given up).
VIEWS = {
    "failed": ("failed",),
    "waiting": ("pending", "sending"),
    "undelivered": ("failed", "pending", "sending"),
    "sent": ("sent",),
}


def shown_target(channel: str, target: str) -> str:
    """The destination as the screen shows it: URLs without path or query (pure)."""
    if channel in ("webhook", "slack"):
        parts = urlsplit(target)
        if parts.scheme and parts.netloc:
            tail = "/…" if parts.path.strip("/") or parts.query else ""
            return f"{parts.scheme}://{parts.hostname or ''}{tail}"
        return "…"
    return target


@bp.route("")
@require_role(Role.ADMIN)
def deliveries() -> Any:
    args = request.args
    view = args.get("view", "undelivered")
    if view not in VIEWS:
        abort(400, _("Unknown view %(view)s.", view=view))
    try:
        page, per_page = parse_page_args(args)
    except PaginationError as exc:
        abort(400, str(exc))
    s = db_session()
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(VIEWS[view]))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    )
    result = paginate(s, query, page, per_page)
    ids = [m.id for m in result.items]
    attempts: dict[int, list[DeliveryAttempt]] = {i: [] for i in ids}
    if ids:
        for row in s.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id.in_(ids))
            .order_by(DeliveryAttempt.message_id, DeliveryAttempt.number, DeliveryAttempt.id)
        ):
            attempts[row.message_id].append(row)
    return render_template(
        "admin/deliveries.html",
        page=result,
        view=view,
        views=list(VIEWS),
        attempts=attempts,
        shown_target=shown_target,
    )


@bp.route("/<int:message_id>/retry", methods=["POST"])
@require_role(Role.ADMIN)
def retry(message_id: int) -> Any:
    s = db_session()
    message = s.get(OutboxMessage, message_id) or abort(404, _("No such delivery."))
    before = {"status": message.status, "attempts": message.attempts}
    if not retry_now(s, message_id, utcnow()):
        s.rollback()
        flash(_("This message is being sent or was already delivered; nothing to retry."),
              "error")
        return redirect(url_for("deliveries.deliveries", view=request.form.get("view", "")
                                or "undelivered"))
    audit.record(
        s,
        principal(),
        "outbox.retry",
        "outbox",
        message_id,
        summary=f"retry {message.channel} message #{message_id} "
        f"to {shown_target(message.channel, message.target)}",
        before=before,
        after={"status": "pending"},
    )
    s.commit()
    flash(_("Message #%(id)s will be sent again within a second.", id=message_id), "ok")
    return redirect(url_for("deliveries.deliveries", view=request.form.get("view", "")
                            or "undelivered"))
