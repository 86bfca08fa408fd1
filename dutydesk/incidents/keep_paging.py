"""Keep paging: an unacknowledged P1/P2 is never left silent once its escalation steps ran out.

When every step of the policy (every round of it) has been notified and the incident is still
*triggered* (nobody acknowledged, nothing resolved it), the people of the last step are paged
again every ``policy.repage_minutes``, counted from the last step's page or the last repeat,
until someone acknowledges or resolves it. P3/P4 incidents are not repeated: their policy's
steps are the whole story. The people are routed again at each repeat (the shift may have
changed), falling back to whom the last step reached.

``repage_due`` is the pure decision (``now`` injected); ``send_repage`` pages and records a
``repaged`` event (people, count, cycle) in the caller's transaction. The idempotency key names
the cycle and the repeat's number, so a retried job never pages twice, and it starts like the
escalation pages' keys, so the people repeated to are told when someone acknowledges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.timeutil import ensure_utc
from dutydesk.incidents.escalation import EscalationPolicy, EscalationStatus
from dutydesk.incidents.events import EventKind, IncidentEvent, IncidentStatus, in_order
from dutydesk.incidents.models import Incident
from dutydesk.incidents.paging import notify_people
from dutydesk.incidents.priority import Priority
from dutydesk.incidents.recipients import PagingCache, is_reachable
from dutydesk.incidents.store import add_events

#: The priorities that are paged again and again.
KEPT_PRIORITIES = (Priority.P1, Priority.P2)


@dataclass(frozen=True, slots=True)
class Repage:
    """``due``: page again now. ``next_at``: when the next repeat falls due (``None``: never,
    as things stand). ``count``: repeats already sent in this cycle. ``targets``/``people``: the
    last step's targets and whom it reached."""

    due: bool
    next_at: datetime | None
    count: int = 0
    cycle: int = 0
    targets: tuple[str, ...] = ()
    people: tuple[str, ...] = ()


NOTHING = Repage(False, None)


def repage_due(
    policy: EscalationPolicy,
    escalation: EscalationStatus | None,
    priority: Priority | str,
    timeline: Sequence[IncidentEvent],
    now: datetime,
) -> Repage:
    """Is a repeat of the page due at ``now``? (pure; see the module docstring)."""
    now = ensure_utc(now, "now")
    if escalation is None or Priority.parse(priority) not in KEPT_PRIORITIES:
        return NOTHING
    if not escalation.exhausted or escalation.due:
        return NOTHING  # steps still to come (or due now): escalation pages first
    events = in_order(timeline, now)
    status: IncidentStatus | None = None
    cycle_start: datetime | None = None
    for event in events:
        after = event.status_after()
        if after is IncidentStatus.TRIGGERED and (status is not IncidentStatus.TRIGGERED
                                                  or event.kind is EventKind.TRIGGERED):
            cycle_start = event.at
        status = after or status
    if status is not IncidentStatus.TRIGGERED or cycle_start is None:
        return NOTHING
    last_step: IncidentEvent | None = None
    repeats: list[IncidentEvent] = []
    for event in events:
        if event.at < cycle_start:
            continue
        if event.kind is EventKind.ESCALATION_NOTIFIED:
            last_step = event
        elif event.kind is EventKind.REPAGED and event.data.get("cycle") == escalation.cycle:
            repeats.append(event)
    if last_step is None:
        return NOTHING
    since = max([last_step.at, *(event.at for event in repeats)])
    next_at = since + timedelta(minutes=policy.repage_minutes)
    return Repage(
        due=next_at <= now,
        next_at=next_at,
        count=len(repeats),
        cycle=escalation.cycle,
        targets=tuple(str(t) for t in last_step.data.get("targets") or ()),
        people=tuple(str(p) for p in last_step.data.get("people") or ()),
    )


def send_repage(
    session: Session, settings: Settings, incident: Incident, repage: Repage, minutes: int,
    now: datetime,
) -> int:
    """Page the last step's people again and record it; returns messages enqueued."""
    cache = PagingCache(session, settings, now)
    people: list[str] = []
    for target in repage.targets:
        found = cache.directory.people(target, incident.site_id)
        people.extend(p for p in found if p not in people)
    if not people:
        people = list(repage.people)
    contacts = cache.contacts(people)
    reachable = tuple(p for p in people if is_reachable(contacts.get(p)))
    number = repage.count + 1
    sent = notify_people(
        session, settings, incident, reachable,
        reason_key=f"esc:{repage.cycle}:repeat:{number}",
        why=f"still not acknowledged: paged again ({number}), every {minutes} min until "
            "someone acknowledges",
        now=now, cache=cache, subject_prefix="[STILL OPEN] ",
    )
    add_events(session, incident.id, [IncidentEvent(
        EventKind.REPAGED, now, "escalation",
        {"people": list(reachable), "count": number, "cycle": repage.cycle})])
    return sent
