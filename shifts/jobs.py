"""The shifts worker step: handoff reports, shift reminders, "now on duty", gap warnings.

``run_shift_clock(session, settings, now)`` is idempotent: reports are unique per schedule and
shift start, and every notification carries an idempotency key naming its reason, so running
it every minute (or from several workers) sends each message once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.accounts import Role, User
from dutydesk.core.notify.outbox import enqueue
from shifts.coverage import coverage_ahead
from shifts.handoff import ensure_report
from shifts.oncall import on_duty, person_shifts
from shifts.schedule import Schedule
from shifts.storage import load_schedules

REMIND_BEFORE = timedelta(hours=2)
NOW_ON_DUTY_WITHIN = timedelta(hours=1)  # a duty that began longer ago is not news any more
GAP_WEEKS = 2


def shift_jobs(settings: Settings, db: Database) -> list[Any]:
    from dutydesk.jobs import Job

    def tick() -> None:
        with db.session() as session:
            run_shift_clock(session, settings, utcnow())
            session.commit()

    return [Job(id="shifts-clock", name="handoff reports, shift reminders, gap warnings",
                func=tick, trigger_args={"seconds": 60})]


def run_shift_clock(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """One pass (module docstring); returns counts of what it did (for logs and tests)."""
    schedules = load_schedules(session)
    counts = {"reports": 0, "reminders": 0, "on_duty": 0, "gaps": 0}
    users = {u.id: u for u in session.scalars(select(User).where(User.active))}
    for schedule in schedules:
        report = ensure_report(session, settings, schedule, now)
        counts["reports"] += report is not None and report.generated_at == now
        counts["reminders"] += _remind(session, settings, schedule, users, now)
        counts["on_duty"] += _now_on_duty(session, settings, schedule, users, now)
    counts["gaps"] += _gap_warnings(session, settings, schedules, users, now)
    return counts


def _link(settings: Settings, path: str) -> str:
    return f"{settings.base_url.rstrip('/')}{path}"


def _remind(session: Session, settings: Settings, schedule: Schedule, users: dict,
            now: datetime) -> int:
    sent = 0
    for duty in person_shifts(schedule, now, now + REMIND_BEFORE):
        person = int(duty.people[0])
        if duty.start <= now or person not in users:
            continue
        hours = max(1, round((duty.start - now).total_seconds() / 3600))
        sent += enqueue(
            session, channel="email", target=users[person].email,
            subject=f"Your shift starts in {hours} h: {schedule.title}",
            body_text=(f"Your duty in {schedule.title} starts at {duty.start:%Y-%m-%d %H:%M} UTC "
                       f"and ends at {duty.end:%Y-%m-%d %H:%M} UTC.\n\n"
                       f"{_link(settings, '/shifts')}\n"),
            idempotency_key=f"shifts:{schedule.id}:starts:{duty.start.isoformat()}:user:{person}",
            source_type="shift_schedule", source_id=str(schedule.id),
        ) is not None
    return sent


def _now_on_duty(session: Session, settings: Settings, schedule: Schedule, users: dict,
                 now: datetime) -> int:
    current = on_duty(schedule, now)
    if current.since is None or now - current.since > NOW_ON_DUTY_WITHIN:
        return 0
    sent = 0
    for person in current.people:
        user = users.get(int(person))
        if user is None:
            continue
        until = f" until {current.until:%Y-%m-%d %H:%M} UTC" if current.until else ""
        sent += enqueue(
            session, channel="email", target=user.email,
            subject=f"You are now on duty: {schedule.title}",
            body_text=(f"You are on duty in {schedule.title}{until}.\n"
                       f"Handoff report: {_link(settings, '/shifts/handoffs')}\n"),
            idempotency_key=(f"shifts:{schedule.id}:on_duty:{current.since.isoformat()}"
                             f":user:{user.id}"),
            source_type="shift_schedule", source_id=str(schedule.id),
        ) is not None
    return sent


def _gap_warnings(session: Session, settings: Settings, schedules: list[Schedule], users: dict,
                  now: datetime) -> int:
    if not schedules:
        return 0
    report = coverage_ahead(schedules, now, GAP_WEEKS)
    leads = [u for u in users.values() if u.role in (Role.SHIFT_LEAD, Role.ADMIN)]
    sent = 0
    for gap in report.gaps:
        # The key must not move while the gap is running or clipped by the look-ahead.
        if gap.start > now:
            key = f"start:{gap.start.isoformat()}"
        elif gap.end < report.end:
            key = f"end:{gap.end.isoformat()}"
        else:
            key = "uncovered"
        for lead in leads:
            sent += enqueue(
                session, channel="email", target=lead.email,
                subject=f"Duty gap: {gap.line.label} {gap.start:%Y-%m-%d %H:%M} UTC",
                body_text=(f"Nobody is on duty for {gap.line.label} from "
                           f"{gap.start:%Y-%m-%d %H:%M} to {gap.end:%Y-%m-%d %H:%M} UTC "
                           f"(schedules: {', '.join(gap.schedules) or 'none'}).\n\n"
                           f"{_link(settings, '/shifts/coverage')}\n"),
                idempotency_key=f"shifts:gap:{gap.line.value}:{key}:user:{lead.id}",
                source_type="shift_gap", source_id=gap.line.value,
            ) is not None
    return sent
