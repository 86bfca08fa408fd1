"""The wall's decisions, pure: ``build_wall(rows..., now) -> WallView``.

Rules:

- **Problems first**: CRITICAL, then WARNING, then UNKNOWN. Checks in maintenance are never
  problems (they are counted as maintenance); a SOFT problem (still retrying) and an
  unreachable check (its parent is down) are shown but sorted after confirmed, reachable ones.
- **Grouped** by hall and system; inside a group by worst status, then service and name. A group
  shows at most ``limits.tiles_per_group`` tiles and says how many more there are, so a building
  on fire stays readable. Groups are ordered by their worst problem, then by how many critical
  problems they hold, then by name.
- **Handled or not**: a problem is *unhandled* (needs someone now) unless it is acknowledged,
  muted by the pipeline or behind a down parent; ``unhandled`` counts those per status.
- **All green** means no problem tile at all; the page then shows counts only.
- **Healthy checks are counted, not listed**: storage may pass only the problem rows plus, per
  (hall, system), the counts of the checks that are not problems (OK, pending, in maintenance) —
  ``healthy``. Counts are then the sum of both, so 5,000 green checks cost one GROUP BY row per
  group instead of 5,000 rows. Passing every check and no ``healthy`` gives the same view.
- **Incidents**: P1 first; inside a priority the unacknowledged before the acknowledged, then
  the least SLA time left, then the oldest. The SLA reading is amber from ``sla_warn_at`` (75 %)
  and red from 100 %.
- **Stale data**: a reason per thing that is out of date — no or an old scheduler heartbeat, the
  newest check result older than ``max_result_age``, the poller guard saying offline.
- A panel whose source does not exist in this installation is ``None`` (not rendered), which is
  different from an empty panel (rendered as "nobody"/"none").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dutydesk.wall.rows import (
    PROBLEM_RANK,
    CheckRow,
    CheckStatus,
    DutyRow,
    Freshness,
    IncidentRow,
    MaintenanceRow,
    RequestsSummary,
    VisitorRow,
    WallInputError,
    WallLimits,
)

_PRIORITY_RANK = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}
_ACK_RANK = {"triggered": 0, "acknowledged": 1, "pending": 2}


@dataclass(frozen=True, slots=True)
class Counts:
    critical: int = 0
    warning: int = 0
    unknown: int = 0
    ok: int = 0
    pending: int = 0
    maintenance: int = 0

    @property
    def problems(self) -> int:
        return self.critical + self.warning + self.unknown

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            critical=self.critical + other.critical,
            warning=self.warning + other.warning,
            unknown=self.unknown + other.unknown,
            ok=self.ok + other.ok,
            pending=self.pending + other.pending,
            maintenance=self.maintenance + other.maintenance,
        )

    @property
    def total(self) -> int:
        return self.problems + self.ok + self.pending + self.maintenance


@dataclass(frozen=True, slots=True)
class Tile:
    key: str
    check: CheckRow

    @property
    def status(self) -> CheckStatus:
        return self.check.status


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    hall: str
    system: str
    worst: CheckStatus
    counts: Counts
    tiles: tuple[Tile, ...]
    hidden: int  # problem tiles not shown ("+N more")


@dataclass(frozen=True, slots=True)
class SlaView:
    clock: str
    state: str  # ok | warning | breached | paused | stopped
    left: timedelta  # negative once breached
    target: timedelta
    due_at: datetime | None  # when it breaches, if running
    warn_from: datetime | None  # when it turns amber, if running and not yet amber


@dataclass(frozen=True, slots=True)
class IncidentTile:
    key: str
    incident: IncidentRow
    age: timedelta
    sla: SlaView | None


@dataclass(frozen=True, slots=True)
class StaleReason:
    code: str  # no_heartbeat | heartbeat_old | results_old | no_results | poller_offline
    age: timedelta | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WallView:
    now: datetime
    counts: Counts
    groups: tuple[Group, ...]
    incidents: tuple[IncidentTile, ...] | None
    duty: tuple[DutyRow, ...] | None
    visitors: tuple[VisitorRow, ...] | None
    maintenance: tuple[MaintenanceRow, ...]
    stale: tuple[StaleReason, ...]
    #: Problems that need someone now (not acknowledged, not in maintenance, not muted).
    unhandled: Counts = Counts()
    #: People's requests (``None``: this installation has no requests area).
    requests: RequestsSummary | None = None
    #: The site this wall shows (``None``: every site, the head office's wall).
    site: Any = None
    #: The head office's strip, one ``sitesview.SiteSummary`` per site (empty: one site only).
    sites: tuple[Any, ...] = ()
    #: Remote probes in trouble (``sitesview.ProbeTrouble``), worst first.
    probes: tuple[Any, ...] = ()

    @property
    def all_green(self) -> bool:
        return not self.groups

    @property
    def overstays(self) -> int:
        return sum(1 for v in self.visitors or () if v.overstay_by is not None)


def count(checks: Iterable[CheckRow]) -> Counts:
    tally: dict[str, int] = defaultdict(int)
    for check in checks:
        tally["maintenance" if check.in_maintenance else check.status.value] += 1
    return Counts(**tally)


def is_problem(check: CheckRow) -> bool:
    return check.status in PROBLEM_RANK and not check.in_maintenance


def _tile_order(check: CheckRow) -> tuple[object, ...]:
    return (
        PROBLEM_RANK[check.status],
        not check.hard,
        not check.reachable,
        check.service.lower(),
        check.name.lower(),
        check.id,
    )


GroupKey = tuple[str, str]
"""(hall, system)"""


def group_problems(
    checks: Sequence[CheckRow],
    tiles_per_group: int,
    healthy: Mapping[GroupKey, Counts] | None = None,
) -> tuple[Group, ...]:
    """Problem groups, worst first; groups without a problem are not listed.

    A group's counts are its rows in ``checks`` plus its ``healthy`` counts (if any)."""
    by_group: dict[GroupKey, list[CheckRow]] = defaultdict(list)
    for check in checks:
        by_group[(check.hall, check.system)].append(check)
    healthy = healthy or {}
    groups = []
    for (hall, system), members in by_group.items():
        problems = sorted((c for c in members if is_problem(c)), key=_tile_order)
        if not problems:
            continue
        shown = problems[:tiles_per_group]
        counts = count(members)
        extra = healthy.get((hall, system))
        groups.append(
            Group(
                key=f"g-{_slug(hall)}-{_slug(system)}",
                hall=hall,
                system=system,
                worst=problems[0].status,
                counts=counts + extra if extra is not None else counts,
                tiles=tuple(Tile(key=f"c-{c.id}", check=c) for c in shown),
                hidden=len(problems) - len(shown),
            )
        )
    groups.sort(
        key=lambda g: (
            PROBLEM_RANK[g.worst],
            -g.counts.critical,
            -g.counts.problems,
            g.hall.lower(),
            g.system.lower(),
        )
    )
    return tuple(groups)


def sla_view(reading: IncidentRow, now: datetime, warn_at: float) -> SlaView | None:
    sla = reading.sla
    if sla is None:
        return None
    if sla.target <= timedelta(0):
        raise WallInputError(
            f"incident {reading.id}: SLA target must be positive, got {sla.target}"
        )
    left = sla.target - sla.elapsed
    ratio = sla.elapsed / sla.target
    if sla.stopped:
        state = "stopped"
    elif ratio >= 1:
        state = "breached"
    elif not sla.running:
        state = "paused"
    elif ratio >= warn_at:
        state = "warning"
    else:
        state = "ok"
    running = sla.running and not sla.stopped
    due_at = now + left if running else None
    warn_from = now + (sla.target * warn_at - sla.elapsed) if running and ratio < warn_at else None
    return SlaView(sla.clock, state, left, sla.target, due_at, warn_from)


def order_incidents(
    incidents: Iterable[IncidentRow], now: datetime, warn_at: float
) -> tuple[IncidentTile, ...]:
    tiles = [
        IncidentTile(
            f"i-{i.id}", i, max(now - i.opened_at, timedelta(0)), sla_view(i, now, warn_at)
        )
        for i in incidents
    ]
    never = timedelta.max
    tiles.sort(
        key=lambda t: (
            _PRIORITY_RANK[t.incident.priority],
            _ACK_RANK.get(t.incident.status, 3),
            t.sla.left if t.sla and t.sla.state != "stopped" else never,
            t.incident.opened_at,
            t.incident.id,
        )
    )
    return tuple(tiles)


def stale_reasons(fresh: Freshness, now: datetime, limits: WallLimits) -> tuple[StaleReason, ...]:
    """Why the wall's data cannot be trusted right now (empty: it can)."""
    reasons: list[StaleReason] = []
    if fresh.scheduler_expected:
        if fresh.heartbeat_at is None:
            reasons.append(StaleReason("no_heartbeat"))
        elif (age := now - fresh.heartbeat_at).total_seconds() > limits.max_heartbeat_age:
            reasons.append(StaleReason("heartbeat_old", age))
    if fresh.has_checks:
        if fresh.newest_result_at is None:
            reasons.append(StaleReason("no_results"))
        elif (age := now - fresh.newest_result_at).total_seconds() > limits.max_result_age:
            reasons.append(StaleReason("results_old", age))
    if fresh.poller_offline:
        reasons.append(StaleReason("poller_offline", detail=fresh.poller_reason))
    return tuple(reasons)


def build_wall(
    checks: Sequence[CheckRow],
    now: datetime,
    *,
    freshness: Freshness,
    healthy: Mapping[GroupKey, Counts] | None = None,
    incidents: Sequence[IncidentRow] | None = None,
    duty: Sequence[DutyRow] | None = None,
    visitors: Sequence[VisitorRow] | None = None,
    maintenance: Sequence[MaintenanceRow] = (),
    limits: WallLimits | None = None,
    requests: RequestsSummary | None = None,
) -> WallView:
    """Everything the wall shows at ``now``. ``None`` for a source this installation lacks.

    ``checks`` are check rows: every check, or (with ``healthy``) at least every problem. The
    rows present are listed and counted; ``healthy`` adds, per (hall, system), the counts of the
    checks left out (never listed as tiles). Counts must not be negative.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise WallInputError(f"now must be timezone-aware UTC, got naive {now!r}")
    limits = limits or WallLimits()
    totals = count(checks)
    for (hall, system), extra in (healthy or {}).items():
        for name in ("critical", "warning", "unknown", "ok", "pending", "maintenance"):
            if getattr(extra, name) < 0:
                raise WallInputError(
                    f"healthy count {name} of {hall} / {system} must not be negative, "
                    f"got {getattr(extra, name)}"
                )
        totals = totals + extra
    ordered = None if incidents is None else order_incidents(incidents, now, limits.sla_warn_at)
    return WallView(
        now=now,
        unhandled=count(c for c in checks if is_problem(c) and c.unhandled),
        counts=totals,
        groups=group_problems(checks, limits.tiles_per_group, healthy),
        incidents=ordered,
        duty=None if duty is None else tuple(duty),
        visitors=None
        if visitors is None
        else tuple(sorted(visitors, key=lambda v: (v.overstay_by is None, v.since, v.name))),
        maintenance=tuple(maintenance),
        stale=stale_reasons(freshness, now, limits),
        requests=requests,
    )


def _slug(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text).strip("-")
    return out or "none"
