"""Reading the wall's rows from storage in a fixed, small number of queries.

Never one query per check or per incident: checks come in one joined query, problem details in
one more, incidents and their timelines in two, the heartbeat in one. A source whose storage does
not exist in this installation returns ``None`` so its panel is not rendered at all.

``change_cursor`` is the cheap once-a-second question the live feed asks: a tuple that changes
whenever anything the wall shows may have changed (a flip, a soft problem appearing or ending, a
problem check's new result, an incident event or edit). It is not used for display.
"""

from __future__ import annotations

import importlib.util
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from dutydesk.models import WorkerHeartbeat
from dutydesk.wall.rows import (
    CheckRow,
    CheckStatus,
    DutyRow,
    Freshness,
    IncidentRow,
    MaintenanceRow,
    RequestRow,
    RequestsSummary,
    SlaReading,
    VisitorRow,
    WallLimits,
)
from dutydesk.wall.snapshot import Counts, WallView, build_wall

log = logging.getLogger("dutydesk.wall")
_PROBLEM_NAMES = ("WARNING", "CRITICAL", "UNKNOWN")
_HEALTHY_NAMES = ("OK", "PENDING")
_OPEN = ("triggered", "acknowledged", "pending")


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def split_path(path: str | None) -> tuple[str, str]:
    """``"Hall A / UPS / Room 2"`` → hall ``"Hall A"``, system ``"UPS / Room 2"``."""
    if not path:
        return ("—", "—")
    hall, _, system = (part.strip() for part in path.partition("/"))
    return (hall or "—", system or "—")


@dataclass(frozen=True, slots=True)
class CheckSnapshot:
    """What storage says about the checks: full rows for problems only, counts for the rest.

    ``problems``: enabled checks in WARNING/CRITICAL/UNKNOWN (or a status the wall does not
    know, shown as UNKNOWN) and not in maintenance. ``healthy``: per (hall, system), the counts
    of every other enabled check (OK, pending, in maintenance). ``references``: the guard's
    reference checks' latest (slug, status, time). ``newest_result_at``: over all checks.
    """

    problems: list[CheckRow]
    healthy: dict[tuple[str, str], Counts]
    references: list[tuple[str, str, datetime | None]]
    newest_result_at: datetime | None

    @property
    def has_checks(self) -> bool:
        return bool(self.problems) or any(c.total for c in self.healthy.values())


def load_checks(session: Session, site_id: int | None = None) -> CheckSnapshot:
    """Enabled checks (of site ``site_id``, or every site) in 3 queries: healthy counts per group
    (GROUP BY), problem rows with their state, and the guard's reference checks (every site's:
    the poller is central). Healthy rows are never read one by one."""
    from checks.models import Check, CheckGroup, CheckStateRow

    scope = Check.site_id == site_id if site_id is not None else Check.enabled.is_(True)

    healthy_row = or_(
        CheckStateRow.status.is_(None),
        CheckStateRow.status.in_(_HEALTHY_NAMES),
        CheckStateRow.in_maintenance.is_(True),
    )
    problem_row = and_(
        CheckStateRow.status.is_not(None),
        CheckStateRow.status.not_in(_HEALTHY_NAMES),
        func.coalesce(CheckStateRow.in_maintenance, False).is_(False),
    )
    healthy: dict[tuple[str, str], Counts] = {}
    newest: datetime | None = None
    for path, status, in_maintenance, n, latest in session.execute(
        select(
            CheckGroup.path,
            CheckStateRow.status,
            CheckStateRow.in_maintenance,
            func.count(),
            func.max(CheckStateRow.last_result_at),
        )
        .select_from(Check)
        .join(CheckStateRow, CheckStateRow.check_id == Check.id, isouter=True)
        .join(CheckGroup, CheckGroup.id == Check.group_id, isouter=True)
        .where(Check.enabled.is_(True), scope, healthy_row)
        .group_by(CheckGroup.path, CheckStateRow.status, CheckStateRow.in_maintenance)
    ):
        bucket = "maintenance" if in_maintenance else _status(status).value
        group = split_path(path)
        healthy[group] = healthy.get(group, Counts()) + Counts(**{bucket: n})
        if latest is not None and (newest is None or latest > newest):
            newest = latest

    problems: list[CheckRow] = []
    for r in session.execute(
        select(
            Check.id,
            Check.slug,
            Check.display_name,
            Check.service,
            Check.max_attempts,
            CheckGroup.path,
            CheckStateRow.status,
            CheckStateRow.state_type,
            CheckStateRow.attempt,
            CheckStateRow.flapping,
            CheckStateRow.last_result_at,
            CheckStateRow.last_message,
            CheckStateRow.state,  # reachability and "since" live in the state JSON
        )
        .join(CheckStateRow, CheckStateRow.check_id == Check.id)
        .join(CheckGroup, CheckGroup.id == Check.group_id, isouter=True)
        .where(Check.enabled.is_(True), scope, problem_row)
    ):
        hall, system = split_path(r.path)
        state = r.state if isinstance(r.state, dict) else {}
        problems.append(
            CheckRow(
                id=r.id,
                name=r.display_name or r.slug,
                hall=hall,
                system=system,
                service=r.service or "",
                status=_status(r.status),
                hard=(r.state_type or "HARD").upper() == "HARD",
                attempt=r.attempt or 1,
                max_attempts=r.max_attempts or 1,
                flapping=bool(r.flapping),
                reachable=bool(state.get("reachable", True)),
                in_maintenance=False,
                last_result_at=r.last_result_at,
                since=_parse_time(state.get("since")),
                message=(r.last_message or "")[:300],
            )
        )
        if r.last_result_at is not None and (newest is None or r.last_result_at > newest):
            newest = r.last_result_at

    problems = _mark_handled(session, problems)
    references: list[tuple[str, str, datetime | None]] = [
        (slug, last_status or "", at)
        for slug, last_status, at in session.execute(
            select(Check.slug, CheckStateRow.last_status, CheckStateRow.last_result_at)
            .join(CheckStateRow, CheckStateRow.check_id == Check.id, isouter=True)
            .where(Check.enabled.is_(True), Check.guard_reference.is_(True))
        )
    ]
    return CheckSnapshot(problems, healthy, references, newest)


def _mark_handled(session: Session, problems: list[CheckRow]) -> list[CheckRow]:
    """Set ``acknowledged`` (an open incident of the check is acknowledged) and ``muted`` (the
    pipeline muted the check's latest flip: silence, parent down...) on the problem rows, in two
    queries whatever the number of problems."""
    if not problems:
        return problems
    from dataclasses import replace

    from checks.models import FlipRow

    ids = [p.id for p in problems]
    acked: set[int] = set()
    if incidents_available():
        from dutydesk.incidents.models import Incident

        acked = set(
            session.scalars(
                select(Incident.check_id).where(
                    Incident.check_id.is_not(None),
                    Incident.status.in_(("acknowledged", "pending")),
                )
            )
        )
    latest = (
        select(func.max(FlipRow.id)).where(FlipRow.check_id.in_(ids)).group_by(FlipRow.check_id)
    )
    muted = set(
        session.scalars(
            select(FlipRow.check_id).where(FlipRow.id.in_(latest), FlipRow.muted_by.is_not(None))
        )
    )
    return [
        replace(p, acknowledged=p.id in acked, muted=p.id in muted)
        if p.id in acked or p.id in muted
        else p
        for p in problems
    ]


def _status(name: str | None) -> CheckStatus:
    try:
        return CheckStatus((name or "PENDING").lower())
    except ValueError:
        return CheckStatus.UNKNOWN


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def poller_verdict(
    references: Sequence[tuple[str, str, datetime | None]], now: datetime
) -> tuple[bool, str]:
    """Ask the probe guard whether the poller is offline, from the reference checks' results."""
    from checks.guard import assess_poller
    from checks.result import Result, Status

    latest: dict[str, Result | None] = {}
    for slug, status, at in references:
        if at is None or status.upper() not in Status.__members__:
            latest[slug] = None
        else:
            latest[slug] = Result(Status[status.upper()], "", at)
    verdict = assess_poller(latest, now)
    return verdict.offline, verdict.reason


def load_heartbeat(session: Session) -> datetime | None:
    return session.scalar(select(func.max(WorkerHeartbeat.beat_at)))


def incidents_available() -> bool:
    return _has_module("dutydesk.incidents.models")


def load_incidents(
    session: Session, now: datetime, site_id: int | None = None
) -> list[IncidentRow] | None:
    """Open incidents (of site ``site_id``, or every site) with their SLA reading (2 queries:
    incidents, then all their events).

    Plain column rows, not ORM objects: the wall only reads, and 200 incidents with their
    timelines would otherwise cost more in object construction than in the database."""
    if not incidents_available():
        return None
    from dutydesk.incidents.models import Incident, IncidentEventRow

    wanted = Incident.status.in_(_OPEN)
    if site_id is not None:
        wanted = and_(wanted, Incident.site_id == site_id)
    incidents = session.execute(
        select(
            Incident.id,
            Incident.title,
            Incident.priority,
            Incident.status,
            Incident.created_at,
            Incident.service,
            Incident.acknowledged_by,
            Incident.assignee,
            Incident.sla_targets,
            Incident.flapping,
            Incident.returns_count,
        )
        .where(wanted)
        .order_by(Incident.id)
    ).all()
    if not incidents:
        return []
    events: dict[int, list[Any]] = defaultdict(list)
    open_ids = select(Incident.id).where(wanted).scalar_subquery()
    for ev in session.execute(
        select(
            IncidentEventRow.incident_id,
            IncidentEventRow.kind,
            IncidentEventRow.at,
            IncidentEventRow.actor,
            IncidentEventRow.data,
        )
        .where(IncidentEventRow.incident_id.in_(open_ids))
        .order_by(IncidentEventRow.at, IncidentEventRow.id)
    ):
        events[ev.incident_id].append(ev)
    policies: dict[str, Any] = {}
    return [
        IncidentRow(
            id=i.id,
            title=i.title,
            priority=i.priority if i.priority in ("P1", "P2", "P3", "P4") else "P3",
            status=i.status,
            opened_at=i.created_at,
            service=i.service or "",
            acknowledged_by=i.acknowledged_by,
            assignee=i.assignee,
            sla=sla_reading(i, events.get(i.id, []), now, policies),
            flapping=bool(i.flapping),
            returns_count=i.returns_count or 0,
        )
        for i in incidents
    ]


def sla_reading(
    incident: Any, rows: list[Any], now: datetime, policies: dict[str, Any]
) -> SlaReading | None:
    """The clock that matters now: time to acknowledge until it stops, then time to resolve
    (also the incident list's SLA column). ``rows``: the incident's events, oldest first;
    ``policies``: a cache shared by the calls of one reading."""
    from dutydesk.incidents.events import IncidentEvent
    from dutydesk.incidents.sla import ClockState, sla_clock

    try:
        timeline = [IncidentEvent(kind=r.kind, at=r.at, actor=r.actor, data=r.data) for r in rows]
        if not timeline:
            return None
        # Most incidents carry the same targets: parse each distinct snapshot once.
        marker = repr(incident.sla_targets)
        policy = policies.get(marker)
        if policy is None:
            policy = policies[marker] = _policy(incident.sla_targets)
        status = sla_clock(policy, timeline, now)
    except ValueError as exc:  # a timeline the SLA code cannot read: show no clock, say why
        log.warning("wall: no SLA clock for incident %s: %s", incident.id, exc)
        return None
    clock = status.acknowledge
    if clock.state is ClockState.STOPPED and not clock.paused:
        clock = status.resolve
    return SlaReading(
        clock=clock.clock.value,
        target=clock.target,
        elapsed=clock.elapsed,
        running=clock.running,
        stopped=clock.state is ClockState.STOPPED,
    )


def _policy(targets: Any) -> Any:
    from dutydesk.incidents.sla import SlaPolicy

    if isinstance(targets, dict) and {"P1", "P2", "P3", "P4"} <= set(targets):
        try:
            return SlaPolicy.from_minutes(targets)
        except ValueError:
            pass
    return SlaPolicy()


def load_visitors(
    session: Session, now: datetime, site_id: int | None = None
) -> list[VisitorRow] | None:
    """People on site now (at site ``site_id``, or any) and who overstays (the visitors storage,
    when installed).

    The wall is a shared screen that viewers and kiosks see, and visitor personal data is for
    engineers and above: the wall shows first names only (the desk screens show the rest).
    """
    if not _has_module("shifts.visitors.service"):
        return None
    from shifts.visitors.orm import VisitorClient
    from shifts.visitors.reports import first_name
    from shifts.visitors.service import on_site_now, overstays_now

    inside = on_site_now(session, now)
    late = {o.visit.id: o.over_by for o in overstays_now(session, now)}
    companies = dict(session.execute(select(VisitorClient.id, VisitorClient.name)).all())
    return [
        VisitorRow(
            name=first_name(o.visit.person_name),
            company=companies.get(o.visit.client_id, ""),
            since=o.visit.checked_in_at or o.visit.recorded_at,
            areas=tuple(str(a) for a in o.visit.areas),
            escort=first_name(o.escort_name) if o.escort_name else None,
            overstay_by=late.get(o.visit.id),
        )
        for o in inside
        if site_id is None or getattr(o.visit, "site_id", site_id) == site_id
    ]


def load_duty(session: Session, now: datetime) -> list[DutyRow] | None:
    """Who is on duty now, per line. ``None`` until shift storage is installed.

    Seam: the shifts storage issue adds ``shifts.storage`` with ``on_duty_now(session, now)``
    returning ``shifts.oncall.OnDuty`` values; this adapter switches on when it exists.
    """
    if not _has_module("shifts.storage"):
        return None
    storage = importlib.import_module("shifts.storage")
    finder = getattr(storage, "on_duty_now", None)
    if finder is None:
        return None
    return [
        DutyRow(line=str(d.line), people=tuple(str(p) for p in d.people), until=d.until)
        for d in finder(session, now)
    ]


def maintenance_from(healthy: Mapping[tuple[str, str], Counts]) -> list[MaintenanceRow]:
    """Active maintenance, per hall/system, from the checks' own in-maintenance flags."""
    return [
        MaintenanceRow(name=f"{hall} / {system}", checks=counts.maintenance)
        for (hall, system), counts in sorted(healthy.items(), key=lambda kv: " / ".join(kv[0]))
        if counts.maintenance
    ]


def load_freshness(session: Session, checks: CheckSnapshot, now: datetime) -> Freshness:
    refs = checks.references
    offline, reason = poller_verdict(refs, now) if refs else (False, "")
    return Freshness(
        newest_result_at=checks.newest_result_at,
        heartbeat_at=load_heartbeat(session),
        poller_offline=offline,
        poller_reason=reason,
        has_checks=checks.has_checks,
    )


def change_cursor(session: Session) -> tuple[Any, ...]:
    """One cheap query whose answer changes whenever the wall may have to change."""
    from checks.models import CheckStateRow, FlipRow

    parts: list[Any] = [
        select(func.max(FlipRow.id)).scalar_subquery(),
        select(func.count())
        .select_from(CheckStateRow)
        .where(CheckStateRow.status.in_(_PROBLEM_NAMES))
        .scalar_subquery(),
        select(func.max(CheckStateRow.updated_at))
        .where(CheckStateRow.status.in_(_PROBLEM_NAMES))
        .scalar_subquery(),
        select(func.count())
        .select_from(CheckStateRow)
        .where(CheckStateRow.in_maintenance.is_(True))
        .scalar_subquery(),
    ]
    if incidents_available():
        from dutydesk.incidents.models import Incident, IncidentEventRow

        parts += [
            select(func.max(IncidentEventRow.id)).scalar_subquery(),
            select(func.max(Incident.updated_at)).scalar_subquery(),
        ]
    if requests_available():
        from dutydesk.requests.models import RequestEventRow, ServiceRequest

        parts += [
            select(func.max(RequestEventRow.id)).scalar_subquery(),
            select(func.max(ServiceRequest.updated_at)).scalar_subquery(),
        ]
    row = session.execute(select(*parts)).one()
    return tuple(row)


def requests_available() -> bool:
    return _has_module("dutydesk.requests")


WALL_REQUESTS = 3  # the wall names the three most urgent; the count covers the rest


def load_requests(session: Session, now: datetime) -> RequestsSummary | None:
    """Open requests: how many, how many wait for their requester, the most urgent three."""
    if not requests_available():
        return None
    from dutydesk.requests.models import ServiceRequest
    from dutydesk.requests.queue import QueueFilters, queue

    entries, total = queue(session, QueueFilters(), now, 1, WALL_REQUESTS)
    waiting = session.scalar(select(func.count(ServiceRequest.id))
                             .where(ServiceRequest.status == "waiting")) or 0
    rows = tuple(RequestRow(e.request.number, e.request.subject, e.request.priority,
                            e.time_left, bool(e.urgent and e.urgent.breached))
                 for e in entries if e.time_left is not None)
    return RequestsSummary(open=total, waiting_for_requester=int(waiting), urgent=rows)


def load_view(
    session: Session, now: datetime, limits: WallLimits, site_id: int | None = None
) -> WallView:
    """Everything the wall shows (checks and incidents of site ``site_id``, or of every site),
    read in a handful of queries and decided by ``build_wall``."""
    checks = load_checks(session, site_id)
    return build_wall(
        checks.problems,
        now,
        freshness=load_freshness(session, checks, now),
        healthy=checks.healthy,
        incidents=load_incidents(session, now, site_id),
        duty=load_duty(session, now),
        visitors=load_visitors(session, now, site_id),
        maintenance=maintenance_from(checks.healthy),
        limits=limits,
        requests=load_requests(session, now),
    )
