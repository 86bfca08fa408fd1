"""Results made elsewhere (a remote probe), judged here in the order they were made.

A remote probe runs the same probes (:func:`checks.probes.run_probe`) as the engine; the centre
judges each result with the same :func:`checks.state.next_state` and writes it with the same
statements as the engine (:mod:`checks.store_sql`: state compare-and-set on version, result
row, flips, minute rollup). The only difference is time: a result replayed after a link outage
is judged *as of when it was made* (its start plus its duration), so a problem that started and
ended during the outage leaves the same flips, at the same times, as if there had been no
outage.

A batch is written with few round trips, whatever its size: every result is judged in order
(each flip at its own time), but each check's state row is updated ONCE, to the state its last
result leaves, compare-and-set on the version it had before the batch and moved on by the
number of its results (the version a result-by-result write would leave). Result rows, flips
and minute rollups go in one executemany each (:meth:`checks.store.CheckStore.write_history`).
States are read as plain columns and decoded only when the store has not seen that version.

A check watched from several locations (:mod:`checks.locations`): each result is kept as its
location's latest and the combination (k of n fresh locations) is what is judged; a check with
one location is judged from its result as it is. Maintenance windows are the check's, its
groups' and its whole site's (:func:`checks.windows.windows_for`).

The caller owns the transaction (it records the probe's sequence numbers in the same one) and
calls :meth:`checks.store.CheckStore.remember` with ``report.written`` once it committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from checks import store_pg
from checks.binds import id_in
from checks.dependencies import down_parents
from checks.locations import record_and_combine, several
from checks.maintenance import active_window
from checks.models import Check, CheckStateRow
from checks.result import Result
from checks.state import next_state
from checks.store import CheckStore, Claim, Outcome, WriteReport
from checks.store_sql import WRITE_STALE, WRITE_STATE, state_params
from checks.windows import WindowIndex, windows_for


class RemoteConflict(RuntimeError):
    """A state row changed under the batch (another writer): the caller rolls back, retries."""


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """One result of a remote probe for the check ``check_id``."""

    check_id: int
    result: Result


def _rows(s: Any, store: CheckStore, ids: list[int]) -> dict[int, Any]:
    """The checks' scheduling columns and state versions (plain columns, no JSON)."""
    c, st = Check.__table__.c, CheckStateRow.__table__.c
    rows: dict[int, Any] = {}
    for start in range(0, len(ids), 1000):
        rows.update((row.id, row) for row in s.execute(
            select(c.id, c.slug, c.type, c.interval, c.retry_interval, c.max_attempts,
                   c.flap_detection, c.flap_low_threshold, c.flap_high_threshold,
                   c.flap_history_states, c.timeout, c.group_id, c.site_id, c.run_at_centre,
                   c.min_locations_down, c.updated_at, c.created_at, st.next_due_at, st.version)
            .join(CheckStateRow.__table__, st.check_id == c.id)
            .where(id_in(s, c.id, ids[start:start + 1000]))))
    return rows


def collapsed_state_writes(outcomes: Sequence[Outcome]) -> list[tuple[Any, list[dict[str, Any]]]]:
    """One state-row update per check for ``outcomes`` (several per check, in order, versions
    chained ``v, v+1, ...``): the values the check's last outcome leaves (its last non-stale
    one's state and result), compare-and-set on the first outcome's version, the version moved
    to the last one's ``+ 1``. Returned as (statement, params) executemany groups."""
    first: dict[int, Outcome] = {}
    last: dict[int, Outcome] = {}
    judged: dict[int, Outcome] = {}  # the last outcome that was not stale
    for outcome in outcomes:
        cid = outcome.claim.check_id
        first.setdefault(cid, outcome)
        last[cid] = outcome
        if not outcome.transition.stale:
            judged[cid] = outcome
    full: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    for cid, end in last.items():
        params = state_params(judged.get(cid, end))
        params.update(b_version=first[cid].claim.version, b_next_due=end.next_due_at,
                      b_new_version=end.claim.version + 1)
        (full if cid in judged else stale).append(params)
    return [(stmt, params) for stmt, params in ((WRITE_STATE, full), (WRITE_STALE, stale))
            if params]


def judge_in_order(s: Any, store: CheckStore, results: Sequence[RemoteResult],
                   windows: WindowIndex, location: str | None = None) -> WriteReport:
    """Judge ``results`` (in the order given) and write them in the transaction ``s``.

    ``location`` (``probe:<id>``): where they were made; a result of a check with several
    locations is kept as that location's and the combination is judged (``checks.locations``).

    Results of checks that no longer exist are skipped. Raises :class:`RemoteConflict` when a
    state row was changed by someone else meanwhile (nothing of the batch may then be kept)."""
    ids = sorted({r.check_id for r in results})
    if not ids:
        return WriteReport()
    rows = _rows(s, store, ids)
    known = store.known(s, list(rows.values()))
    rows = {cid: row for cid, row in rows.items() if cid in known}  # deleted meanwhile
    parents = down_parents(s, list(rows))
    current = {cid: (row.version, known[cid][1]) for cid, row in rows.items()}
    in_windows = {cid: windows_for(windows, cid, row.group_id, row.site_id)
                  for cid, row in rows.items()}
    # a bad stored policy falls back to the default's (as the engine does)
    policies = {cid: store.policy(row) for cid, row in rows.items()}
    outcomes: list[Outcome] = []
    combined = several(s, list(rows)) if location is not None else set()
    for item in results:
        row = rows.get(item.check_id)
        if row is None:
            continue
        cid = row.id
        version, state = current[cid]
        result = item.result
        at = result.started_at + timedelta(seconds=result.duration)
        if cid in combined:  # one of several locations: the combination is judged
            result = record_and_combine(s, row, location, result, at)
        policy = policies[cid]
        transition = next_state(state, result, policy, at,
                                parents_down=bool(parents.get(cid)),
                                in_maintenance=bool(in_windows[cid])
                                and active_window(in_windows[cid], at) is not None)
        claim = Claim(check_id=cid, slug=row.slug, type=row.type, spec=known[cid][0],
                      policy=policy, timeout=row.timeout, group_id=row.group_id,
                      updated_at=row.updated_at, created_at=row.created_at,
                      due_at=row.next_due_at, version=version, state=state,
                      parents_down=bool(parents.get(cid)), lease=at, site_id=row.site_id)
        outcomes.append(Outcome(claim, result, transition,
                                at + timedelta(seconds=policy.interval)))
        current[cid] = (version + 1, state if transition.stale else transition.state)
    conn = s.connection()
    for stmt, params in collapsed_state_writes(outcomes):
        changed = (store_pg.update_states(conn, params, stale=stmt is WRITE_STALE)
                   if store.db.dialect == "postgresql" else conn.execute(stmt, params).rowcount)
        if changed != len(params):
            raise RemoteConflict("a check's state changed during the batch")
    store.write_history(conn, outcomes)
    return WriteReport(written=outcomes)


__all__ = ["RemoteConflict", "RemoteResult", "collapsed_state_writes", "judge_in_order",
           "windows_for"]
