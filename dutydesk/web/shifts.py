"""Shift screens: who is on duty, the schedule editor with calendar preview, coverage and
fairness, overrides, swaps. Handoff reports, the journal and calendar links are in
``dutydesk.web.shifts_log``.

Shift leads and admins edit; engineers read, offer and take swaps. Every write goes through
``shifts.service`` (validated by the pure core first, audited); a refused input is shown with the
core's message and nothing is saved.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.core.validation import (
    ValidationError,
    number,
    record_id,
    whole_number,
)
from dutydesk.i18n import user_zone
from dutydesk.models import Role, User
from dutydesk.web.site_select import site_arg, site_choices
from shifts import service
from shifts.coverage import coverage_ahead
from shifts.errors import ShiftConfigError
from shifts.fairness import fairness_report
from shifts.localtime import local_to_utc, utc_to_local
from shifts.models import ShiftOverrideRow, ShiftScheduleRow, ShiftSwapRow
from shifts.oncall import next_shift_for, on_duty, person_shifts
from shifts.preview import VIEWS, calendar_grid, person_colours
from shifts.schedule import Line, Schedule
from shifts.storage import PATTERN_CHOICES, load_schedule, load_schedules, user_names

bp = Blueprint("shifts", __name__, url_prefix="/shifts")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_CREWS = 100  # crew numbers in a crew cycle pattern
MAX_PATTERN_NUMBER = 10_000  # hours/days/weeks of a rotation turn


def _users() -> list[User]:
    return list(db_session().scalars(select(User).where(User.active).order_by(User.name)))


def person_id(value: str) -> int:
    """A user id from a form field holding an id or an e-mail address."""
    text = (value or "").strip()
    if text.isdigit():
        return record_id(text, "participants")
    found = db_session().scalar(select(User.id).where(User.email == text.lower()))
    if found is None:
        raise ShiftConfigError(f"no user with id or e-mail {text!r}")
    return found


# How a refusal's kind is answered: the form is shown again with the message, never a
# redirect that would lose both.
REFUSAL_STATUS = {"invalid": 422, "conflict": 409, "not_found": 404}


def refusal(exc: ShiftConfigError | ValidationError) -> tuple[str, int]:
    """The core's message as the signed-in lead reads it (their zone, people by name), and the
    HTTP status for it. Input the validation layer refused (a field that is not a number, a
    date, an id) names the field: 422."""
    if isinstance(exc, ValidationError):
        return str(exc), 422
    ids = [p for p in exc.people.values() if service.stored_id(p) is not None]
    text = exc.render(user_zone(), user_names(db_session(), ids))
    return text, REFUSAL_STATUS.get(exc.kind, 422)


def instant_field(value: str, field: str) -> datetime:
    """An ISO 8601 instant with its offset (as the swap form sends it) → aware UTC."""
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ShiftConfigError(
            f"{field} must be an instant such as 2026-03-01T08:00:00+02:00, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise ShiftConfigError(f"{field} needs its UTC offset, got {value!r}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ShiftConfigError(f"{field} is out of range: {value!r}") from None


def _local_instant(value: str, schedule: Schedule, field: str) -> datetime:
    """A ``datetime-local`` form value, read in the schedule's zone, as UTC."""
    try:
        wall = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ShiftConfigError(f"{field} must look like 2026-03-01T08:00, got {value!r}") from None
    try:
        if wall.tzinfo is not None:
            return wall.astimezone(UTC)
        return local_to_utc(wall, schedule.zone)
    except OverflowError:
        raise ShiftConfigError(f"{field} is out of range: {value!r}") from None


def _schedule_or_404(schedule_id: int) -> Schedule:
    key = service.stored_id(schedule_id)
    schedule = load_schedule(db_session(), key) if key is not None else None
    if schedule is None:
        abort(404)
    return schedule


@bp.get("")
@require_role(Role.VIEWER)
def index() -> Any:
    return _index_page()


def _index_page(error: ShiftConfigError | None = None) -> Any:
    """The on-duty board; with ``error`` the new-schedule form comes back with the refusal."""
    s = db_session()
    now = utcnow()
    site = site_arg()
    sites = site_choices()
    schedules = load_schedules(s, site_id=site.id if site is not None else None)
    rows = []
    ids: set[Any] = set()
    for schedule in schedules:
        current = on_duty(schedule, now)
        upcoming = on_duty(schedule, current.until) if current.until else None
        rows.append({"schedule": schedule, "now": current, "next": upcoming})
        ids |= set(current.people) | set(upcoming.people if upcoming else ())
    mine = None
    who = principal()
    if who.user_id is not None:
        shifts_ahead = [
            (schedule, next_shift_for(schedule, who.user_id, now)) for schedule in schedules
        ]
        shifts_ahead = [(sc, sh) for sc, sh in shifts_ahead if sh is not None]
        mine = min(shifts_ahead, key=lambda item: item[1].start) if shifts_ahead else None
    rows.sort(key=lambda r: (list(Line).index(r["schedule"].line), r["schedule"].name))
    message, status = refusal(error) if error is not None else (None, 200)
    return render_template(
        "shifts/index.html", rows=rows, names=user_names(s, ids), lines=list(Line), mine=mine,
        can_edit=who.can(Role.SHIFT_LEAD), now=now, refused=message,
        site=site, sites=sites, site_of={x.id: x for x in sites},
        form=request.form if error is not None else {},
    ), status


@bp.post("/schedules")
@require_role(Role.SHIFT_LEAD)
def create_schedule() -> Any:
    s = db_session()
    try:
        row = service.create_schedule(
            s, principal(), name=request.form.get("name", ""), line=request.form.get("line", ""),
            time_zone=request.form.get("time_zone", ""),
            self_service=bool(request.form.get("self_service")),
            site=request.form.get("site"),
        )
    except ShiftConfigError as exc:
        s.rollback()
        return _index_page(exc)
    s.commit()
    flash(_("schedule %(name)s created", name=row.name), "success")
    return redirect(url_for("shifts.editor", schedule_id=row.id))


@bp.get("/schedules/<int:schedule_id>")
@require_role(Role.VIEWER)
def editor(schedule_id: int) -> Any:
    return _editor_page(schedule_id)


def _editor_page(schedule_id: int, error: ShiftConfigError | None = None) -> Any:
    """The schedule editor; with ``error`` the posted form comes back filled in, with the
    refusal, under a 4xx status (nothing was saved)."""
    s = db_session()
    row = s.get(ShiftScheduleRow, service.stored_id(schedule_id) or 0)
    if row is None:
        abort(404)
    schedule = _schedule_or_404(schedule_id)
    now = utcnow()
    view = request.args.get("view", "month")
    view = view if view in VIEWS else "month"
    try:
        anchor = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        anchor = utc_to_local(now, schedule.zone).date()
    try:
        weeks = max(1, min(26, int(request.args.get("weeks", "4"))))
    except ValueError:
        weeks = 4
    people = {p for layer in schedule.layers for p in layer.participants}
    people |= {o.person for o in schedule.overrides}
    people |= {o.replaces for o in schedule.overrides if o.replaces is not None}
    names = user_names(s, people)
    grid = calendar_grid(schedule, anchor, view, names)
    coverage = coverage_ahead([schedule], now, weeks, layer_overlaps=True)
    fairness = fairness_report(schedule, now, now + timedelta(weeks=weeks))
    overrides = list(s.scalars(select(ShiftOverrideRow).where(
        ShiftOverrideRow.schedule_id == schedule_id, ShiftOverrideRow.ends_at > now)
        .order_by(ShiftOverrideRow.starts_at)))
    step = timedelta(days=7) if view == "week" else timedelta(days=31)
    message, status = refusal(error) if error is not None else (None, 200)
    return render_template(
        "shifts/editor.html", row=row, schedule=schedule, grid=grid, view=view, anchor=anchor,
        prev_date=(anchor - step).isoformat(), next_date=(anchor + step).isoformat(),
        coverage=coverage, weeks=weeks, fairness=fairness, names=names,
        overrides=overrides, users=_users(), lines=list(Line), patterns=PATTERN_CHOICES,
        weekday_names=WEEKDAY_NAMES, can_edit=principal().can(Role.SHIFT_LEAD),
        zone=schedule.zone, local=lambda t: utc_to_local(t, schedule.zone),
        refused=message, form=request.form if error is not None else {},
        colours=person_colours(grid), today=utc_to_local(now, schedule.zone).date(),
        sites=site_choices(),
    ), status


def _back(schedule_id: int) -> Any:
    return redirect(url_for("shifts.editor", schedule_id=schedule_id))


def _apply(schedule_id: int, action: Any, success: str) -> Any:
    """Run a service call; on a refusal roll back and show the form again with the core's
    message (4xx), so nothing is saved and nothing typed is lost."""
    s = db_session()
    try:
        action(s)
    except (ShiftConfigError, ValidationError) as exc:
        s.rollback()
        return _editor_page(schedule_id, exc)
    s.commit()
    flash(success, "success")
    return _back(schedule_id)


@bp.post("/schedules/<int:schedule_id>/settings")
@require_role(Role.SHIFT_LEAD)
def update_settings(schedule_id: int) -> Any:
    form = request.form
    return _apply(schedule_id, lambda s: service.update_schedule(
        s, principal(), schedule_id, name=form.get("name", ""), line=form.get("line", ""),
        time_zone=form.get("time_zone", ""), self_service=bool(form.get("self_service")),
        now=utcnow(), site=form.get("site")), _("schedule saved"))


def rotation_form(form: Any) -> dict[str, Any]:
    """The editor's add-layer form as ``service.rotation_fields`` input."""
    pattern = form.get("pattern", "fixed_length")
    params: dict[str, Any] = {}
    number = _number
    if pattern == "fixed_length":
        for key in ("hours", "days", "weeks"):
            if form.get(key, "").strip():
                params[key] = number(form[key], key)
    else:
        params["day_hours"] = number(form.get("day_hours", "12") or "12", "day hours")
    if pattern == "crew_cycle":
        params["name"] = form.get("crew_name", "custom") or "custom"
        for key in ("day_crews", "night_crews"):
            params[key] = [whole_number(x, key, minimum=0, maximum=MAX_CREWS)
                           for x in form.get(key, "").replace(",", " ").split()]
    participants = [
        person_id(p) for p in form.get("participants", "").replace(",", " ").split() if p
    ]
    restrictions = []
    weekdays = form.getlist("r_weekdays")  # checked with the rest in rotation_fields
    if weekdays:
        restrictions.append({"weekdays": weekdays, "start": form.get("r_start") or "00:00",
                             "end": form.get("r_end") or "00:00"})
    return service.rotation_fields({
        "name": form.get("name", ""), "participants": participants, "pattern": pattern,
        "pattern_params": params, "handoff_time": form.get("handoff_time", "08:00"),
        "start_date": form.get("start_date", ""), "restrictions": restrictions,
    })


def _number(value: str, field: str) -> float | int:
    return number(value, field, maximum=MAX_PATTERN_NUMBER)  # the core refuses 0 and below



def _crews(value: str, field: str) -> list[int]:
    items = value.replace(",", " ").split()
    if not all(x.isdecimal() and x.isascii() for x in items):
        raise ShiftConfigError(f"{field} must be crew numbers such as 0 1 2 3, got {value!r}")
    return [int(x) for x in items]


@bp.post("/schedules/<int:schedule_id>/rotations")
@require_role(Role.SHIFT_LEAD)
def add_rotation(schedule_id: int) -> Any:
    return _apply(schedule_id, lambda s: service.add_rotation(
        s, principal(), schedule_id, rotation_form(request.form), utcnow()),
        _("rotation added"))


@bp.post("/schedules/<int:schedule_id>/rotations/<int:rotation_id>/delete")
@require_role(Role.SHIFT_LEAD)
def delete_rotation(schedule_id: int, rotation_id: int) -> Any:
    return _apply(schedule_id, lambda s: service.delete_rotation(
        s, principal(), schedule_id, rotation_id, utcnow()), _("rotation removed"))


@bp.post("/schedules/<int:schedule_id>/overrides")
@require_role(Role.SHIFT_LEAD)
def add_override(schedule_id: int) -> Any:
    schedule = _schedule_or_404(schedule_id)
    form = request.form

    def act(s: Any) -> None:
        replaces = form.get("replaces", "").strip()
        service.add_override(
            s, principal(), schedule_id, kind=form.get("kind", "replace"),
            person_id=person_id(form.get("person", "")),
            starts_at=_local_instant(form.get("start", ""), schedule, "start"),
            ends_at=_local_instant(form.get("end", ""), schedule, "end"),
            replaces_id=person_id(replaces) if replaces else None,
            note=form.get("note", ""), now=utcnow())

    return _apply(schedule_id, act, _("override added"))


@bp.post("/schedules/<int:schedule_id>/overrides/<int:override_id>/delete")
@require_role(Role.SHIFT_LEAD)
def delete_override(schedule_id: int, override_id: int) -> Any:
    return _apply(schedule_id, lambda s: service.delete_override(
        s, principal(), schedule_id, override_id, utcnow()), _("override removed"))


@bp.post("/schedules/<int:schedule_id>/publish")
@require_role(Role.SHIFT_LEAD)
def publish(schedule_id: int) -> Any:
    return _apply(schedule_id, lambda s: service.publish(s, principal(), schedule_id, utcnow()),
                  _("schedule published; participants are notified"))


@bp.get("/coverage")
@require_role(Role.VIEWER)
def coverage() -> Any:
    try:
        weeks = max(1, min(26, int(request.args.get("weeks", "4"))))
    except ValueError:
        weeks = 4
    schedules = load_schedules(db_session())
    report = coverage_ahead(schedules, utcnow(), weeks) if schedules else None
    return render_template("shifts/coverage.html", report=report, weeks=weeks)


# ------------------------------------------------------------------------------------- swaps


@bp.get("/swaps")
@require_role(Role.ENGINEER)
def swaps() -> Any:
    return _swaps_page()


def _swaps_page(error: ShiftConfigError | None = None) -> Any:
    s = db_session()
    now = utcnow()
    items = list(s.scalars(select(ShiftSwapRow).order_by(ShiftSwapRow.created_at.desc())
                           .limit(200)))
    schedules = {sc.id: sc for sc in load_schedules(s)}
    ids = {i for sw in items for i in (sw.offered_by_id, sw.taken_by_id) if i}
    who = principal()
    my_shifts = []
    if who.user_id is not None:
        for schedule in schedules.values():
            for duty in person_shifts(schedule, now, now + timedelta(days=31), who.user_id):
                if duty.start >= now:
                    my_shifts.append((schedule, duty))
        my_shifts.sort(key=lambda item: item[1].start)
    message, status = refusal(error) if error is not None else (None, 200)
    return render_template(
        "shifts/swaps.html", items=items, schedules=schedules, names=user_names(s, ids),
        my_shifts=my_shifts, me=who.user_id, can_approve=who.can(Role.SHIFT_LEAD),
        parse=datetime.fromisoformat, refused=message,
    ), status


def _swap_action(action: Any, success: str) -> Any:
    s = db_session()
    try:
        action(s)
    except (ShiftConfigError, ValidationError) as exc:
        s.rollback()
        return _swaps_page(exc)
    s.commit()
    flash(success, "success")
    return redirect(url_for("shifts.swaps"))


@bp.post("/swaps")
@require_role(Role.ENGINEER)
def offer_swap() -> Any:
    form = request.form
    who = principal()
    if who.user_id is None:
        abort(403)

    def act(s: Any) -> None:
        schedule_id = service.stored_id(form.get("schedule_id", ""))
        if schedule_id is None:
            raise ShiftConfigError(f"no schedule {form.get('schedule_id', '')!r}")
        start = instant_field(form.get("start", ""), "start")
        end = instant_field(form.get("end", ""), "end")
        service.offer_swap(s, who, schedule_id, who.user_id, [(start, end)],
                           form.get("note", ""), utcnow())

    return _swap_action(act, _("shift offered"))


@bp.post("/swaps/<int:swap_id>/take")
@require_role(Role.ENGINEER)
def take_swap(swap_id: int) -> Any:
    who = principal()
    return _swap_action(lambda s: service.take_swap(s, who, swap_id, who.user_id, utcnow()),
                        _("swap taken"))


@bp.post("/swaps/<int:swap_id>/<any(approve, reject):decision>")
@require_role(Role.SHIFT_LEAD)
def decide_swap(swap_id: int, decision: str) -> Any:
    approve = decision == "approve"
    return _swap_action(
        lambda s: service.decide_swap(s, principal(), swap_id, approve, utcnow()),
        _("swap approved") if approve else _("swap rejected"),
    )


__all__ = ["bp", "instant_field", "person_id", "refusal", "rotation_form"]
