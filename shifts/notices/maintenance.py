"""Scheduled maintenance by the clock: automatic start/end, reminders, who is under maintenance.

Automatic state (:func:`due_transition`): a published maintenance notice moves
``scheduled → in_progress`` at ``scheduled_for`` (if ``window.auto_start``) and to ``completed``
at ``scheduled_until`` (if ``window.auto_complete``; also from ``scheduled`` when nobody started
it, so a past window never stays "scheduled"). Once a *person* posts an update with any status
other than ``scheduled`` (started early, verifying, completed, …) the notice is under manual
control and the clock no longer moves it: the person's word beats the calendar.

The functions only decide; the worker applies (:func:`apply_due_transition`) and stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .model import (
    Notice,
    NoticeError,
    NoticeKind,
    UpdateStatus,
    add_update,
    require_aware,
)

ACTIVE_STATUSES = frozenset({UpdateStatus.IN_PROGRESS, UpdateStatus.VERIFYING})
DEFAULT_AUTHOR = "DutyDesk"
DEFAULT_STARTED_BODY = "Scheduled maintenance is now in progress."
DEFAULT_COMPLETED_BODY = "Scheduled maintenance has been completed."


def under_manual_control(notice: Notice) -> bool:
    """True once a person posted a non-``scheduled`` update (the clock then stays out)."""
    return any(not u.automatic and u.status is not UpdateStatus.SCHEDULED for u in notice.updates)


def due_transition(notice: Notice, now: datetime) -> UpdateStatus | None:
    """The status the clock moves ``notice`` to at ``now``, or ``None`` if nothing is due.

    Only published, open maintenance notices that are not under manual control move.
    """
    require_aware("now", now)
    if (notice.kind is not NoticeKind.MAINTENANCE or notice.window is None
            or not notice.is_published or notice.is_closed or under_manual_control(notice)):
        return None
    window = notice.window
    if window.auto_complete and now >= window.scheduled_until:
        return UpdateStatus.COMPLETED
    started = now >= window.scheduled_for
    if window.auto_start and started and notice.status is UpdateStatus.SCHEDULED:
        return UpdateStatus.IN_PROGRESS
    return None


def current_status(notice: Notice, now: datetime) -> UpdateStatus:
    """The notice's status at ``now`` including a transition that is due but not yet stored,
    so the page is right even before the worker has run."""
    return due_transition(notice, now) or notice.status


def apply_due_transition(
    notice: Notice,
    now: datetime,
    *,
    author: str = DEFAULT_AUTHOR,
    started_body: str = DEFAULT_STARTED_BODY,
    completed_body: str = DEFAULT_COMPLETED_BODY,
) -> Notice:
    """Return ``notice`` with the due automatic update added (marked ``automatic``), or the
    same notice when nothing is due. Running it twice at the same ``now`` adds nothing more."""
    target = due_transition(notice, now)
    if target is None:
        return notice
    body = started_body if target is UpdateStatus.IN_PROGRESS else completed_body
    return add_update(notice, target, body, author, now, automatic=True)


def is_active(notice: Notice, now: datetime) -> bool:
    """A published maintenance notice whose (current) status is in_progress or verifying."""
    return (notice.kind is NoticeKind.MAINTENANCE and notice.is_published
            and current_status(notice, now) in ACTIVE_STATUSES)


def is_upcoming(notice: Notice, now: datetime) -> bool:
    """A published maintenance notice that is still ``scheduled`` at ``now``."""
    return (notice.kind is NoticeKind.MAINTENANCE and notice.is_published
            and current_status(notice, now) is UpdateStatus.SCHEDULED)


def services_under_maintenance(notices: Iterable[Notice], now: datetime) -> frozenset[str]:
    """Ids of the services affected by a maintenance that is active at ``now``."""
    require_aware("now", now)
    return frozenset(a.service_id for n in notices if is_active(n, now) for a in n.affected)


@dataclass(frozen=True, slots=True)
class Reminder:
    """Send "maintenance starts in ``lead``" for ``notice``; ``due_at`` = start − lead."""

    notice: Notice
    lead: timedelta
    due_at: datetime


def reminders_due(notices: Iterable[Notice], last_run: datetime, now: datetime) -> list[Reminder]:
    """Reminders whose moment falls in ``(last_run, now]``, oldest moment first.

    A worker that stores ``now`` as the next ``last_run`` sends every reminder exactly once.
    Skipped: moments before publication (the publish notification already told people),
    notices no longer upcoming at ``now`` (started, completed, or under manual control), and
    reminders once the window has started (a late "starts in 1 hour" would be wrong).
    """
    require_aware("last_run", last_run)
    require_aware("now", now)
    if last_run > now:
        raise NoticeError(f"last_run {last_run.isoformat()} is after now {now.isoformat()}")
    due = []
    for n in notices:
        if n.window is None or not is_upcoming(n, now) or now >= n.window.scheduled_for:
            continue
        for lead in n.window.reminder_leads:
            moment = n.window.scheduled_for - lead
            if last_run < moment <= now and n.published_at is not None and moment >= n.published_at:
                due.append(Reminder(n, lead, moment))
    due.sort(key=lambda r: (r.due_at, r.notice.id))
    return due
