"""Database I/O of the check engine: claim due checks, write judged results in batches, roll up.

All methods are synchronous (the engine calls them from a DB thread) and each opens its own
transaction. Concurrency rules (ARCHITECTURE principle 3):

- Claiming: a due check is claimed by moving its ``next_due_at`` to a lease in the future AND
  bumping its ``version`` with ``UPDATE ... WHERE check_id = :id AND next_due_at = :seen AND
  version = :seen_version``, acting only if one row changed. The new version is the claim's
  fencing token. On PostgreSQL the candidates are selected ``FOR UPDATE SKIP LOCKED`` first, so
  several workers take disjoint sets without waiting on each other. The lease ends at the
  check's next slot (:func:`checks.schedule.lease_until`): a worker that dies or hangs loses the
  check to another one at most one interval late.
- Fencing: the state row is updated ``WHERE version = :claim's token``. A worker that was paused
  past its lease finds the check claimed again (version bumped) and its write is refused and
  counted as a conflict: no result is stored twice, whatever the pause.
- Time: leases and due times come from the database's clock (:class:`dutydesk.core.dbclock.DbClock`,
  measured once per claim batch), never from this host's, so a worker whose clock runs ahead
  cannot take over checks early nor stamp results in the future.
- Bounded history: results beyond ``keep`` per check are deleted every ``trim_every`` writes of
  that check and by :meth:`CheckStore.prune`; rollups beyond their retention likewise (the
  rollup and trimming statements live in :mod:`checks.rollups`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, column, exists, or_, select, table, update
from sqlalchemy.dialects import postgresql, sqlite

from checks import store_pg
from checks.binds import id_in
from checks.dependencies import down_parents, parent_is_down
from checks.guard import GuardVerdict, assess_poller
from checks.locations import CENTRE, record_and_combine
from checks.maintenance import MaintenanceError, MaintenanceWindow
from checks.models import (
    Check,
    CheckGroup,
    CheckStateRow,
    HeartbeatRow,
    MaintenanceWindowRow,
)
from checks.policy import CheckPolicy
from checks.result import Result, Status
from checks.rollups import prune, roll_up, trim_results, upsert_minutes
from checks.schedule import lease_until, next_due
from checks.state import CheckState, StateError, Transition
from checks.store_sql import (
    CLAIM,
    INSERT_FLIP,
    INSERT_RESULT,
    WRITE_STALE,
    WRITE_STATE,
    history_rows,
    state_params,
)
from checks.windows import WindowIndex, build_window
from dutydesk.core.db import Database
from dutydesk.core.dbclock import DbClock

DEFAULT_KEEP_RESULTS = 100
#: The probes among a check's locations (``dutydesk.sites.models.CheckProbe``): central workers
#: skip a check with a probe unless ``run_at_centre``. Named, not imported: the sites domain
#: sits above this one.
REMOTE_CHECKS = table("check_probes", column("check_id"))


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
    #: The fencing token: the row's version as this claim set it; writes carry it.
    version: int
    state: CheckState
    parents_down: bool
    #: Until when the check is this worker's (database time); see ``checks.schedule``.
    lease: datetime
    #: The check's site (its site's maintenance windows cover it).
    site_id: int | None = None
    #: Also run by probes: the centre's result is one location's (``checks.locations``).
    multi: bool = False


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
    last_exit_status: int | None = None


def _state_of(data: dict[str, Any] | None) -> CheckState:
    if not data:
        return CheckState.initial()
    try:
        return CheckState.from_dict(data)
    except StateError:
        return CheckState.initial()  # a corrupt state must not stop the check from running


class CheckStore:
    """The engine's window on the database (one per engine; safe to call from one thread at a
    time per method, and from several processes at once).

    ``part=(k, n)`` makes this store claim only checks whose id is ``k`` modulo ``n``: one of
    ``n`` engine processes on one machine. Claims stay compare-and-set, so overlapping parts
    (another machine's workers) remain safe."""

    def __init__(
        self,
        db: Database,
        *,
        keep_results: int = DEFAULT_KEEP_RESULTS,
        trim_every: int = 10,
        part: tuple[int, int] | None = None,
        clock: DbClock | None = None,
    ) -> None:
        """``clock``: the database clock the claims sync and the engine reads (a new one by
        default)."""
        if keep_results < 1:
            raise ValueError(f"keep_results must be at least 1, got {keep_results}")
        if part is not None and not 0 <= part[0] < part[1]:
            raise ValueError(f"part must be (k, n) with 0 <= k < n, got {part!r}")
        self.db = db
        self.keep_results = keep_results
        self.trim_every = max(1, trim_every)
        self.clock = clock or DbClock()
        #: Set when the engine stops: claims no longer take anything.
        self.closing = False
        self._writes_since_trim: dict[int, int] = defaultdict(int)
        self.part = part
        self._policies: dict[int, tuple[tuple[Any, ...], CheckPolicy]] = {}
        # What this store last read or wrote, so a claim decodes neither again when nothing
        # else changed it: check id -> (version, created_at, state) / (updated_at, spec).
        self._states: dict[int, tuple[int, datetime, CheckState]] = {}
        self._specs: dict[int, tuple[datetime, dict[str, Any]]] = {}

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

    def claim_due(self, now: datetime | None = None, *, horizon: float = 1.0,
                  limit: int = 2000) -> list[Claim]:
        """Claim enabled checks due by ``now + horizon`` seconds (earliest first). ``now``
        defaults to the database's, read in the claim's own transaction (and kept in
        ``self.clock`` for the engine). ``horizon`` is the claim-ahead window: each lease ends at
        its check's next slot and leaves that window (see :func:`checks.schedule.lease_until`),
        so every worker of one database must claim with the same horizon."""
        if self.closing:
            return []
        c, st = Check.__table__.c, CheckStateRow.__table__.c
        with self.db.session() as s:
            if now is None:
                now = self.clock.sync(s)
            until = now + timedelta(seconds=horizon)
            # Plain columns, not ORM entities: this runs for every claimed check (hot path).
            # No spec or state: those come from this store's caches when unchanged.
            query = (
                select(c.id, c.slug, c.type, c.interval, c.retry_interval,
                       c.max_attempts, c.flap_detection, c.flap_low_threshold,
                       c.flap_high_threshold, c.flap_history_states, c.timeout, c.group_id,
                       c.site_id, c.updated_at, c.created_at, st.next_due_at, st.version,
                       c.run_at_centre)
                .select_from(Check.__table__.join(CheckStateRow.__table__,
                                                  st.check_id == c.id))
                .where(c.enabled.is_(True), st.next_due_at <= until,
                       or_(c.run_at_centre.is_(True),
                           ~exists().where(REMOTE_CHECKS.c.check_id == c.id)))
                .order_by(st.next_due_at)
                .limit(limit)
            )
            if self.part is not None:
                query = query.where(c.id % self.part[1] == self.part[0])
            if self.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True, of=CheckStateRow.__table__)
            candidates = s.execute(query).all()
            won, leases = self._cas_claim_all(s, candidates, now, horizon)
            parents_down = self._parents_down(s, [row.id for row in won])
            known = self.known(s, won)
        claims = []
        for row in won:
            spec, state = known[row.id]
            claims.append(Claim(
                check_id=row.id, slug=row.slug, type=row.type, spec=spec,
                policy=self.policy(row), timeout=row.timeout, group_id=row.group_id,
                updated_at=row.updated_at, created_at=row.created_at, due_at=row.next_due_at,
                version=row.version + 1, state=state,
                parents_down=parents_down.get(row.id, False), lease=leases[row.id],
                site_id=row.site_id,
                multi=bool(row.run_at_centre),
            ))
        return claims

    def known(self, s: Any, rows: Sequence[Row],
              ) -> dict[int, tuple[dict[str, Any], CheckState]]:
        """The spec and decoded state of each of ``rows`` (which carry ``id``, ``version``,
        ``created_at`` and ``updated_at``) as they are at those versions: from this store's
        caches (state by version, spec by the check's ``updated_at``), reading and decoding
        only the rows it has not seen as they are now."""
        out: dict[int, tuple[dict[str, Any], CheckState]] = {}
        missing = []
        for row in rows:
            state, spec = self._states.get(row.id), self._specs.get(row.id)
            if (state is None or state[0] != row.version or state[1] != row.created_at
                    or spec is None or spec[0] != row.updated_at):
                missing.append(row)
            else:
                out[row.id] = (spec[1], state[2])
        c, st = Check.__table__.c, CheckStateRow.__table__.c
        for start in range(0, len(missing), 500):
            chunk = {row.id: row for row in missing[start:start + 500]}
            found = s.execute(select(c.id, c.spec, st.state)
                              .join(CheckStateRow.__table__, st.check_id == c.id)
                              .where(id_in(s, c.id, chunk))).all()
            for check_id, spec, state in found:
                row = chunk[check_id]
                decoded = (dict(spec or {}), _state_of(state))
                self._specs[check_id] = (row.updated_at, decoded[0])
                self._states[check_id] = (row.version, row.created_at, decoded[1])
                out[check_id] = decoded
        return out

    def policy(self, row: Row) -> CheckPolicy:
        """The row's policy, built (and validated) only when its policy columns changed; the
        default policy when the stored values are out of range (a bad row must not stop it)."""
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

    @staticmethod
    def _cas_claim_all(s: Any, rows: Sequence[Row], now: datetime, claim_ahead: float,
                       ) -> tuple[list[Row], dict[int, datetime]]:
        """Compare-and-set every candidate's ``next_due_at`` to its lease (:func:`lease_until`
        with the claim-ahead window ``claim_ahead``) and its version to the next (the fencing
        token) in ONE executemany; if any lost (another worker moved it),
        redo them one by one to learn which won. Returns the won rows and their leases."""
        if not rows:
            return [], {}
        params = [{"b_id": row.id, "b_seen": row.next_due_at, "b_version": row.version,
                   "b_new_version": row.version + 1,
                   "b_lease": lease_until(row.next_due_at, now, row.interval, row.timeout,
                                          claim_ahead)}
                  for row in rows]
        leases = {p["b_id"]: p["b_lease"] for p in params}
        conn = s.connection()
        savepoint = conn.begin_nested()
        if conn.execute(CLAIM, params).rowcount == len(params):
            savepoint.commit()
            return list(rows), leases
        savepoint.rollback()
        return [row for row, p in zip(rows, params, strict=True)
                if conn.execute(CLAIM, [p]).rowcount == 1], leases

    def claim_one(self, check_id: int, seen_due_at: datetime, lease_until: datetime) -> bool:
        """Compare-and-set claim of one check seen due at ``seen_due_at`` (bumping its version,
        which fences out the previous holder's writes); True if we won."""
        with self.db.session() as s:
            changed = s.execute(
                update(CheckStateRow)
                .where(CheckStateRow.check_id == check_id,
                       CheckStateRow.next_due_at == seen_due_at)
                .values(next_due_at=lease_until, version=CheckStateRow.version + 1)
            ).rowcount
        return changed == 1

    def release(self, claims: Iterable[Claim]) -> int:
        """Give claims back (their slot becomes due again at once), e.g. at shutdown or when a
        run was dropped; only claims still held (version = their token) move."""
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
        # The one definition of "parent is down" (checks.dependencies), as the pipeline's muter.
        return {child: True for child in down_parents(s, check_ids)}

    # ---- context the engine refreshes now and then -----------------------------------------

    def poller_verdict(self, now: datetime) -> GuardVerdict:
        """The probe guard's verdict from the reference checks' latest results."""
        with self.db.session() as s:
            return poller_verdict(s, now)

    def maintenance_windows(self) -> WindowIndex:
        """Enabled windows by check id, by group id (with the group parent map) and by site
        id (:func:`checks.windows.windows_for` picks a check's)."""
        by_check: dict[int, list[MaintenanceWindow]] = defaultdict(list)
        by_group: dict[int, list[MaintenanceWindow]] = defaultdict(list)
        by_site: dict[int, list[MaintenanceWindow]] = defaultdict(list)
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
            elif row.site_id is not None:
                by_site[row.site_id].append(window)
        return WindowIndex(dict(by_check), dict(by_group), parents, dict(by_site))

    def signals(self, check_id: int) -> Signals:
        with self.db.session() as s:
            row = s.get(HeartbeatRow, check_id)
        if row is None:
            return Signals(None, None, None)
        return Signals(row.last_ping_at, row.last_start_at, row.last_fail_at,
                       row.last_exit_status)

    # ---- writing ---------------------------------------------------------------------------

    def at_centre(self, claim: Claim, result: Result, at: datetime) -> Result:
        """Keep the centre's ``result`` of a check that also runs on probes and return what
        to judge: the combination of its locations (:func:`checks.locations.record_and_combine`)."""
        with self.db.session() as s:
            check = s.get(Check, claim.check_id)
            if check is None:
                return result
            return record_and_combine(s, check, CENTRE, result, at)

    def write_batch(self, outcomes: Iterable[Outcome]) -> WriteReport:
        """Write judged runs in ONE transaction: state (compare-and-set on version), result,
        flips and the minute rollup. Returns what was written and how many lost the CAS."""
        report = WriteReport()
        outcomes = list(outcomes)
        if not outcomes:
            return report
        # Every row is built before the transaction starts: on SQLite it holds the database's
        # one write lock, which the claims of other engine processes wait for.
        groups = [(group, stmt, [state_params(o) for o in group]) for group, stmt in (
            ([o for o in outcomes if not o.transition.stale], WRITE_STATE),
            ([o for o in outcomes if o.transition.stale], WRITE_STALE)) if group]
        with self.db.session() as s:
            self.write_in(s, outcomes, report, groups)
        self.remember(report.written)  # committed: this is now the row's state and version
        return report

    def write_in(self, s: Any, outcomes: list[Outcome], report: WriteReport,
                 groups: list[Any] | None = None) -> WriteReport:
        """What :meth:`write_batch` writes, inside the caller's transaction ``s``. Several
        outcomes of one check are written in order when each claim carries the version the
        previous one leaves (``claim.version + 1``)."""
        if groups is None:  # runs of one statement, in the given order (versions chain)
            groups = []
            for o in outcomes:
                stmt = WRITE_STALE if o.transition.stale else WRITE_STATE
                if groups and groups[-1][1] is stmt:
                    groups[-1][0].append(o)
                    groups[-1][2].append(state_params(o))
                else:
                    groups.append(([o], stmt, [state_params(o)]))
        conn = s.connection()
        self._write_states(conn, groups, report)
        self.write_history(conn, report.written if report.conflicts else outcomes)
        return report

    def write_history(self, conn: Any, written: list[Outcome]) -> None:
        """The result rows, flips and minute rollups of ``written`` (whose state rows the
        caller updated in the same transaction), and the trims that fall due. Remote probe
        results (:mod:`checks.remote`) come here after their own state writes."""
        results, flips, rollups = history_rows(written)
        bulk = self.db.dialect == "postgresql"  # one statement per table (checks.store_pg)
        # Core inserts on the connection: the ORM bulk path costs a lot per row for nothing.
        if results:
            (store_pg.insert_results(conn, results) if bulk
             else conn.execute(INSERT_RESULT, results))
        if flips:
            conn.execute(INSERT_FLIP, flips)
        if rollups:
            (store_pg.upsert_minutes(conn, rollups) if bulk
             else upsert_minutes(conn, self.db.dialect, rollups))
        trim_results(conn, self._due_for_trim(written), self.keep_results)

    def remember(self, written: Iterable[Outcome]) -> None:
        """``written`` is committed: its states (and versions) are now the rows', so a later
        read need not decode them again (the last outcome of a check wins)."""
        for outcome in written:
            claim = outcome.claim
            self._states[claim.check_id] = (claim.version + 1, claim.created_at,
                                            outcome.transition.state)

    @staticmethod
    def _write_states(conn: Any, groups: list[tuple[list[Outcome], Any, list[dict[str, Any]]]],
                      report: WriteReport) -> None:
        """Update the state rows (compare-and-set on version) with one executemany per shape;
        if any row lost, redo that shape row by row to learn which. Fills ``report``."""
        for group, stmt, params in groups:
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

    def _due_for_trim(self, written: list[Outcome]) -> list[int]:
        """Checks written ``trim_every`` times since their last trim (their results are then
        cut back to ``keep_results``; up to ``keep_results + trim_every`` are kept between)."""
        due: dict[int, None] = {}  # once each, in order, however many results a check had
        for outcome in written:
            cid = outcome.claim.check_id
            self._writes_since_trim[cid] += 1
            if self._writes_since_trim[cid] >= self.trim_every:
                self._writes_since_trim[cid] = 0
                due[cid] = None
        return list(due)

    # ---- rollups and pruning (the background job; see checks.rollups) ----------------------

    def roll_up(self, now: datetime) -> None:
        """Recompute recent hour and day buckets from minute and hour rows (idempotent)."""
        roll_up(self.db, now)

    def prune(self, now: datetime) -> dict[str, int]:
        """Delete results beyond ``keep_results`` per check and rollups beyond retention."""
        return prune(self.db, now, self.keep_results)


def poller_verdict(session: Any, now: datetime) -> GuardVerdict:
    """The probe guard's verdict (:func:`checks.guard.assess_poller`) from the latest result of
    each enabled reference check, each fresh for its own interval and timeout; read by the
    engine (to rewrite and mute) and by the incident jobs (the one "poller offline" incident).
    """
    rows = session.execute(
        select(Check.slug, Check.interval, Check.timeout, CheckStateRow.last_status,
               CheckStateRow.last_message, CheckStateRow.last_result_at)
        .outerjoin(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(Check.guard_reference.is_(True), Check.enabled.is_(True))
    ).all()
    results: dict[str, Result | None] = {}
    fresh_for: dict[str, timedelta] = {}
    for slug, interval, timeout, status, message, at in rows:
        results[slug] = (None if status is None or at is None
                         else Result(Status[status], message or "", at))
        fresh_for[slug] = timedelta(seconds=float(interval) + float(timeout))
    return assess_poller(results, now, fresh_for=fresh_for)


def _insert(db: Database) -> Any:
    return postgresql.insert if db.dialect == "postgresql" else sqlite.insert


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
    "parent_is_down",
    "policy_of",
    "poller_verdict",
]
