"""Turning "this escalation step is due" into outbox rows for the right people's contact methods.

One code path for the first page (the pipeline, in the transaction that opens the incident) and
for later steps (the worker): ``page_due_steps`` asks ``escalation_due`` what is due, routes each
target to people, picks each person's contact methods by their notification rules, enqueues, and
records ``escalation_notified`` so the step is never paged twice. Idempotency keys name the
incident, cycle, position and contact method, so a retried job adds nothing.

Who the people are, their contact methods and rules: ``dutydesk.incidents.recipients``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.models.accounts import Role, User
from dutydesk.core.notify.outbox import enqueue
from dutydesk.incidents.chat.refresh import refresh_messages
from dutydesk.incidents.chat.render import page_options
from dutydesk.incidents.escalation import DueNotification, escalation_due, notified_event
from dutydesk.incidents.events import EventKind, IncidentEvent
from dutydesk.incidents.models import ContactMethod, Incident
from dutydesk.incidents.page_actions import page_extras
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.quiet import quiet_until, zone
from dutydesk.incidents.recipients import PagingCache, is_reachable, load_contacts
from dutydesk.incidents.store import add_events, timeline
from dutydesk.incidents.storm_io import ledger, storm_allows


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
    cache: PagingCache | None = None,
    subject_prefix: str = "",
    immediate: bool = False,
    actions: bool = True,
    buttons: bool = True,
) -> int:
    """Enqueue the incident's message to each person's contact methods; returns rows enqueued.

    Rules: a person's notification rules pick contact methods by priority (``min_priority`` or
    worse) with a delay; a person with enabled methods but no rules gets all of them at once; a
    person with no methods at all gets an email to their account address. ``immediate`` drops
    the delays (news that an incident is over must not arrive later than needed).

    ``actions``: each person's page carries their signed action links and mail reply token
    (``dutydesk.incidents.page_actions``). A person's quiet hours hold a P3/P4 page back until
    they end (``dutydesk.incidents.quiet``); P1/P2 always go as planned.

    ``buttons``: Telegram and Slack/Mattermost pages carry Acknowledge / Resolve / Escalate
    buttons (``chat.render``) and are edited when the incident changes.
    """
    subject, body = incident_message(incident, settings, why)
    subject = (subject_prefix + subject)[:500]
    priority = Priority.parse(incident.priority)
    contacts = cache.contacts(people) if cache is not None else load_contacts(session, people)
    count = 0
    for login in people:
        contact = contacts.get(login) or contacts.get(login.lower())
        if contact is None:
            continue
        user, methods, rules = contact.user, contact.methods, contact.rules
        targets: list[tuple[ContactMethod | None, int]] = []
        if not methods:
            targets.append((None, 0))
        elif rules:
            by_id = {m.id: m for m in methods if m.enabled}
            for rule in rules:
                method = by_id.get(rule.contact_method_id)
                if method is not None and priority <= Priority.parse(rule.min_priority):
                    targets.append((method, 0 if immediate else rule.delay_minutes))
        else:
            targets.extend((m, 0) for m in methods if m.enabled)
        extras = None
        if actions:
            extras = page_extras(settings, incident.id, user.id, now, user.language)
        quiet_tz = zone(user.timezone, settings.timezone) if contact.quiet else None
        for method, delay in dict.fromkeys(targets):  # immediate: one message per method
            channel = method.kind if method else "email"
            target = method.target if method else user.email
            ref = f"contact:{method.id}" if method else None
            options: dict[str, Any] | None = None
            if method is not None and method.secret:
                options = {"signing_secret": method.secret}
            chat = page_options(channel, target, incident, settings) if buttons else None
            if chat:
                options = {**(options or {}), **chat}
            key = f"incident:{incident.id}:{reason_key}:{ref or 'user:' + str(user.id)}:{delay}"
            at = now + timedelta(minutes=delay)
            if quiet_tz is not None:
                at = quiet_until(contact.quiet, quiet_tz, priority, at) or at
            page_subject, page_body, payload_extra = subject, body, {}
            if extras is not None:
                page_body = body + extras.text
                payload_extra = {"actions": extras.links}
                if channel == "email":
                    page_body += extras.mail_hint
                    page_subject = (subject + extras.subject_tag)[:500]
                    options = {**(options or {}), **extras.options}
            if not storm_allows(session, settings, channel, target, priority, at):
                ledger(session, incident, channel, target, ref, subject, at, held=True)
                count += 1
                continue
            message = enqueue(
                session,
                channel=channel,
                target=target,
                subject=page_subject,
                body_text=page_body,
                payload={
                    "incident_id": incident.id,
                    "title": incident.title,
                    "priority": incident.priority,
                    "status": incident.status,
                    "service": incident.service,
                    "url": f"{settings.base_url.rstrip('/')}/incidents/{incident.id}",
                    "reason": why,
                    **payload_extra,
                },
                options=options,
                idempotency_key=key,
                source_type="incident",
                source_id=incident.id,
                channel_ref=ref,
                not_before=at if at > now else None,
                priority=int(priority),  # a P1 page is delivered before anything else
            )
            if message is not None:
                ledger(session, incident, channel, target, ref, subject, at, held=False)
            count += message is not None
    return count


@dataclass(frozen=True, slots=True)
class PagePlan:
    """One due escalation step, routed: who gets it and why."""

    due: DueNotification
    people: tuple[str, ...]
    why: str


def plan_pages(
    session: Session,
    settings: Settings,
    incident: Incident,
    now: datetime,
    *,
    cache: PagingCache | None = None,
    events: list[IncidentEvent] | None = None,
) -> list[PagePlan]:
    """Route every escalation step due at ``now`` to people (the pipeline's *route* stage).

    ``events``: the incident's whole timeline when the caller already has it (an incident it
    opened in this transaction); otherwise it is read. ``cache``: shared reads of a batch.
    """
    cache = cache or PagingCache(session, settings, now)
    if events is None:
        events = timeline(session, incident.id)
    status = escalation_due(cache.policy(incident), events, now)
    plans = []
    for due in status.due:
        people: list[str] = []
        for target in due.targets:
            found = cache.directory.people(target, incident.site_id)
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
    *,
    cache: PagingCache | None = None,
    flush: bool = True,
    skip: Iterable[str] = (),
) -> int:
    """Enqueue each plan and record it as ``escalation_notified`` (the *notify* stage).

    The event names the people the step was routed to (``people``), so whoever was paged can
    be told when the incident ends (``notify_resolved``). ``skip``: people who already have
    this incident (a returning problem) — recorded with the step, not paged again.

    A person who is not reachable (``is_reachable``) is skipped with a ``person_unreachable``
    event and the admins are told; when nobody of a step is reachable, the next step is paged
    at once (an ``escalated`` event moves the cycle on), up to the end of the policy.
    """
    cache = cache or PagingCache(session, settings, now)
    skipped = set(skip)
    sent = 0
    pending = list(plans)
    for _round in range(len(cache.policy(incident).steps) * 10 + 1):
        if not pending:
            break
        nobody = False
        for plan in pending:
            contacts = cache.contacts(plan.people)
            reachable = tuple(p for p in plan.people if is_reachable(contacts.get(p)))
            for login in plan.people:
                if login not in reachable:
                    _unreachable(session, settings, incident, login, plan, now)
            sent += notify_people(
                session,
                settings,
                incident,
                tuple(p for p in reachable if p not in skipped),
                reason_key=f"esc:{plan.due.cycle}:{plan.due.position}",
                why=plan.why,
                now=now,
                cache=cache,
            )
            event = notified_event(plan.due, now)
            data_event = replace(event, data={**event.data, "people": list(reachable)})
            add_events(session, incident.id, [data_event])
            # Routed to people, none of whom can be reached: the next step must not wait.
            nobody = nobody or (bool(plan.people) and not reachable)
        pending = []
        if nobody:
            session.flush()
            add_events(session, incident.id, [IncidentEvent(
                EventKind.ESCALATED, now, "escalation",
                {"reason": "nobody in the step can be reached"})])
            session.flush()
            pending = plan_pages(session, settings, incident, now, cache=cache)
    if flush:
        session.flush()
    return sent


def _unreachable(
    session: Session, settings: Settings, incident: Incident, login: str, plan: PagePlan,
    now: datetime,
) -> None:
    """Skip ``login`` on the timeline and tell the admins (once per person and incident)."""
    add_events(session, incident.id, [IncidentEvent(
        EventKind.PERSON_UNREACHABLE, now, "escalation",
        {"person": login, "targets": list(plan.due.targets)})])
    admins = session.scalars(
        select(User.email).where(User.role == Role.ADMIN, User.active).order_by(User.id)
    )
    url = f"{settings.base_url.rstrip('/')}/incidents/{incident.id}"
    for email in admins:
        enqueue(
            session,
            channel="email",
            target=email,
            subject=f"[DutyDesk] {login} cannot be paged: no working contact method"[:500],
            body_text=(
                f"{login} was due to be paged for incident #{incident.id} ({incident.title}) "
                f"as {', '.join(plan.due.targets)}, but has no working contact method (every "
                f"method is disabled, e.g. after a permanent delivery failure). They were "
                f"skipped and the next step was paged.\n\n"
                f"Ask them to fix their notification settings, or change the schedule.\n{url}\n"
            ),
            idempotency_key=f"unreachable:{incident.id}:{login}:{email}"[:200],
            source_type="admin_alert",
            source_id=incident.id,
        )


def paged_people(events: Iterable[IncidentEvent]) -> tuple[str, ...]:
    """Everybody an escalation step was routed to, in the order first paged (pure)."""
    people: list[str] = []
    for event in events:
        if event.kind is EventKind.ESCALATION_NOTIFIED:
            for login in event.data.get("people") or ():
                if isinstance(login, str) and login not in people:
                    people.append(login)
    return tuple(people)


def notify_resolved(
    session: Session,
    settings: Settings,
    incident: Incident,
    *,
    reason: str,
    now: datetime,
    events: list[IncidentEvent] | None = None,
    cache: PagingCache | None = None,
) -> int:
    """Tell the people who were paged for ``incident`` that it was resolved automatically.

    One message per person and contact method per resolution: the idempotency key names the
    incident, the resolution (its reopen count: a reopened incident resolves anew) and the
    person's method, so a retried job or request never sends it twice. Returns rows enqueued.
    """
    refresh_messages(session, settings, incident, now)  # the chat pages show it is over
    if events is None:
        events = timeline(session, incident.id)
    people = paged_people(events)
    if not people:
        return 0
    return notify_people(
        session,
        settings,
        incident,
        people,
        reason_key=f"resolved:{incident.reopen_count or 0}",
        why=f"resolved automatically: {reason}",
        now=now,
        cache=cache,
        subject_prefix="[RESOLVED] ",
        immediate=True,
        actions=False,
        buttons=False,
    )


def page_due_steps(session: Session, settings: Settings, incident: Incident, now: datetime) -> int:
    """Route and notify every escalation step due at ``now`` (the worker's entry point)."""
    return send_pages(
        session, settings, incident, plan_pages(session, settings, incident, now), now
    )
