"""Turning "this escalation step is due" into outbox rows for the right people's contact methods.

One code path for the first page (the pipeline, in the transaction that opens the incident) and
for later steps (the worker): ``page_due_steps`` asks ``escalation_due`` what is due, routes each
target to people, picks each person's contact methods by their notification rules, enqueues, and
records ``escalation_notified`` so the step is never paged twice. Idempotency keys name the
incident, cycle, position and contact method, so a retried job adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.config import Settings
from dutydesk.incidents.escalation import (
    DueNotification,
    EscalationPolicy,
    EscalationStep,
    escalation_due,
    notified_event,
)
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.routing import parse_fallback_group, route
from dutydesk.incidents.store import add_events, timeline
from dutydesk.models import Role, User
from dutydesk.models.incidents import (
    ContactMethod,
    EscalationPolicyRow,
    Incident,
    NotificationRule,
)
from dutydesk.notify.outbox import enqueue

DEFAULT_POLICY = EscalationPolicy(
    steps=(
        EscalationStep(("first_line",), 10),
        EscalationStep(("second_line",), 20),
        EscalationStep(("shift_lead",), 30),
    ),
    repeat=0,
)


def policy_for(session: Session, incident: Incident) -> EscalationPolicy:
    """The incident's policy, else the default stored policy, else ``DEFAULT_POLICY``."""
    row = None
    if incident.escalation_policy_id is not None:
        row = session.get(EscalationPolicyRow, incident.escalation_policy_id)
    if row is None:
        row = session.scalar(
            select(EscalationPolicyRow).where(EscalationPolicyRow.is_default).limit(1)
        )
    if row is None:
        return DEFAULT_POLICY
    return policy_from_row(row)


def policy_from_row(row: EscalationPolicyRow) -> EscalationPolicy:
    steps = tuple(
        EscalationStep(tuple(step["targets"]), int(step["delay_minutes"])) for step in row.steps
    )
    return EscalationPolicy(steps, repeat=row.repeat, ack_timeout_minutes=row.ack_timeout_minutes)


def resolve_people(
    session: Session, settings: Settings, target: str, now: datetime | None = None
) -> tuple[str, ...]:
    """Logins for one escalation target (see ``routing.route``).

    The people on duty come from the stored shift schedules at ``now`` (``None``: the
    current instant); a line without a schedule falls back as ``route`` describes.
    """
    from dutydesk.db import utcnow
    from shifts.storage import on_duty_logins

    engineers = tuple(
        session.scalars(
            select(func.lower(User.email))
            .where(User.active, User.role.in_([Role.ENGINEER, Role.SHIFT_LEAD]))
            .order_by(User.id)
        )
    )
    leads = tuple(
        session.scalars(
            select(func.lower(User.email)).where(User.active, User.role == Role.SHIFT_LEAD)
        )
    )
    decision = route(
        target,
        on_duty=on_duty_logins(session, now or utcnow()),
        fallback_group=parse_fallback_group(settings.fallback_group),
        active_engineers=engineers,
        shift_leads=leads,
    )
    return decision.people


def incident_message(incident: Incident, settings: Settings, why: str) -> tuple[str, str]:
    subject = f"[{incident.priority}] #{incident.id} {incident.title}"[:500]
    body = (
        f"{incident.title}\n\n"
        f"Priority: {incident.priority}   Status: {incident.status}   Source: {incident.source}\n"
        f"Service: {incident.service or '-'}   Line: {incident.line}\n"
        f"Opened: {incident.created_at:%Y-%m-%d %H:%M} UTC\n"
        f"Why you get this: {why}\n\n"
        f"{settings.base_url.rstrip('/')}/incidents/{incident.id}\n"
    )
    return subject, body


def notify_people(
    session: Session,
    settings: Settings,
    incident: Incident,
    people: tuple[str, ...],
    *,
    reason_key: str,
    why: str,
    now: datetime,
) -> int:
    """Enqueue the incident's message to each person's contact methods; returns rows enqueued.

    Rules: a person's notification rules pick contact methods by priority (``min_priority`` or
    worse) with a delay; a person with enabled methods but no rules gets all of them at once; a
    person with no methods at all gets an email to their account address.
    """
    subject, body = incident_message(incident, settings, why)
    priority = Priority.parse(incident.priority)
    count = 0
    for login in people:
        user = session.scalar(select(User).where(func.lower(User.email) == login, User.active))
        if user is None:
            continue
        methods = list(
            session.scalars(
                select(ContactMethod)
                .where(ContactMethod.user_id == user.id)
                .order_by(ContactMethod.id)
            )
        )
        rules = list(
            session.scalars(select(NotificationRule).where(NotificationRule.user_id == user.id))
        )
        targets: list[tuple[ContactMethod | None, int]] = []
        if not methods:
            targets.append((None, 0))
        elif rules:
            by_id = {m.id: m for m in methods if m.enabled}
            for rule in rules:
                method = by_id.get(rule.contact_method_id)
                if method is not None and priority <= Priority.parse(rule.min_priority):
                    targets.append((method, rule.delay_minutes))
        else:
            targets.extend((m, 0) for m in methods if m.enabled)
        for method, delay in targets:
            channel = method.kind if method else "email"
            target = method.target if method else user.email
            ref = f"contact:{method.id}" if method else None
            options: dict[str, Any] | None = None
            if method is not None and method.secret:
                options = {"signing_secret": method.secret}
            key = f"incident:{incident.id}:{reason_key}:{ref or 'user:' + str(user.id)}:{delay}"
            message = enqueue(
                session,
                channel=channel,
                target=target,
                subject=subject,
                body_text=body,
                payload={
                    "incident_id": incident.id,
                    "title": incident.title,
                    "priority": incident.priority,
                    "status": incident.status,
                    "service": incident.service,
                    "url": f"{settings.base_url.rstrip('/')}/incidents/{incident.id}",
                    "reason": why,
                },
                options=options,
                idempotency_key=key,
                source_type="incident",
                source_id=incident.id,
                channel_ref=ref,
                not_before=now + timedelta(minutes=delay) if delay else None,
            )
            count += message is not None
    return count


@dataclass(frozen=True, slots=True)
class PagePlan:
    """One due escalation step, routed: who gets it and why."""

    due: DueNotification
    people: tuple[str, ...]
    why: str


def plan_pages(
    session: Session, settings: Settings, incident: Incident, now: datetime
) -> list[PagePlan]:
    """Route every escalation step due at ``now`` to people (the pipeline's *route* stage)."""
    events = timeline(session, incident.id)
    status = escalation_due(policy_for(session, incident), events, now)
    plans = []
    for due in status.due:
        people: list[str] = []
        for target in due.targets:
            found = resolve_people(session, settings, target, now)
            people.extend(p for p in found if p not in people)
        why = f"escalation step {due.step + 1} ({', '.join(due.targets)})" + (
            f", round {due.round + 1}" if due.round else ""
        )
        plans.append(PagePlan(due, tuple(people), why))
    return plans


def send_pages(
    session: Session,
    settings: Settings,
    incident: Incident,
    plans: list[PagePlan],
    now: datetime,
) -> int:
    """Enqueue each plan and record it as ``escalation_notified`` (the *notify* stage)."""
    sent = 0
    for plan in plans:
        sent += notify_people(
            session,
            settings,
            incident,
            plan.people,
            reason_key=f"esc:{plan.due.cycle}:{plan.due.position}",
            why=plan.why,
            now=now,
        )
        data_event = notified_event(plan.due, now)
        add_events(session, incident.id, [data_event])
    session.flush()
    return sent


def page_due_steps(session: Session, settings: Settings, incident: Incident, now: datetime) -> int:
    """Route and notify every escalation step due at ``now`` (the worker's entry point)."""
    return send_pages(
        session, settings, incident, plan_pages(session, settings, incident, now), now
    )


def disable_contact(session: Session, channel_ref: str) -> None:
    """Sender callback (``disablers["contact"]``): a permanently failing method is switched off."""
    _prefix, _, ident = channel_ref.partition(":")
    if not ident.isdigit():
        return
    method = session.get(ContactMethod, int(ident))
    if method is not None and method.enabled:
        method.enabled = False
        method.disabled_reason = "disabled after a permanent delivery failure"
