"""Read-side queries and pure presentation helpers for the check screens and /metrics.

The database is read in a fixed, small number of queries per screen (never one per check):
:func:`list_checks` is ONE joined SELECT of definitions, states and group paths; the detail page
reads results, flips, rollups, dependencies and windows with one query each. Everything that
turns rows into what a person sees (grouping, uptime bars, the latency sparkline, dependency
cycles) is a pure function that takes its rows and ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from checks.models import (
    HISTOGRAM_COLUMNS,
    Check,
    CheckDependency,
    CheckGroup,
    CheckResultRow,
    CheckRollup,
    CheckStateRow,
    FlipRow,
    MaintenanceWindowRow,
)
from checks.rollups import p95_from
from checks.schedule import ensure_utc
from dutydesk.core.sites import Site

#: Status words in the order the list shows them (worst first).
STATUS_ORDER = ("CRITICAL", "WARNING", "UNKNOWN", "UNREACHABLE", "PENDING", "OK")
#: Values of the list's state filter: a status word, or a badge.
STATE_FILTERS = (*STATUS_ORDER, "maintenance", "flapping", "disabled")
NO_GROUP = ""


class FilterError(ValueError):
    """A list filter has a value the screen does not offer."""


@dataclass(frozen=True, slots=True)
class CheckFilters:
    """Filters of the check list; empty strings mean "any"."""

    state: str = ""
    group: str = ""
    type: str = ""
    text: str = ""
    site: str = ""  # a site's slug

    @classmethod
    def from_args(cls, args: Any) -> CheckFilters:
        state = (args.get("state") or "").strip()
        if state.upper() in STATUS_ORDER:
            state = state.upper()
        if state and state not in STATE_FILTERS:
            raise FilterError(f"state must be one of {', '.join(STATE_FILTERS)}, got {state!r}")
        return cls(state, (args.get("group") or "").strip(), (args.get("type") or "").strip(),
                   (args.get("q") or args.get("text") or "").strip(),
                   (args.get("site") or "").strip())


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One line of the check list."""

    id: int
    slug: str
    display_name: str
    type: str
    enabled: bool
    group: str
    service: str
    status: str
    state_type: str
    attempt: int
    max_attempts: int
    flapping: bool
    in_maintenance: bool
    last_message: str
    last_result_at: datetime | None
    site: str = ""  # the site's name
    site_slug: str = ""


@dataclass
class GroupBlock:
    """Checks of one group, worst first, with a count per status word and badge."""

    path: str
    rows: list[CheckRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def list_query(filters: CheckFilters) -> Select[Any]:
    """The ONE query of the list: checks joined with their state and group path."""
    query = (
        select(Check.id, Check.slug, Check.display_name, Check.type, Check.enabled,
               CheckGroup.path, Check.service, CheckStateRow.status, CheckStateRow.state_type,
               CheckStateRow.attempt, Check.max_attempts, CheckStateRow.flapping,
               CheckStateRow.in_maintenance, CheckStateRow.last_message,
               CheckStateRow.last_result_at, Site.name, Site.slug)
        .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
        .outerjoin(CheckGroup, CheckGroup.id == Check.group_id)
        .outerjoin(Site, Site.id == Check.site_id)
        # groups in order, the worst first inside a group, so a page never hides a group's worst
        .order_by(CheckGroup.path, _status_rank_sql(), Check.slug)
    )
    state = filters.state
    if state == "maintenance":
        query = query.where(CheckStateRow.in_maintenance.is_(True))
    elif state == "flapping":
        query = query.where(CheckStateRow.flapping.is_(True))
    elif state == "disabled":
        query = query.where(Check.enabled.is_(False))
    elif state == "PENDING":
        query = query.where(or_(CheckStateRow.status == "PENDING",
                                CheckStateRow.check_id.is_(None)))
    elif state:
        query = query.where(CheckStateRow.status == state)
    if filters.group:
        query = query.where(or_(CheckGroup.path == filters.group,
                                CheckGroup.path.startswith(filters.group + " / ",
                                                           autoescape=True)))
    if filters.type:
        query = query.where(Check.type == filters.type)
    if filters.site:
        query = query.where(Site.slug == filters.site)
    if filters.text:
        pattern = f"%{filters.text}%"
        query = query.where(or_(Check.slug.ilike(pattern), Check.display_name.ilike(pattern),
                                Check.service.ilike(pattern)))
    return query


def _status_rank_sql() -> Any:
    """``status_rank`` in SQL (no state row = PENDING)."""
    status = func.coalesce(CheckStateRow.status, "PENDING")
    return case(
        *((status == name, rank) for rank, name in enumerate(STATUS_ORDER)),
        else_=len(STATUS_ORDER),
    )


def list_page(
    session: Session, filters: CheckFilters, page: int, per_page: int
) -> tuple[list[CheckRow], int]:
    """One page of the checks matching ``filters`` and how many match in all (two queries:
    the page and a count), so 5,000 checks never become one huge page."""
    query = list_query(filters)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return list_checks(session, filters, query.limit(per_page).offset((page - 1) * per_page)), (
        total or 0
    )


def list_checks(
    session: Session, filters: CheckFilters, query: Select[Any] | None = None
) -> list[CheckRow]:
    """Checks matching ``filters`` with their current state, in ONE query (``query``: the
    list query already limited to a page)."""
    return [
        CheckRow(id=r[0], slug=r[1], display_name=r[2] or r[1], type=r[3], enabled=r[4],
                 group=r[5] or NO_GROUP, service=r[6] or "", status=r[7] or "PENDING",
                 state_type=r[8] or "HARD", attempt=r[9] or 1, max_attempts=r[10],
                 flapping=bool(r[11]), in_maintenance=bool(r[12]), last_message=r[13] or "",
                 last_result_at=r[14], site=r[15] or "", site_slug=r[16] or "")
        for r in session.execute(list_query(filters) if query is None else query)
    ]


def status_rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def group_rows(rows: Iterable[CheckRow]) -> list[GroupBlock]:
    """Rows grouped by group path (sorted; checks without a group last), worst status first
    inside a group, each group counting its status words and badges."""
    blocks: dict[str, GroupBlock] = {}
    for row in rows:
        block = blocks.setdefault(row.group, GroupBlock(row.group))
        block.rows.append(row)
        block.counts[row.status] = block.counts.get(row.status, 0) + 1
        for badge, on in (("maintenance", row.in_maintenance), ("flapping", row.flapping),
                          ("disabled", not row.enabled)):
            if on:
                block.counts[badge] = block.counts.get(badge, 0) + 1
    for block in blocks.values():
        block.rows.sort(key=lambda r: (status_rank(r.status), r.slug))
    return sorted(blocks.values(), key=lambda b: (b.path == NO_GROUP, b.path))


def status_totals(session: Session) -> dict[str, int]:
    """How many checks show each status word (one aggregate query; no state row = PENDING)."""
    totals: dict[str, int] = {}
    for status, count in session.execute(
        select(CheckStateRow.status, func.count())
        .select_from(Check).outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
        .group_by(CheckStateRow.status)
    ):
        key = status or "PENDING"
        totals[key] = totals.get(key, 0) + count
    return totals


# ---- detail page --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One cell of an uptime bar: ``uptime`` in percent, None when nothing was measured."""

    start: datetime
    count: int
    up_count: int

    @property
    def uptime(self) -> float | None:
        return None if self.count == 0 else 100.0 * self.up_count / self.count


@dataclass(frozen=True, slots=True)
class Uptime:
    days: tuple[Bar, ...]
    hours: tuple[Bar, ...]
    percent_90d: float | None
    percent_24h: float | None
    p95_24h: float | None


def _floor(at: datetime, resolution: str) -> datetime:
    if resolution == "minute":
        return at.replace(second=0, microsecond=0)
    if resolution == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


_Acc = dict[str, Any]


def _empty() -> _Acc:
    return {"count": 0, "up_count": 0, "max": None, "hist": [0] * len(HISTOGRAM_COLUMNS)}


def _add(acc: _Acc, other: _Acc) -> None:
    acc["count"] += other["count"]
    acc["up_count"] += other["up_count"]
    acc["hist"] = [a + b for a, b in zip(acc["hist"], other["hist"], strict=True)]
    if other["max"] is not None:
        acc["max"] = other["max"] if acc["max"] is None else max(acc["max"], other["max"])


def _row_acc(row: CheckRollup) -> _Acc:
    return {"count": row.count, "up_count": row.up_count, "max": row.duration_max,
            "hist": [getattr(row, h) for h in HISTOGRAM_COLUMNS]}


def _coarsen(coarse: dict[datetime, _Acc], fine: dict[datetime, _Acc],
             resolution: str) -> dict[datetime, _Acc]:
    """Each coarse bucket, or the sum of its fine buckets when that counts more results.

    Coarse rows are recomputed from fine rows by the roll-up job, so the larger count is the
    more recent picture: the fine side wins while a bucket is still filling up, the coarse side
    once the fine rows were pruned."""
    summed: dict[datetime, _Acc] = defaultdict(_empty)
    for start, acc in fine.items():
        _add(summed[_floor(start, resolution)], acc)
    out = dict(coarse)
    for start, acc in summed.items():
        if start not in out or acc["count"] > out[start]["count"]:
            out[start] = acc
    return out


def uptime_from_rollups(rollups: Iterable[CheckRollup], now: datetime,
                        days: int = 90) -> Uptime:
    """Daily bars for the last ``days`` UTC days and hourly bars for the last 24 hours (oldest
    first), from the check's minute, hour and day rollups."""
    now = ensure_utc(now, "now")
    by_res: dict[str, dict[datetime, _Acc]] = {"minute": {}, "hour": {}, "day": {}}
    for row in rollups:
        if row.resolution in by_res:
            by_res[row.resolution][row.bucket_start] = _row_acc(row)
    hours = _coarsen(by_res["hour"], by_res["minute"], "hour")
    day_map = _coarsen(by_res["day"], hours, "day")
    today = _floor(now, "day")
    day_bars = []
    total = _empty()
    for i in range(days - 1, -1, -1):
        start = today - timedelta(days=i)
        acc = day_map.get(start, _empty())
        _add(total, acc)
        day_bars.append(Bar(start, acc["count"], acc["up_count"]))
    this_hour = _floor(now, "hour")
    hour_bars = []
    last_day = _empty()
    for i in range(23, -1, -1):
        start = this_hour - timedelta(hours=i)
        acc = hours.get(start, _empty())
        _add(last_day, acc)
        hour_bars.append(Bar(start, acc["count"], acc["up_count"]))

    def percent(acc: _Acc) -> float | None:
        return None if acc["count"] == 0 else 100.0 * acc["up_count"] / acc["count"]

    return Uptime(tuple(day_bars), tuple(hour_bars), percent(total), percent(last_day),
                  p95_from(last_day["hist"], last_day["max"]))


@dataclass(frozen=True, slots=True)
class Sparkline:
    """An inline SVG polyline of result durations (oldest left). ``dots`` mark non-OK results."""

    width: int
    height: int
    points: str
    dots: tuple[tuple[float, float, str], ...]
    low: float
    high: float


def sparkline(samples: Sequence[tuple[float, str]], width: int = 320,
              height: int = 48) -> Sparkline | None:
    """Scale ``(duration, status)`` samples, oldest first, into an SVG box; None if fewer
    than two samples (nothing to draw a line between)."""
    if len(samples) < 2:
        return None
    values = [max(0.0, d) for d, _ in samples]
    low, high = min(values), max(values)
    span = high - low or 1.0
    pad = 3.0
    step = (width - 2 * pad) / (len(values) - 1)
    usable = height - 2 * pad
    coords = [(round(pad + i * step, 1), round(height - pad - (v - low) / span * usable, 1))
              for i, v in enumerate(values)]
    points = " ".join(f"{x},{y}" for x, y in coords)
    dots = tuple((x, y, status) for (x, y), (_, status) in zip(coords, samples, strict=True)
                 if status != "OK")
    return Sparkline(width, height, points, dots, low, high)


def recent_results(session: Session, check_id: int, limit: int = 30) -> list[CheckResultRow]:
    """The check's last ``limit`` results, newest first (one query; an incident page's view
    of the check behind it)."""
    return list(session.scalars(
        select(CheckResultRow).where(CheckResultRow.check_id == check_id)
        .order_by(CheckResultRow.id.desc()).limit(limit)))


@dataclass
class CheckDetail:
    check: Check
    state: CheckStateRow | None
    group: str | None
    results: list[CheckResultRow]
    flips: list[FlipRow]
    parents: list[tuple[int, str, str]]  # (id, slug, status)
    children: list[tuple[int, str, str]]
    #: (row, the group's path of a group window, the site's name of a site window)
    windows: list[tuple[MaintenanceWindowRow, str | None]]
    rollups: list[CheckRollup]
    site: Site | None = None


def check_detail(session: Session, check_id: int, now: datetime, *, results: int = 100,
                 flips: int = 50) -> CheckDetail | None:
    """Everything the detail page shows, a fixed number of queries; None if no such check."""
    row = session.execute(
        select(Check, CheckStateRow, CheckGroup.path)
        .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
        .outerjoin(CheckGroup, CheckGroup.id == Check.group_id)
        .where(Check.id == check_id)
    ).first()
    if row is None:
        return None
    check, state, group = row
    recent = list(session.scalars(
        select(CheckResultRow).where(CheckResultRow.check_id == check_id)
        .order_by(CheckResultRow.id.desc()).limit(results)))
    history = list(session.scalars(
        select(FlipRow).where(FlipRow.check_id == check_id)
        .order_by(FlipRow.at.desc(), FlipRow.id.desc()).limit(flips)))
    edges = session.execute(
        select(CheckDependency.child_id, CheckDependency.parent_id, Check.id, Check.slug,
               func.coalesce(CheckStateRow.status, "PENDING"))
        .join(Check, or_(
            (CheckDependency.child_id == check_id) & (Check.id == CheckDependency.parent_id),
            (CheckDependency.parent_id == check_id) & (Check.id == CheckDependency.child_id)))
        .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(or_(CheckDependency.child_id == check_id, CheckDependency.parent_id == check_id))
        .order_by(Check.slug)
    ).all()
    parents = [(oid, slug, st) for child, _p, oid, slug, st in edges if child == check_id]
    children = [(oid, slug, st) for child, _p, oid, slug, st in edges if child != check_id]
    group_ids = ancestor_group_ids(session, check.group_id)
    windows = session.execute(
        select(MaintenanceWindowRow, func.coalesce(CheckGroup.path, Site.name))
        .outerjoin(CheckGroup, CheckGroup.id == MaintenanceWindowRow.group_id)
        .outerjoin(Site, Site.id == MaintenanceWindowRow.site_id)
        .where(or_(MaintenanceWindowRow.check_id == check_id,
                   MaintenanceWindowRow.group_id.in_(group_ids),
                   MaintenanceWindowRow.site_id == check.site_id))
        .order_by(MaintenanceWindowRow.id)
    ).all()
    rollups = list(session.scalars(
        select(CheckRollup).where(CheckRollup.check_id == check_id,
                                  CheckRollup.bucket_start >= _floor(now, "day")
                                  - timedelta(days=90))))
    return CheckDetail(check, state, group, recent, history, parents, children,
                       [(w, path) for w, path in windows], rollups,
                       session.get(Site, check.site_id))


def ancestor_group_ids(session: Session, group_id: int | None) -> list[int]:
    """The group and every group above it (a group window covers the groups below it)."""
    if group_id is None:
        return []
    parents = dict(session.execute(select(CheckGroup.id, CheckGroup.parent_id)).all())
    out: list[int] = []
    current: int | None = group_id
    while current is not None and current not in out:
        out.append(current)
        current = parents.get(current)
    return out


# ---- dependencies -------------------------------------------------------------------------


def creates_cycle(edges: Iterable[tuple[int, int]], child: int, parent: int) -> bool:
    """Would adding ``child -> parent`` ("child depends on parent") close a loop?

    It does when ``parent`` already depends, directly or through others, on ``child`` (or
    when they are the same check)."""
    if child == parent:
        return True
    depends_on: dict[int, set[int]] = defaultdict(set)
    for c, p in edges:
        depends_on[c].add(p)
    seen: set[int] = set()
    stack = [parent]
    while stack:
        node = stack.pop()
        if node == child:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(depends_on.get(node, ()))
    return False


def dependency_edges(session: Session) -> list[tuple[int, int]]:
    return [(c, p) for c, p in session.execute(
        select(CheckDependency.child_id, CheckDependency.parent_id))]
