"""Services, outage notices and their updates as value objects, and the pure rules that change them.

Everything here is a frozen dataclass; a rule such as :func:`add_update` returns a *new* notice and
never touches the one it was given, so a refused change leaves nothing changed. Times are
timezone-aware (UTC); naive datetimes are refused with :class:`NaiveDatetimeError`.

Statuses use Atlassian Statuspage's names (``operational``, ``degraded_performance``, …;
``investigating`` → ``resolved``; ``scheduled`` → ``completed``) so the public JSON can use them
as they are.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

import markdown as _markdown
import nh3

# --------------------------------------------------------------------------------------------
# Errors


class NoticeError(ValueError):
    """Base for every refusal of a notice change; the message is meant for a person."""


class NaiveDatetimeError(NoticeError):
    """A datetime without a time zone slipped in."""


class InvalidStatusError(NoticeError):
    """A status value that does not exist or does not fit the kind of notice."""


class StatusTransitionError(NoticeError):
    """A move between update statuses that the rules do not allow."""


class NoticeClosedError(NoticeError):
    """An update on a resolved incident or a completed maintenance."""


class PublishError(NoticeError):
    """The notice is not ready to be shown to employees; ``problems`` lists every reason."""

    def __init__(self, notice_id: str, problems: tuple[str, ...]) -> None:
        self.problems = problems
        super().__init__(f"cannot publish notice {notice_id!r}: " + "; ".join(problems))


def require_aware(name: str, value: datetime | None) -> None:
    """Raise :class:`NaiveDatetimeError` if ``value`` is a naive datetime (``None`` is allowed)."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise NaiveDatetimeError(f"{name} must be timezone-aware (UTC), got naive {value!r}")


# --------------------------------------------------------------------------------------------
# Enumerations


class ServiceStatus(enum.StrEnum):
    """A service's state, with Statuspage's component status names."""

    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"

    @property
    def severity(self) -> int:
        """Order for "worst wins": maintenance is worse than operational, better than degraded.

        Planned work outranks "all fine" (people must learn of it) but any real trouble that a
        person or a check reports outranks planned work.
        """
        return _SERVICE_SEVERITY[self]


_SERVICE_SEVERITY = {status: rank for rank, status in enumerate((
    ServiceStatus.OPERATIONAL, ServiceStatus.UNDER_MAINTENANCE, ServiceStatus.DEGRADED_PERFORMANCE,
    ServiceStatus.PARTIAL_OUTAGE, ServiceStatus.MAJOR_OUTAGE))}


class StatusMode(enum.StrEnum):
    """Who sets a service's status: its linked checks (``auto``) or only a person (``manual``)."""

    AUTO = "auto"
    MANUAL = "manual"


class NoticeKind(enum.StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class Impact(enum.StrEnum):
    """The overall impact of a notice (Statuspage's incident impact)."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Impact).index(self)


class UpdateStatus(enum.StrEnum):
    """Status carried by each update; the first four are for incidents, the rest for maintenance."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"

    @property
    def kind(self) -> NoticeKind:
        return NoticeKind.INCIDENT if self in INCIDENT_STATUSES else NoticeKind.MAINTENANCE

    @property
    def is_final(self) -> bool:
        return self in (UpdateStatus.RESOLVED, UpdateStatus.COMPLETED)


INCIDENT_STATUSES: tuple[UpdateStatus, ...] = (
    UpdateStatus.INVESTIGATING, UpdateStatus.IDENTIFIED, UpdateStatus.MONITORING,
    UpdateStatus.RESOLVED)
MAINTENANCE_STATUSES: tuple[UpdateStatus, ...] = (
    UpdateStatus.SCHEDULED, UpdateStatus.IN_PROGRESS, UpdateStatus.VERIFYING,
    UpdateStatus.COMPLETED)
STATUSES_BY_KIND = {NoticeKind.INCIDENT: INCIDENT_STATUSES,
                    NoticeKind.MAINTENANCE: MAINTENANCE_STATUSES}
INITIAL_STATUS = {NoticeKind.INCIDENT: UpdateStatus.INVESTIGATING,
                  NoticeKind.MAINTENANCE: UpdateStatus.SCHEDULED}


E = TypeVar("E", bound=enum.StrEnum)


def parse_enum(cls: type[E], name: str, value: str | E) -> E:
    """Turn ``value`` into a member of ``cls``, or raise :class:`InvalidStatusError` naming it."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise InvalidStatusError(f"{name} must be one of {allowed}; got {value!r}") from None


# --------------------------------------------------------------------------------------------
# Value objects


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    """A heading on the status page ("Office", "Data center hall A")."""

    id: str
    name: str
    position: int = 0
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("group created_at", self.created_at)
        require_aware("group updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class Service:
    """A service employees understand (Mail, 1C, VPN…).

    ``status`` is the status a person set; in ``auto`` mode the effective status follows the
    checks named in ``check_ids`` (see :mod:`shifts.notices.status`). ``group`` is a group id;
    ``site`` the slug of the data center that provides the service (``None``: not stored).
    """

    id: str
    name: str
    group: str | None = None
    site: str | None = None
    status: ServiceStatus = ServiceStatus.OPERATIONAL
    description: str = ""
    position: int = 0
    mode: StatusMode = StatusMode.MANUAL
    check_ids: tuple[str, ...] = ()
    only_show_if_degraded: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", parse_enum(ServiceStatus, "service status", self.status))
        object.__setattr__(self, "mode", parse_enum(StatusMode, "service status mode", self.mode))
        object.__setattr__(self, "check_ids", tuple(self.check_ids))
        require_aware("service created_at", self.created_at)
        require_aware("service updated_at", self.updated_at)


@dataclass(frozen=True, slots=True)
class AffectedService:
    """One service a notice is about, and how badly (a component status)."""

    service_id: str
    impact: ServiceStatus = ServiceStatus.MAJOR_OUTAGE

    def __post_init__(self) -> None:
        object.__setattr__(self, "impact", parse_enum(ServiceStatus, "service impact", self.impact))


@dataclass(frozen=True, slots=True)
class AffectedChange:
    """How an update changed one service's impact (Statuspage's ``affected_components``)."""

    service_id: str
    old_status: ServiceStatus
    new_status: ServiceStatus


@dataclass(frozen=True, slots=True)
class NoticeUpdate:
    """One entry of a notice's timeline. ``body`` is Markdown; ``automatic`` marks updates the
    worker posted by itself (maintenance start/end), as opposed to a person's."""

    id: str
    status: UpdateStatus
    body: str
    created_at: datetime
    author: str
    affected_changes: tuple[AffectedChange, ...] = ()
    automatic: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", parse_enum(UpdateStatus, "update status", self.status))
        require_aware("update created_at", self.created_at)


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """When planned work happens and when to remind people about it.

    ``reminder_leads`` are durations before ``scheduled_for`` (e.g. 24 h and 1 h). With
    ``auto_start``/``auto_complete`` the notice moves to in_progress/completed by the clock
    (see :mod:`shifts.notices.maintenance`).
    """

    scheduled_for: datetime
    scheduled_until: datetime
    reminder_leads: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    auto_start: bool = True
    auto_complete: bool = True

    def __post_init__(self) -> None:
        require_aware("scheduled_for", self.scheduled_for)
        require_aware("scheduled_until", self.scheduled_until)
        if self.scheduled_until <= self.scheduled_for:
            raise NoticeError(
                "maintenance must end after it starts: scheduled_until "
                f"{self.scheduled_until.isoformat()} is not after scheduled_for "
                f"{self.scheduled_for.isoformat()}"
            )
        for lead in self.reminder_leads:
            if lead <= timedelta(0):
                raise NoticeError(f"reminder lead time must be positive, got {lead}")
        # Sorted longest-first and de-duplicated so each reminder is sent once, in time order.
        object.__setattr__(self, "reminder_leads",
                           tuple(sorted(set(self.reminder_leads), reverse=True)))


@dataclass(frozen=True, slots=True)
class Notice:
    """An outage notice (``incident``) or a scheduled maintenance notice (``maintenance``).

    ``updates`` are oldest first. ``published_at`` is ``None`` for a draft. ``started_at`` is when
    the trouble began (may be before the notice was written; defaults to publication).
    ``incident_ids`` link to DutyDesk incidents. ``window`` is required for maintenance and
    forbidden for incidents.
    """

    id: str
    title: str
    kind: NoticeKind
    impact: Impact = Impact.NONE
    affected: tuple[AffectedService, ...] = ()
    updates: tuple[NoticeUpdate, ...] = ()
    created_at: datetime | None = None
    published_at: datetime | None = None
    resolved_at: datetime | None = None
    started_at: datetime | None = None
    expected_resolution_at: datetime | None = None
    incident_ids: tuple[str, ...] = ()
    shortlink: str | None = None
    window: MaintenanceWindow | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_enum(NoticeKind, "notice kind", self.kind))
        object.__setattr__(self, "impact", parse_enum(Impact, "notice impact", self.impact))
        # Lists from a form or a query become tuples, so a notice stays hashable and immutable.
        for name in ("affected", "updates", "incident_ids"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("created_at", "published_at", "resolved_at", "started_at",
                     "expected_resolution_at"):
            require_aware(f"notice {name}", getattr(self, name))
        if self.kind is NoticeKind.MAINTENANCE and self.window is None:
            raise NoticeError(f"maintenance notice {self.id!r} needs a window (start and end)")
        if self.kind is NoticeKind.INCIDENT and self.window is not None:
            raise NoticeError(f"incident notice {self.id!r} cannot have a maintenance window")
        seen: set[str] = set()
        for a in self.affected:
            if a.service_id in seen:
                raise NoticeError(f"service {a.service_id!r} is listed twice in notice {self.id!r}")
            seen.add(a.service_id)
        for u in self.updates:
            if u.status.kind is not self.kind:
                raise InvalidStatusError(
                    f"update status {u.status.value!r} does not fit a {self.kind.value} notice"
                )

    @property
    def status(self) -> UpdateStatus:
        """The latest update's status; a notice without updates is investigating/scheduled."""
        return self.updates[-1].status if self.updates else INITIAL_STATUS[self.kind]

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_closed(self) -> bool:
        """Resolved (incident) or completed (maintenance)."""
        return self.status.is_final

    @property
    def latest_update(self) -> NoticeUpdate | None:
        return self.updates[-1] if self.updates else None

    @property
    def updated_at(self) -> datetime | None:
        """The latest moment anything visible changed."""
        moments = [m for m in (self.created_at, self.published_at, self.resolved_at) if m]
        moments += [u.created_at for u in self.updates]
        return max(moments) if moments else None

    def first_time_in(self, status: UpdateStatus) -> datetime | None:
        """When the notice first reached ``status`` (Statuspage's ``monitoring_at``), or None."""
        return next((u.created_at for u in self.updates if u.status is status), None)


# --------------------------------------------------------------------------------------------
# Update rules

#: Backward moves a person may make. Everything forward (including skipping stages) is allowed,
#: and so is repeating the current status ("still investigating"). Backward moves:
#: - incident: from identified or monitoring back to investigating or identified — the fix did
#:   not hold or the cause was wrong; this is everyday life and the page must be able to say so.
#: - maintenance: verifying back to in_progress (verification failed, work resumes). Once work
#:   has started it can never go back to ``scheduled``: a started window cannot be un-started;
#:   complete it (saying it was rolled back) and schedule a new one.
#: Final statuses (resolved/completed) are never left by add_update; use :func:`reopen`.
ALLOWED_BACKWARD_MOVES: frozenset[tuple[UpdateStatus, UpdateStatus]] = frozenset({
    (UpdateStatus.IDENTIFIED, UpdateStatus.INVESTIGATING),
    (UpdateStatus.MONITORING, UpdateStatus.INVESTIGATING),
    (UpdateStatus.MONITORING, UpdateStatus.IDENTIFIED),
    (UpdateStatus.VERIFYING, UpdateStatus.IN_PROGRESS),
})


def check_transition(kind: NoticeKind, old: UpdateStatus, new: UpdateStatus) -> None:
    """Raise unless a ``kind`` notice may move from ``old`` to ``new`` (ALLOWED_BACKWARD_MOVES)."""
    order = STATUSES_BY_KIND[kind]
    if new not in order:
        allowed = ", ".join(s.value for s in order)
        raise InvalidStatusError(
            f"update status for a {kind.value} notice must be one of {allowed}; got {new.value!r}"
        )
    if old.is_final:
        raise NoticeClosedError(
            f"this notice is {old.value}; reopen it or create a new one"
        )
    if order.index(new) < order.index(old) and (old, new) not in ALLOWED_BACKWARD_MOVES:
        raise StatusTransitionError(
            f"a {kind.value} notice cannot go back from {old.value!r} to {new.value!r}"
        )


def _affected_changes(old: tuple[AffectedService, ...],
                      new: tuple[AffectedService, ...]) -> tuple[AffectedChange, ...]:
    before = {a.service_id: a.impact for a in old}
    after = {a.service_id: a.impact for a in new}
    changes = []
    for sid in list(before) + [s for s in after if s not in before]:
        o = before.get(sid, ServiceStatus.OPERATIONAL)
        n = after.get(sid, ServiceStatus.OPERATIONAL)
        if o is not n:
            changes.append(AffectedChange(sid, o, n))
    return tuple(changes)


def add_update(
    notice: Notice,
    status: UpdateStatus | str,
    body: str,
    author: str,
    now: datetime,
    *,
    update_id: str | None = None,
    affected: tuple[AffectedService, ...] | None = None,
    automatic: bool = False,
) -> Notice:
    """Return ``notice`` with one more update at ``now``; the given notice is left unchanged.

    Refuses (with a :class:`NoticeError` subclass): a blank body or author, a status that does
    not fit the notice kind, a move the rules forbid (see ``ALLOWED_BACKWARD_MOVES``), any update
    after resolved/completed, and a ``now`` earlier than the previous update. ``affected``
    (optional) replaces the list of affected services; the change is recorded on the update. A
    final status sets ``resolved_at``. ``update_id`` defaults to ``"<notice id>-<n>"`` (n from 1).
    """
    new_status = parse_enum(UpdateStatus, "update status", status)
    check_transition(notice.kind, notice.status, new_status)
    return _append(notice, new_status, body, author, now, update_id, affected, automatic)


def reopen(notice: Notice, status: UpdateStatus | str, body: str, author: str, now: datetime,
           *, update_id: str | None = None) -> Notice:
    """Reopen a resolved/completed notice with an update in a non-final ``status``.

    Only closed notices can be reopened; ``resolved_at`` is cleared. The same text, author and
    time rules as :func:`add_update` apply.
    """
    if not notice.is_closed:
        raise StatusTransitionError(
            f"notice {notice.id!r} is not resolved; there is nothing to reopen")
    new_status = parse_enum(UpdateStatus, "update status", status)
    if new_status.is_final or new_status.kind is not notice.kind:
        allowed = ", ".join(s.value for s in STATUSES_BY_KIND[notice.kind] if not s.is_final)
        raise InvalidStatusError(
            f"reopen status must be one of {allowed}; got {new_status.value!r}")
    return _append(notice, new_status, body, author, now, update_id, None, False)


def _append(notice: Notice, status: UpdateStatus, body: str, author: str, now: datetime,
            update_id: str | None, affected: tuple[AffectedService, ...] | None,
            automatic: bool) -> Notice:
    require_aware("now", now)
    if not body or not body.strip():
        raise NoticeError("update text (body) is required; got an empty text")
    if not author or not author.strip():
        raise NoticeError("update author is required; got an empty name")
    last = notice.latest_update
    if last is not None and now < last.created_at:
        raise NoticeError(
            f"update time {now.isoformat()} is earlier than the previous update "
            f"({last.created_at.isoformat()})"
        )
    new_affected = notice.affected if affected is None else tuple(affected)
    update = NoticeUpdate(
        id=update_id or f"{notice.id}-{len(notice.updates) + 1}",
        status=status,
        body=body.strip(),
        created_at=now,
        author=author.strip(),
        affected_changes=_affected_changes(notice.affected, new_affected),
        automatic=automatic,
    )
    return replace(
        notice,
        updates=(*notice.updates, update),
        affected=new_affected,
        resolved_at=now if status.is_final else None,
    )


def publish(notice: Notice, now: datetime) -> Notice:
    """Return ``notice`` published at ``now``, or raise :class:`PublishError` listing every problem.

    A notice is publishable when it has a title, at least one affected service and at least one
    update with text, and is not already published.
    """
    require_aware("now", now)
    problems = []
    if notice.is_published:
        problems.append("it is already published")
    if not notice.title.strip():
        problems.append("the title is empty")
    if not notice.affected:
        problems.append("no affected service is selected")
    if not any(u.body.strip() for u in notice.updates):
        problems.append("there is no text (add a first update)")
    if problems:
        raise PublishError(notice.id, tuple(problems))
    return replace(notice, published_at=now, started_at=notice.started_at or now)


# --------------------------------------------------------------------------------------------
# Markdown

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "strong", "em", "b", "i", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})


MARKDOWN_EXTENSIONS = ("sane_lists", "fenced_code", "tables")


def render_markdown(text: str) -> str:
    """Render an update body (Markdown) to safe HTML.

    Raw HTML in the text is sanitised, not trusted: only ``ALLOWED_TAGS`` survive, ``script`` and
    ``style`` are dropped with their content, no ``on*``/``style`` attributes, links keep only
    ``href``/``title`` with http(s)/mailto/tel schemes and get ``rel="nofollow noopener"``.
    Images are not allowed (an internal page must not fetch outside pixels).
    """
    html = _markdown.markdown(text or "", extensions=list(MARKDOWN_EXTENSIONS),
                              output_format="html")
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="nofollow noopener",
        strip_comments=True,
    )
