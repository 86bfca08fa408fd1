"""Shift screens, part two: handoff reports (generate, notes, accept, print), the shift journal
with search, and the per-user calendar subscription link (create / revoke)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.core.validation import record_id
from dutydesk.jobs import handoff_sections
from dutydesk.models import Role
from shifts import handoff, service
from shifts.errors import ShiftConfigError
from shifts.models import HandoffReportRow
from shifts.oncall import on_duty
from shifts.storage import load_schedule, load_schedules, user_names

bp = Blueprint("shifts_log", __name__, url_prefix="/shifts")


@bp.get("/handoffs")
@require_role(Role.ENGINEER)
def handoffs() -> Any:
    s = db_session()
    reports = list(s.scalars(handoff.reports_query().limit(100)))
    schedules = {sc.id: sc for sc in load_schedules(s)}
    ids = {i for r in reports for i in (r.outgoing_user_id, r.incoming_user_id) if i}
    return render_template("shifts/handoffs.html", reports=reports, schedules=schedules,
                           names=user_names(s, ids))


@bp.post("/handoffs/generate")
@require_role(Role.ENGINEER)
def generate() -> Any:
    s = db_session()
    schedule = load_schedule(s, record_id(request.form.get("schedule_id"), "schedule_id"))
    if schedule is None:
        abort(404)
    report = handoff.ensure_report(s, settings(), schedule, utcnow(), handoff_sections())
    if report is None:
        flash(_("this schedule has no handoff yet"), "error")
        return redirect(url_for("shifts_log.handoffs"))
    s.commit()
    return redirect(url_for("shifts_log.report", report_id=report.id))


def _report_or_404(report_id: int) -> HandoffReportRow:
    report = db_session().get(HandoffReportRow, report_id)
    if report is None:
        abort(404)
    return report


@bp.get("/handoffs/<int:report_id>")
@require_role(Role.ENGINEER)
def report(report_id: int) -> Any:
    s = db_session()
    row = _report_or_404(report_id)
    schedule = load_schedule(s, row.schedule_id)
    ids = [i for i in (row.outgoing_user_id, row.incoming_user_id, row.accepted_by_id) if i]
    who = principal()
    return render_template(
        "shifts/handoff.html", report=row, schedule=schedule, c=row.content or {},
        names=user_names(s, ids),
        can_accept=row.accepted_at is None
        and (who.user_id == row.incoming_user_id or who.can(Role.SHIFT_LEAD)),
        can_write=row.accepted_at is None,
    )


def _report_action(report_id: int, action: Any, success: str) -> Any:
    s = db_session()
    row = _report_or_404(report_id)
    try:
        action(s, row)
    except ShiftConfigError as exc:
        s.rollback()
        flash(_("Not saved: %(message)s", message=str(exc)), "error")
    else:
        s.commit()
        flash(success, "success")
    return redirect(url_for("shifts_log.report", report_id=report_id))


@bp.post("/handoffs/<int:report_id>/notes")
@require_role(Role.ENGINEER)
def notes(report_id: int) -> Any:
    return _report_action(report_id, lambda s, row: handoff.save_notes(
        s, principal(), row, request.form.get("notes", "")), _("notes saved"))


@bp.post("/handoffs/<int:report_id>/accept")
@require_role(Role.ENGINEER)
def accept(report_id: int) -> Any:
    return _report_action(report_id, lambda s, row: handoff.accept(
        s, principal(), row, utcnow()), _("handoff accepted"))


@bp.route("/journal", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def journal() -> Any:
    s = db_session()
    schedules = load_schedules(s)
    if request.method == "POST":
        now = utcnow()
        raw = request.form.get("schedule_id", "")
        schedule = next((sc for sc in schedules if str(sc.id) == raw), None)
        try:
            service.add_journal_entry(
                s, principal(), kind=request.form.get("kind", "note"),
                text=request.form.get("text", ""), at=now,
                schedule_id=schedule.id if schedule else None,
                shift_start=on_duty(schedule, now).since if schedule else None,
            )
        except ShiftConfigError as exc:
            s.rollback()
            flash(_("Not saved: %(message)s", message=str(exc)), "error")
        else:
            s.commit()
        return redirect(url_for("shifts_log.journal"))
    query = request.args.get("q", "")
    entries = service.search_journal(s, query)
    return render_template("shifts/journal.html", entries=entries, q=query,
                           schedules={sc.id: sc for sc in schedules})


@bp.route("/calendar", methods=["GET", "POST"])
@require_role(Role.ENGINEER)
def calendar_link() -> Any:
    s = db_session()
    who = principal()
    if who.user_id is None:
        abort(403)
    token = None
    if request.method == "POST":
        if request.form.get("action") == "revoke":
            service.revoke_calendar_tokens(s, who, who.user_id, utcnow())
            flash(_("calendar links revoked"), "success")
        else:
            token = service.new_calendar_token(s, who, who.user_id, utcnow())
        s.commit()
    base = settings().base_url.rstrip("/")
    schedules = list(s.scalars(select(service.ShiftScheduleRow)))
    return render_template("shifts/calendar.html", token=token, base=base, me=who.user_id,
                           schedules=schedules)
