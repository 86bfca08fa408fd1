"""A person's quiet hours (``/account/notifications/quiet``): when P3/P4 pages wait.

Shown and set on the person's notification settings page; the rule itself lives in
``dutydesk.incidents.quiet`` (P1/P2 always go; held pages are delivered when the hours end).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request
from flask_babel import gettext as _

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core.audit import record
from dutydesk.core.db import utcnow
from dutydesk.errors import ApiError
from dutydesk.incidents.models import QuietHoursRow
from dutydesk.incidents.quiet import QuietHours, QuietHoursError, parse_time_of_day
from dutydesk.models import Role, User

bp = Blueprint("account_quiet", __name__)
PAGE = "/account/notifications"


def quiet_hours_of(user: User) -> QuietHours | None:
    """The person's quiet hours, for their settings page (``None``: none set)."""
    row = db_session().get(QuietHoursRow, user.id)
    return QuietHours(row.start_minute, row.end_minute) if row is not None else None


def _me() -> User:
    who = principal()
    if who.user is None:
        raise ApiError(403, _("Kiosk screens have no account settings."))
    return who.user


@bp.route(PAGE + "/quiet", methods=["POST"])
@require_role(Role.VIEWER)
def save_quiet_hours() -> Any:
    user, s = _me(), db_session()
    row = s.get(QuietHoursRow, user.id)
    before = {"start": row.start_minute, "end": row.end_minute} if row is not None else None
    if request.form.get("action") == "remove":
        if row is not None:
            s.delete(row)
            record(s, principal(), "quiet_hours.remove", "user", user.id, before=before)
        s.commit()
        flash(_("Quiet hours removed: every page reaches you at once."), "ok")
        return redirect(PAGE)
    try:
        start = parse_time_of_day(request.form.get("start", ""), "start")
        end = parse_time_of_day(request.form.get("end", ""), "end")
        hours = QuietHours(start, end)
    except QuietHoursError as exc:
        flash(_("Not saved: %(message)s", message=str(exc)), "error")
        return redirect(PAGE)
    if row is None:
        row = QuietHoursRow(user_id=user.id, start_minute=start, end_minute=end)
        s.add(row)
    row.start_minute, row.end_minute, row.updated_at = start, end, utcnow()
    record(s, principal(), "quiet_hours.set", "user", user.id, summary=hours.label(),
           before=before, after={"start": start, "end": end})
    s.commit()
    zone = user.timezone or settings().timezone
    flash(_("Quiet hours saved: %(span)s (%(zone)s). P3/P4 pages wait until they end; P1/P2 "
            "always reach you.", span=hours.label(), zone=zone), "ok")
    return redirect(PAGE)
