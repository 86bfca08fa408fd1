"""Database I/O of the check engine: claim due checks, write judged results in batches, roll up.

All methods are synchronous (the engine calls them from a DB thread) and each opens its own
transaction. Concurrency rules (ARCHITECTURE principle 3):

- Claiming: a due check is claimed by moving its ``next_due_at`` to a lease in the future with
  ``UPDATE ... WHERE check_id = :id AND next_due_at = :seen`` and acting only if one row changed.
  On PostgreSQL the candidates are selected ``FOR UPDATE SKIP LOCKED`` first, so several workers
  take disjoint sets without waiting on each other. A worker that dies leaves the lease to expire;
  then the check is claimed again.
- Writing: the state row is updated ``WHERE version = :claimed_version``; a result whose state
  changed meanwhile (e.g. two "run now" runs) is dropped and counted as a conflict.
- Bounded history: results beyond ``keep`` per check are deleted every ``trim_every`` writes of
  that check and by :meth:`CheckStore.prune`; rollups beyond their retention likewise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from checks.maintenance import MaintenanceError, MaintenanceWindow
from checks.policy import CheckPolicy
from checks.result import Result, Status
from checks.schedule import next_due
from checks.state import CheckState, StateError, StateType, Transition
from checks.windows import build_window
from dutydesk.db import Database
from dutydesk.models.checks import (
    HISTOGRAM_COLUMNS,
    LATENCY_BUCKETS,
    Check,
    CheckDependency,
    CheckGroup,
    CheckResultRow,
    CheckRollup,
    CheckStateRow,
    FlipRow,
    HeartbeatRow,
    MaintenanceWindowRow,
)

DEFAULT_KEEP_RESULTS = 100
RETENTION = {
    "minute": timedelta(hours=24),
    "hour": timedelta(days=90),
    "day": timedelta(days=730),
}


def policy_of(check: Check) -> CheckPolicy:
    """The check's ``CheckPolicy`` (raises PolicyError if the stored values are out of range)."""
    return CheckPolicy(
        interval=check.interval,
        retry_interval=check.retry_interval,
        max_attempts=check.max_attempts,
        flap_detection=check.flap_detection,
        flap_low_threshold=check.flap_low_threshold,
        flap_high_threshold=check.flap_high_threshold,
        flap_history_states=check.flap_history_states,
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """A check this worker may run now: what it is, when it was due, and its state then."""

    check_id: int
    slug: str
    type: str
    spec: dict[str, Any]
    policy: CheckPolicy
    timeout: float
    group_id: int | None
    updated_at: datetime
    created_at: datetime
    due_at: datetime
    version: int
    state: CheckState
    parents_down: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """One judged run, ready to be written."""

    claim: Claim
    result: Result
    transition: Transition
    next_due_at: datetime


@dataclass
class WriteReport:
    written: list[Outcome] = field(default_factory=list)
    conflicts: int = 0


@dataclass(frozen=True, slots=True)
class Signals:
    """The push signals of a heartbeat check."""

    last_ping_at: datetime | None
    last_start_at: datetime | None
    last_fail_at: datetime | None


def _bucket(at: datetime, resolution: str) -> datetime:
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


def _state_of(data: dict[str, Any] | None) -> CheckState:
    if not data:
        return CheckState.initial()
    try:
        return CheckState.from_dict(data)
    except StateError:
        return CheckState.initial()  # a corrupt state must not stop the check from running


def parent_is_down(state_type: str | None, last_status: str | None) -> bool:
    """A parent counts as down while its problem is confirmed (HARD, not OK)."""
    return state_type == StateType.HARD.value and last_status not in (None, Status.OK.name)


class CheckStore:
    """The engine's window on the database (one per engine; safe to call from one thread at a
    time per method, and from several processes at once)."""

    def __init__(
        self,
        db: Database,
        *,
        keep_results: int = DEFAULT_KEEP_RESULTS,
        trim_every: int = 10,
        lease_margin: float = 30.0,
    ) -> None:
        if keep_results < 1:
            raise ValueError(f"keep_results must be at least 1, got {keep_results}")
        self.db = db
        self.keep_results = keep_results
        self.trim_every = max(1, trim_every)
        self.lease_margin = lease_margin
        self._writes_since_trim: dict[int, int] = defaultdict(int)
        self._policies: dict[int, tuple[tuple[Any, ...], CheckPolicy]] = {}

    # ---- state rows ------------------------------------------------------------------------

    def ensure_states(self, now: datetime) -> int:
        """Create the state row of every check that has none (new checks), first run spread by
        its phase. Returns how many were created. Safe against a concurrent worker."""
        with self.db.session() as s:
            missing = s.execute(
                select(Check.id, Check.interval)
                .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
                .where(CheckStateRow.check_id.is_(None))
            ).all()
            if not missing:
                return 0
            rows = [
                {"check_id": cid, "state": {}, "next_due_at": next_due(cid, interval, None, now),
                 "updated_at": now}
                for cid, interval in missing
            ]
            s.execute(_insert(self.db)(CheckStateRow).on_conflict_do_nothing(), rows)
        return len(rows)

    def request_run(self, check_id: int, now: datetime) -> bool:
        """Make the check due now ("run now"); False if the check has no state row yet."""
        with self.db.session() as s:
            done = s.execute(
                update(CheckStateRow).where(CheckStateRow.check_id == check_id)
                .values(next_due_at=now)
            ).rowcount
        return bool(done)

    # ---- claiming --------------------------------------------------------------------------

    def claim_due(self, now: datetime, *, horizon: float = 1.0, limit: int = 2000) -> list[Claim]:
        """Claim enabled checks due by ``now + horizon`` seconds (earliest first)."""
        until = now + timedelta(seconds=horizon)
        c, st = Check.__table__.c, CheckStateRow.__table__.c
        with self.db.session() as s:
            # Plain columns, not ORM entities: this runs for every claimed check (hot path).
            query = (
                select(c.id, c.slug, c.type, c.spec, c.interval, c.retry_interval,
                       c.max_attempts, c.flap_detection, c.flap_low_threshold,
                       c.flap_high_threshold, c.flap_history_states, c.timeout, c.group_id,
                       c.updated_at, c.created_at, st.next_due_at, st.version, st.state)
                .select_from(Check.__table__.join(CheckStateRow.__table__,
                                                  st.check_id == c.id))
                .where(c.enabled.is_(True), st.next_due_at <= until)
                .order_by(st.next_due_at)
                .limit(limit)
            )
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=CheckStateRow.__table__)
            candidates = s.execute(query).all()
            won = self._cas_claim_all(s, candidates, now)
            parents_down = self._parents_down(s, [row.id for row in won])
        claims = []
        for row in won:
            policy = self._policy(row)
            claims.append(Claim(
                check_id=row.id, slug=row.slug, type=row.type, spec=dict(row.spec or {}),
                policy=policy, timeout=row.timeout, group_id=row.group_id,
                updated_at=row.updated_at, created_at=row.created_at, due_at=row.next_due_at,
                version=row.version, state=_state_of(row.state),
                parents_down=parents_down.get(row.id, False),
            ))
        return claims

    def _policy(self, row: Row) -> CheckPolicy:
        """The row's policy, built (and validated) only when its policy columns changed."""
        key = (row.interval, row.retry_interval, row.max_attempts, row.flap_detection,
               row.flap_low_threshold, row.flap_high_threshold, row.flap_history_states)
        cached = self._policies.get(row.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            policy = _policy_of_row(row)
        except ValueError:
            policy = CheckPolicy()
        self._policies[row.id] = (key, policy)
        return policy

    def _cas_claim_all(self, s: Any, rows: Sequence[Row], now: datetime) -> list[Row]:
        """Compare-and-set every candidate's ``next_due_at`` to its lease in ONE executemany;
        if any lost (another worker moved it), redo them one by one to learn which won."""
        if not rows:
            return []
        params = [{"b_id": row.id, "b_seen": row.next_due_at,
                   "b_lease": max(row.next_due_at, now)
                   + timedelta(seconds=row.timeout + self.lease_margin)} for row in rows]
        conn = s.connection()
        savepoint = conn.begin_nested()
        if conn.execute(_CLAIM, params).rowcount == len(params):
            savepoint.commit()
            return list(rows)
        savepoint.rollback()
        return [row for row, p in zip(rows, params, strict=True)
                if conn.execute(_CLAIM, [p]).rowcount == 1]

    def claim_one(self, check_id: int, seen_due_at: datetime, lease_until: datetime) -> bool:
        """Compare-and-set claim of one check seen due at ``seen_due_at``; True if we won."""
        with self.db.session() as s:
            changed = s.execute(
                update(CheckStateRow)
                .where(CheckStateRow.check_id == check_id,
                       CheckStateRow.next_due_at == seen_due_at)
                .values(next_due_at=lease_until)
            ).rowcount
        return changed == 1

    def release(self, claims: Iterable[Claim]) -> int:
        """Give unstarted claims back (their slot becomes due again), e.g. at shutdown."""
        released = 0
        with self.db.session() as s:
            for claim in claims:
                released += s.execute(
                    update(CheckStateRow)
                    .where(CheckStateRow.check_id == claim.check_id,
                           CheckStateRow.version == claim.version)
                    .values(next_due_at=claim.due_at)
                ).rowcount or 0
        return released

    def _parents_down(self, s: Any, check_ids: list[int]) -> dict[int, bool]:
        if not check_ids:
            return {}
        rows = s.execute(
            select(CheckDependency.child_id, CheckStateRow.state_type, CheckStateRow.last_status)
            .join(CheckStateRow, CheckStateRow.check_id == CheckDependency.parent_id)
            .where(CheckDependency.child_id.in_(check_ids))
        ).all()
        down: dict[int, bool] = {}
        for child, state_type, last_status in rows:
            if parent_is_down(state_type, last_status):
                down[child] = True
        return down

    # ---- context the engine refreshes now and then -----------------------------------------

    def reference_results(self) -> dict[str, Result | None]:
        """Latest result of each probe-guard reference check (``None`` if it never ran)."""
        with self.db.session() as s:
            rows = s.execute(
                select(Check.slug, CheckStateRow.last_status, CheckStateRow.last_message,
                       CheckStateRow.last_result_at)
                .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
                .where(Check.guard_reference.is_(True), Check.enabled.is_(True))
            ).all()
        out: dict[str, Result | None] = {}
        for slug, status, message, at in rows:
            out[slug] = (None if status is None or at is None
                         else Result(Status[status], message or "", at))
        return out

    def maintenance_windows(self) -> tuple[dict[int, list[MaintenanceWindow]],
                                           dict[int, list[MaintenanceWindow]],
                                           dict[int, int | None]]:
        """Enabled windows by check id and by group id, and the group parent map."""
        by_check: dict[int, list[MaintenanceWindow]] = defaultdict(list)
        by_group: dict[int, list[MaintenanceWindow]] = defaultdict(list)
        with self.db.session() as s:
            rows = s.scalars(select(MaintenanceWindowRow)
                             .where(MaintenanceWindowRow.enabled.is_(True))).all()
            parents = dict(s.execute(select(CheckGroup.id, CheckGroup.parent_id)).all())
        for row in rows:
            try:
                window = build_window(row.kind, row.definition, row.zone, row.name)
            except (MaintenanceError, ValueError):
                continue  # validated on the way in; a broken row must not stop the engine
            if row.check_id is not None:
                by_check[row.check_id].append(window)
            elif row.group_id is not None:
                by_group[row.group_id].append(window)
        return dict(by_check), dict(by_group), parents

    def signals(self, check_id: int) -> Signals:
        with self.db.session() as s:
            row = s.get(HeartbeatRow, check_id)
        if row is None:
            return Signals(None, None, None)
        return Signals(row.last_ping_at, row.last_start_at, row.last_fail_at)

    # ---- writing ---------------------------------------------------------------------------

    def write_batch(self, outcomes: Iterable[Outcome]) -> WriteReport:
        """Write judged runs in ONE transaction: state (compare-and-set on version), result,
        flips and the minute rollup. Returns what was written and how many lost the CAS."""
        report = WriteReport()
        outcomes = list(outcomes)
        if not outcomes:
            return report
        with self.db.session() as s:
            results: list[dict[str, Any]] = []
            flips: list[dict[str, Any]] = []
            rollups: dict[tuple[int, datetime], dict[str, Any]] = {}
            for outcome in self._write_states(s, outcomes, report):
                claim, result = outcome.claim, outcome.result
                results.append({
                    "check_id": claim.check_id, "started_at": result.started_at,
                    "status": result.status.name, "message": result.message[:2000],
                    "duration": result.duration, "metrics": dict(result.metrics),
                })
                for flip in outcome.transition.flips:
                    flips.append({
                        "check_id": claim.check_id, "kind": flip.kind.value,
                        "old_status": flip.old_status.name if flip.old_status is not None else None,
                        "new_status": flip.new_status.name, "reason": flip.reason[:4000],
                        "at": flip.at, "muted_by": flip.muted_by, "processed_at": None,
                    })
                _add_to_rollup(rollups, claim.check_id, result)
            # Core inserts on the connection: the ORM bulk path costs a lot per row for nothing.
            conn = s.connection()
            if results:
                conn.execute(_INSERT_RESULT, results)
            if flips:
                conn.execute(_INSERT_FLIP, flips)
            if rollups:
                self._upsert_rollups(s, "minute", list(rollups.values()))
            self._trim_some(s, [o.claim.check_id for o in report.written])
        return report

    def _write_states(self, s: Any, outcomes: list[Outcome], report: WriteReport) -> list[Outcome]:
        """Update the state rows (compare-and-set on version) with one executemany per shape;
        if any row lost, redo that shape row by row to learn which. Fills ``report``."""
        conn = s.connection()
        fresh = [o for o in outcomes if not o.transition.stale]
        stale = [o for o in outcomes if o.transition.stale]
        for group, stmt in ((fresh, _WRITE_STATE), (stale, _WRITE_STALE)):
            if not group:
                continue
            params = [_state_params(o) for o in group]
            savepoint = conn.begin_nested()
            if conn.execute(stmt, params).rowcount == len(params):
                savepoint.commit()
                report.written.extend(group)
                continue
            savepoint.rollback()
            for outcome, p in zip(group, params, strict=True):
                if conn.execute(stmt, [p]).rowcount == 1:
                    report.written.append(outcome)
                else:
                    report.conflicts += 1
        return report.written

    def _upsert_rollups(self, s: Any, resolution: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            row["resolution"] = resolution
        # One cached statement, executemany: a multi-row VALUES would be compiled every batch.
        s.connection().execute(_rollup_upsert(self.db.dialect), rows)

    def _trim_some(self, s: Any, check_ids: list[int]) -> None:
        due = []
        for cid in check_ids:
            self._writes_since_trim[cid] += 1
            if self._writes_since_trim[cid] >= self.trim_every:
                self._writes_since_trim[cid] = 0
                due.append(cid)
        for cid in due:
            self._trim(s, cid)

    def _trim(self, s: Any, check_id: int) -> int:
        cutoff = (
            select(CheckResultRow.id).where(CheckResultRow.check_id == check_id)
            .order_by(CheckResultRow.id.desc()).offset(self.keep_results).limit(1)
            .scalar_subquery()
        )
        return s.execute(delete(CheckResultRow).where(
            CheckResultRow.check_id == check_id, CheckResultRow.id <= cutoff)).rowcount or 0

    # ---- rollups and pruning (the background job) ------------------------------------------

    def roll_up(self, now: datetime) -> None:
        """Recompute the hour buckets of the last two hours from minute rows, and the day
        buckets of the last two days from hour rows (idempotent: rows are replaced)."""
        with self.db.session() as s:
            for source, target, span in (("minute", "hour", timedelta(hours=1)),
                                         ("hour", "day", timedelta(days=1))):
                start = _bucket(now, target) - span
                rows = s.scalars(select(CheckRollup).where(
                    CheckRollup.resolution == source, CheckRollup.bucket_start >= start)).all()
                merged: dict[tuple[int, datetime], dict[str, Any]] = {}
                for row in rows:
                    key = (row.check_id, _bucket(row.bucket_start, target))
                    _merge_row(merged, key, row)
                s.execute(delete(CheckRollup).where(
                    CheckRollup.resolution == target, CheckRollup.bucket_start >= start))
                if merged:
                    s.execute(insert(CheckRollup), [
                        {**values, "resolution": target} for values in merged.values()])

    def prune(self, now: datetime) -> dict[str, int]:
        """Delete results beyond ``keep_results`` per check and rollups beyond retention."""
        removed = {"results": 0}
        with self.db.session() as s:
            over = s.execute(
                select(CheckResultRow.check_id).group_by(CheckResultRow.check_id)
                .having(func.count() > self.keep_results)
            ).scalars().all()
            for cid in over:
                removed["results"] += self._trim(s, cid)
            for resolution, keep in RETENTION.items():
                removed[resolution] = s.execute(delete(CheckRollup).where(
                    CheckRollup.resolution == resolution,
                    CheckRollup.bucket_start < now - keep)).rowcount or 0
        return removed


def _insert(db: Database) -> Any:
    return postgresql.insert if db.dialect == "postgresql" else sqlite.insert


def _add_to_rollup(acc: dict, check_id: int, result: Result) -> None:
    key = (check_id, _bucket(result.started_at, "minute"))
    row = acc.get(key)
    if row is None:
        row = acc[key] = {"check_id": check_id, "bucket_start": key[1], "count": 0,
                          "up_count": 0, "ok_count": 0, "duration_sum": 0.0,
                          "duration_min": None, "duration_max": None,
                          **{h: 0 for h in HISTOGRAM_COLUMNS}}
    row["count"] += 1
    row["up_count"] += result.status in (Status.OK, Status.WARNING)
    row["ok_count"] += result.status is Status.OK
    row["duration_sum"] += result.duration
    row["duration_min"] = (result.duration if row["duration_min"] is None
                           else min(row["duration_min"], result.duration))
    row["duration_max"] = (result.duration if row["duration_max"] is None
                           else max(row["duration_max"], result.duration))
    row[HISTOGRAM_COLUMNS[histogram_index(result.duration)]] += 1


def _merge_row(acc: dict, key: tuple[int, datetime], row: CheckRollup) -> None:
    out = acc.get(key)
    if out is None:
        out = acc[key] = {"check_id": key[0], "bucket_start": key[1], "count": 0,
                          "up_count": 0, "ok_count": 0, "duration_sum": 0.0,
                          "duration_min": None, "duration_max": None,
                          **{h: 0 for h in HISTOGRAM_COLUMNS}}
    for name in ("count", "up_count", "ok_count", "duration_sum", *HISTOGRAM_COLUMNS):
        out[name] += getattr(row, name)
    for name, pick in (("duration_min", min), ("duration_max", max)):
        value = getattr(row, name)
        if value is not None:
            out[name] = value if out[name] is None else pick(out[name], value)


def uptime(up_count: int, count: int) -> float | None:
    return None if count == 0 else 100.0 * up_count / count


_STATES = CheckStateRow.__table__
_INSERT_RESULT = insert(CheckResultRow.__table__)
_INSERT_FLIP = insert(FlipRow.__table__)
_CLAIM = (
    update(_STATES)
    .where(_STATES.c.check_id == bindparam("b_id"), _STATES.c.next_due_at == bindparam("b_seen"))
    .values(next_due_at=bindparam("b_lease"))
)
_STATE_COMMON = {"next_due_at": bindparam("b_next_due"), "version": bindparam("b_new_version"),
                 "updated_at": bindparam("b_updated")}
_STATE_FIELDS = ("state", "status", "state_type", "attempt", "flapping", "in_maintenance",
                 "last_result_at", "last_status", "last_message", "last_duration",
                 "last_metrics")
_WRITE_STALE = (
    update(_STATES)
    .where(_STATES.c.check_id == bindparam("b_id"), _STATES.c.version == bindparam("b_version"))
    .values(**_STATE_COMMON)
)
_WRITE_STATE = _WRITE_STALE.values(**{name: bindparam(f"b_{name}") for name in _STATE_FIELDS})


def _state_params(outcome: Outcome) -> dict[str, Any]:
    claim, result, state = outcome.claim, outcome.result, outcome.transition.state
    params: dict[str, Any] = {
        "b_id": claim.check_id, "b_version": claim.version,
        "b_next_due": outcome.next_due_at, "b_new_version": claim.version + 1,
        "b_updated": state.last_check or result.started_at,
    }
    if not outcome.transition.stale:
        params.update(
            b_state=state.to_dict(), b_status=state.display_status,
            b_state_type=state.state_type.value, b_attempt=state.attempt,
            b_flapping=state.flapping, b_in_maintenance=state.in_maintenance,
            b_last_result_at=result.started_at, b_last_status=result.status.name,
            b_last_message=result.message[:2000], b_last_duration=result.duration,
            b_last_metrics=dict(result.metrics),
        )
    return params

_ROLLUP_UPSERTS: dict[str, Any] = {}


def _rollup_upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE adding the bucket's counts (built once per dialect)."""
    stmt = _ROLLUP_UPSERTS.get(dialect)
    if stmt is not None:
        return stmt
    table = CheckRollup.__table__
    c = table.c
    base = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        {col.name: bindparam(col.name) for col in table.columns})
    ex = base.excluded
    sums: dict[str, Any] = {name: c[name] + ex[name] for name in
                            ("count", "up_count", "ok_count", "duration_sum", *HISTOGRAM_COLUMNS)}
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


def _policy_of_row(row: Row) -> CheckPolicy:
    return CheckPolicy(
        interval=row.interval, retry_interval=row.retry_interval,
        max_attempts=row.max_attempts, flap_detection=row.flap_detection,
        flap_low_threshold=row.flap_low_threshold, flap_high_threshold=row.flap_high_threshold,
        flap_history_states=row.flap_history_states,
    )


__all__ = [
    "CheckStore",
    "Claim",
    "Outcome",
    "Signals",
    "WriteReport",
    "p95_from",
    "parent_is_down",
    "policy_of",
    "uptime",
]
