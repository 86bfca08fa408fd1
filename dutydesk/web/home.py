"""The signed-in home page: what needs attention, and the state of DutyDesk itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template
from sqlalchemy import func, select

from dutydesk import __version__
from dutydesk.context import app_state, db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.models import AuditEntry, Role, User, WorkerHeartbeat

bp = Blueprint("home", __name__)


@bp.route("/")
@require_role(Role.VIEWER)
def index() -> Any:
    if principal().kind == "kiosk":
        return redirect("/wall")  # a wall screen's home is the wall
    s = db_session()
    state = app_state()
    now = utcnow()
    heartbeats = list(s.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc())))
    max_age = state.settings.scheduler_heartbeat_max_age
    workers = [
        {
            "hb": hb,
            "age": (now - hb.beat_at).total_seconds(),
            "fresh": (now - hb.beat_at).total_seconds() <= max_age,
        }
        for hb in heartbeats
    ]
    recent: list[AuditEntry] = []
    who = principal()
    if who.user is not None:
        recent = list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.actor_user_id == who.user.id)
                .order_by(AuditEntry.at.desc())
                .limit(8)
            )
        )
    users_by_role = dict(
        s.execute(select(User.role, func.count(User.id)).where(User.active).group_by(User.role))
        .all()
    )
    return render_template(
        "home.html",
        shift_gaps=_shift_gaps(s, now),
        version=__version__,
        database=state.db.dialect,
        workers=workers,
        recent=recent,
        users_by_role=users_by_role,
        roles=list(Role),
    )


def _shift_gaps(session: Any, now: Any) -> list[Any]:
    """Gaps in the duty schedules over the next 2 weeks (the home page banner)."""
    from shifts.coverage import coverage_ahead
    from shifts.storage import load_schedules

    schedules = load_schedules(session)
    return list(coverage_ahead(schedules, now, 2).gaps) if schedules else []
