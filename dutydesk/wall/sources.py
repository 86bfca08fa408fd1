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
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dutydesk.models import WorkerHeartbeat
from dutydesk.wall.rows import (
    CheckRow,
    CheckStatus,
    DutyRow,
    Freshness,
    IncidentRow,
    MaintenanceRow,
    SlaReading,
    VisitorRow,
    WallLimits,
)
from dutydesk.wall.snapshot import WallView, build_wall

log = logging.getLogger("dutydesk.wall")
_PROBLEM_NAMES = ("WARNING", "CRITICAL", "UNKNOWN")
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


def load_checks(session: Session) -> tuple[list[CheckRow], list[tuple[str, str, datetime | None]]]:
    """Enabled checks with their state (2 queries), plus the guard reference checks' latest
    (status, message, time) for the poller-offline verdict."""
    from dutydesk.models.checks import Check, CheckGroup, CheckStateRow

    rows = session.execute(
        select(
            Check.id,
            Check.slug,
            Check.display_name,
            Check.service,
            Check.max_attempts,
            Check.guard_reference,
            CheckGroup.path,
            CheckStateRow.status,
            CheckStateRow.state_type,
            CheckStateRow.attempt,
            CheckStateRow.flapping,
            CheckStateRow.in_maintenance,
            CheckStateRow.last_result_at,
            CheckStateRow.last_status,
            CheckStateRow.last_message,
        )
        .join(CheckStateRow, CheckStateRow.check_id == Check.id, isouter=True)
        .join(CheckGroup, CheckGroup.id == Check.group_id, isouter=True)
        .where(Check.enabled.is_(True))
    ).all()
    # Reachability and "since" live in the state JSON; read it only for problem rows.
    details: dict[int, dict[str, Any]] = dict(
        session.execute(
            select(CheckStateRow.check_id, CheckStateRow.state).where(
                CheckStateRow.status.in_(_PROBLEM_NAMES)
            )
        ).all()
    )
    checks: list[CheckRow] = []
    references: list[tuple[str, str, datetime | None]] = []
    for r in rows:
        status = _status(r.status)
        hall, system = split_path(r.path)
        state = details.get(r.id) or {}
        checks.append(
            CheckRow(
                id=r.id,
                name=r.display_name or r.slug,
                hall=hall,
                system=system,
                service=r.service or "",
                status=status,
                hard=(r.state_type or "HARD").upper() == "HARD",
                attempt=r.attempt or 1,
                max_attempts=r.max_attempts or 1,
                flapping=bool(r.flapping),
                reachable=bool(state.get("reachable", True)),
                in_maintenance=bool(r.in_maintenance),
                last_result_at=r.last_result_at,
                since=_parse_time(state.get("since")),
                message=(r.last_message or "")[:300],
            )
        )
        if r.guard_reference:
            references.append((r.slug, r.last_status or "", r.last_result_at))
    return checks, references


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
    return _has_module("dutydesk.models.incidents")


def load_incidents(session: Session, now: datetime) -> list[IncidentRow] | None:
    """Open incidents with their SLA reading (2 queries: incidents, then all their events)."""
    if not incidents_available():
        return None
    from dutydesk.models.incidents import Incident, IncidentEventRow

    incidents = list(
        session.scalars(select(Incident).where(Incident.status.in_(_OPEN)).order_by(Incident.id))
    )
    if not incidents:
        return []
    events: dict[int, list[Any]] = defaultdict(list)
    open_ids = select(Incident.id).where(Incident.status.in_(_OPEN)).scalar_subquery()
    for ev in session.scalars(
        select(IncidentEventRow)
        .where(IncidentEventRow.incident_id.in_(open_ids))
        .order_by(IncidentEventRow.at, IncidentEventRow.id)
    ):
        events[ev.incident_id].append(ev)
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
            sla=_sla_reading(i, events.get(i.id, []), now),
        )
        for i in incidents
    ]


def _sla_reading(incident: Any, rows: list[Any], now: datetime) -> SlaReading | None:
    """The clock that matters now: time to acknowledge until it stops, then time to resolve."""
    from dutydesk.incidents.events import IncidentEvent
    from dutydesk.incidents.sla import ClockState, sla_clock

    try:
        timeline = [IncidentEvent(kind=r.kind, at=r.at, actor=r.actor, data=r.data) for r in rows]
        if not timeline:
            return None
        status = sla_clock(_policy(incident.sla_targets), timeline, now)
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


def load_visitors(session: Session, now: datetime) -> list[VisitorRow] | None:
    """People on site now and who overstays (the visitors storage, when installed)."""
    if not _has_module("shifts.visitors.service"):
        return None
    from dutydesk.models.visitors import VisitorClient
    from shifts.visitors.service import on_site_now, overstays_now

    inside = on_site_now(session, now)
    late = {o.visit.id: o.over_by for o in overstays_now(session, now)}
    companies = dict(session.execute(select(VisitorClient.id, VisitorClient.name)).all())
    return [
        VisitorRow(
            name=o.visit.person_name,
            company=companies.get(o.visit.client_id, ""),
            since=o.visit.checked_in_at or o.visit.recorded_at,
            areas=tuple(str(a) for a in o.visit.areas),
            escort=o.escort_name,
            overstay_by=late.get(o.visit.id),
        )
        for o in inside
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


def maintenance_from(checks: Sequence[CheckRow]) -> list[MaintenanceRow]:
    """Active maintenance, per hall/system, from the checks' own in-maintenance flags."""
    tally: dict[str, int] = defaultdict(int)
    for check in checks:
        if check.in_maintenance:
            tally[f"{check.hall} / {check.system}"] += 1
    return [MaintenanceRow(name=name, checks=n) for name, n in sorted(tally.items())]


def load_freshness(
    session: Session, checks: Sequence[CheckRow], references: Sequence[Any], now: datetime
) -> Freshness:
    newest = max((c.last_result_at for c in checks if c.last_result_at), default=None)
    offline, reason = poller_verdict(references, now) if references else (False, "")
    return Freshness(
        newest_result_at=newest,
        heartbeat_at=load_heartbeat(session),
        poller_offline=offline,
        poller_reason=reason,
        has_checks=bool(checks),
    )


def change_cursor(session: Session) -> tuple[Any, ...]:
    """One cheap query whose answer changes whenever the wall may have to change."""
    from dutydesk.models.checks import CheckStateRow, FlipRow

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
        from dutydesk.models.incidents import Incident, IncidentEventRow

        parts += [
            select(func.max(IncidentEventRow.id)).scalar_subquery(),
            select(func.max(Incident.updated_at)).scalar_subquery(),
        ]
    row = session.execute(select(*parts)).one()
    return tuple(row)


def load_view(session: Session, now: datetime, limits: WallLimits) -> WallView:
    """Everything the wall shows, read in a handful of queries and decided by ``build_wall``."""
    checks, references = load_checks(session)
    return build_wall(
        checks,
        now,
        freshness=load_freshness(session, checks, references, now),
        incidents=load_incidents(session, now),
        duty=load_duty(session, now),
        visitors=load_visitors(session, now),
        maintenance=maintenance_from(checks),
        limits=limits,
    )
