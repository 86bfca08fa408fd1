"""Bounded history of the check engine: minute/hour/day rollups and the last N results.

- Every written result adds to its check's *minute* bucket (``add_to_rollup``; the engine
  upserts the buckets of a batch with one cached statement, ``upsert_minutes``).
- The background job recomputes hour buckets from minute rows and day buckets from hour rows
  (:func:`roll_up`, idempotent) and deletes what is past its retention (:func:`prune`).
- Raw results are cut to the newest ``keep`` per check (:func:`trim_results`): by the engine
  every few writes of a check, and by :func:`prune` for all checks.

A bucket holds counts, the duration sum/min/max and a latency histogram (``h0``..``h9``, bounds
in ``LATENCY_BUCKETS``), so buckets merge by addition and a p95 can be read back (``p95_from``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from checks.binds import utc_param
from checks.models import HISTOGRAM_COLUMNS, LATENCY_BUCKETS, CheckResultRow, CheckRollup
from checks.result import Result, Status
from dutydesk.core.db import Database

RETENTION = {
    "minute": timedelta(hours=24),
    "hour": timedelta(days=90),
    "day": timedelta(days=730),
}
_SUMMED = ("count", "up_count", "ok_count", "duration_sum", *HISTOGRAM_COLUMNS)


def bucket_start(at: datetime, resolution: str) -> datetime:
    """The start of the UTC-aligned ``resolution`` bucket that holds ``at``."""
    if resolution == "minute":
        return at.replace(second=0, microsecond=0)
    if resolution == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def histogram_index(duration: float) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS):
        if duration <= bound:
            return index
    return len(LATENCY_BUCKETS)


def p95_from(histogram: Sequence[int], maximum: float | None) -> float | None:
    """An upper bound of the 95th percentile latency from a rollup's histogram columns."""
    total = sum(histogram)
    if total == 0:
        return None
    wanted = math.ceil(total * 0.95)
    running = 0
    for index, count in enumerate(histogram):
        running += count
        if running >= wanted:
            bound = LATENCY_BUCKETS[index] if index < len(LATENCY_BUCKETS) else math.inf
            return min(bound, maximum) if maximum is not None else bound
    return maximum


def uptime(up_count: int, count: int) -> float | None:
    return None if count == 0 else 100.0 * up_count / count


def _empty(check_id: int, start: datetime) -> dict[str, Any]:
    return {"check_id": check_id, "bucket_start": start, "count": 0, "up_count": 0,
            "ok_count": 0, "duration_sum": 0.0, "duration_min": None, "duration_max": None,
            **{h: 0 for h in HISTOGRAM_COLUMNS}}


def add_to_rollup(acc: dict[tuple[int, datetime], dict[str, Any]], check_id: int,
                  result: Result) -> None:
    """Count ``result`` into its minute bucket in ``acc`` (keyed by check id and bucket)."""
    key = (check_id, bucket_start(result.started_at, "minute"))
    row = acc.get(key)
    if row is None:
        row = acc[key] = _empty(check_id, key[1])
    duration = result.duration
    row["count"] += 1
    row["up_count"] += result.status in (Status.OK, Status.WARNING)
    row["ok_count"] += result.status is Status.OK
    row["duration_sum"] += duration
    row["duration_min"] = (duration if row["duration_min"] is None
                           else min(row["duration_min"], duration))
    row["duration_max"] = (duration if row["duration_max"] is None
                           else max(row["duration_max"], duration))
    row[HISTOGRAM_COLUMNS[histogram_index(duration)]] += 1


def _merge_row(acc: dict, key: tuple[int, datetime], row: CheckRollup) -> None:
    out = acc.get(key)
    if out is None:
        out = acc[key] = _empty(*key)
    for name in _SUMMED:
        out[name] += getattr(row, name)
    for name, pick in (("duration_min", min), ("duration_max", max)):
        value = getattr(row, name)
        if value is not None:
            out[name] = value if out[name] is None else pick(out[name], value)


def upsert_minutes(conn: Any, dialect: str, rows: list[dict[str, Any]]) -> None:
    """Add ``rows`` (from :func:`add_to_rollup`) to their minute buckets, creating missing ones.
    One cached statement, executemany: a multi-row VALUES would be compiled every batch."""
    for row in rows:
        row["resolution"] = "minute"
    conn.execute(_rollup_upsert(dialect), rows)


_ROLLUP_UPSERTS: dict[str, Any] = {}


def _rollup_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE adding the bucket's counts (built once per dialect)."""
    stmt = _ROLLUP_UPSERTS.get(dialect)
    if stmt is not None:
        return stmt
    table = CheckRollup.__table__
    c = table.c
    base = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        {col.name: utc_param(col.name) if col.name == "bucket_start" else bindparam(col.name)
         for col in table.columns})
    ex = base.excluded
    sums: dict[str, Any] = {name: c[name] + ex[name] for name in _SUMMED}
    sums["duration_min"] = case(
        (c.duration_min.is_(None), ex.duration_min),
        (ex.duration_min < c.duration_min, ex.duration_min), else_=c.duration_min)
    sums["duration_max"] = case(
        (c.duration_max.is_(None), ex.duration_max),
        (ex.duration_max > c.duration_max, ex.duration_max), else_=c.duration_max)
    stmt = base.on_conflict_do_update(
        index_elements=["check_id", "resolution", "bucket_start"], set_=sums)
    _ROLLUP_UPSERTS[dialect] = stmt
    return stmt


_RESULTS = CheckResultRow.__table__
# Everything of one check older than its keep-th newest result; one cached statement, run as
# executemany over the checks due for a trim (bound: b_check, b_keep).
_TRIM = delete(_RESULTS).where(
    _RESULTS.c.check_id == bindparam("b_check"),
    _RESULTS.c.id <= (select(_RESULTS.c.id).where(_RESULTS.c.check_id == bindparam("b_check"))
                      .order_by(_RESULTS.c.id.desc()).offset(bindparam("b_keep")).limit(1)
                      .scalar_subquery()),
)


def trim_results(conn: Any, check_ids: Sequence[int], keep: int) -> int:
    """Delete all but the newest ``keep`` results of each check; returns rows deleted."""
    if not check_ids:
        return 0
    return conn.execute(_TRIM, [{"b_check": cid, "b_keep": keep} for cid in check_ids]
                        ).rowcount or 0


def roll_up(db: Database, now: datetime) -> None:
    """Recompute the hour buckets of the last two hours from minute rows, and the day
    buckets of the last two days from hour rows (idempotent: each bucket is written whole with
    an upsert, in key order, so runs in several workers at once neither fail on the unique key
    nor deadlock; the last writer's sums, all computed from the same sources, stand)."""
    with db.session() as s:
        for source, target, span in (("minute", "hour", timedelta(hours=1)),
                                     ("hour", "day", timedelta(days=1))):
            start = bucket_start(now, target) - span
            rows = s.scalars(select(CheckRollup).where(
                CheckRollup.resolution == source, CheckRollup.bucket_start >= start)).all()
            merged: dict[tuple[int, datetime], dict[str, Any]] = {}
            for row in rows:
                _merge_row(merged, (row.check_id, bucket_start(row.bucket_start, target)), row)
            if merged:
                s.execute(_bucket_replace(db.dialect), [
                    {**merged[key], "resolution": target} for key in sorted(merged)])


_BUCKET_REPLACES: dict[str, Any] = {}
_KEY = ("check_id", "resolution", "bucket_start")


def _bucket_replace(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (check, resolution, bucket) DO UPDATE SET every figure to the new
    row's (a recomputed bucket replaces the stored one); built once per dialect."""
    stmt = _BUCKET_REPLACES.get(dialect)
    if stmt is None:
        table = CheckRollup.__table__
        base = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        stmt = base.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={col.name: base.excluded[col.name] for col in table.columns
                  if col.name not in _KEY and not col.primary_key})
        _BUCKET_REPLACES[dialect] = stmt
    return stmt


def prune(db: Database, now: datetime, keep_results: int) -> dict[str, int]:
    """Delete results beyond ``keep_results`` per check and rollups beyond retention."""
    removed = {"results": 0}
    with db.session() as s:
        over = s.execute(
            select(CheckResultRow.check_id).group_by(CheckResultRow.check_id)
            .having(func.count() > keep_results)
        ).scalars().all()
        removed["results"] = trim_results(s.connection(), over, keep_results)
        for resolution, keep in RETENTION.items():
            removed[resolution] = s.execute(delete(CheckRollup).where(
                CheckRollup.resolution == resolution,
                CheckRollup.bucket_start < now - keep)).rowcount or 0
    return removed


__all__ = ["RETENTION", "add_to_rollup", "bucket_start", "histogram_index", "p95_from",
           "prune", "roll_up", "trim_results", "upsert_minutes", "uptime"]
