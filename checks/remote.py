"""Results made elsewhere (a remote probe), judged here in the order they were made.

A remote probe runs the same probes (:func:`checks.probes.run_probe`) as the engine; the centre
judges each result with the same :func:`checks.state.next_state` and writes it with the same
:meth:`checks.store.CheckStore.write_in` (state compare-and-set on version, result row, flips,
minute rollup). The only difference is time: a result replayed after a link outage is judged
*as of when it was made* (its start plus its duration), so a problem that started and ended
during the outage leaves the same flips, at the same times, as if there had been no outage.

The caller owns the transaction (it records the probe's sequence numbers in the same one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from checks.dependencies import down_parents
from checks.locations import record_and_combine, several
from checks.maintenance import active_window
from checks.models import Check, CheckStateRow
from checks.policy import CheckPolicy
from checks.result import Result
from checks.state import CheckState, next_state
from checks.store import CheckStore, Claim, Outcome, WriteReport, _state_of, policy_of
from checks.windows import WindowIndex, windows_for


class RemoteConflict(RuntimeError):
    """A state row changed under the batch (another writer): the caller rolls back, retries."""


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """One result of a remote probe for the check ``check_id``."""

    check_id: int
    result: Result


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
    rows = {check.id: (check, state) for check, state in s.execute(
        select(Check, CheckStateRow).join(CheckStateRow, CheckStateRow.check_id == Check.id)
        .where(Check.id.in_(ids)))}
    parents = down_parents(s, list(rows))
    current: dict[int, tuple[int, CheckState]] = {
        cid: (state.version, _state_of(state.state)) for cid, (_c, state) in rows.items()}
    outcomes: list[Outcome] = []
    combined = several(s, list(rows)) if location is not None else set()

    for item in results:
        found = rows.get(item.check_id)
        if found is None:
            continue
        check, state_row = found
        version, state = current[check.id]
        result = item.result
        at = result.started_at + timedelta(seconds=result.duration)
        if check.id in combined:
            result = record_and_combine(s, check, location, result, at)
        try:
            policy = policy_of(check)
        except ValueError:  # as the engine: a bad stored policy must not stop the check
            policy = CheckPolicy()
        in_windows = windows_for(windows, check.id, check.group_id, check.site_id)
        transition = next_state(state, result, policy, at,
                                parents_down=bool(parents.get(check.id)),
                                in_maintenance=bool(in_windows)
                                and active_window(in_windows, at) is not None)
        claim = Claim(check_id=check.id, slug=check.slug, type=check.type,
                      spec=dict(check.spec or {}), policy=policy, timeout=check.timeout,
                      group_id=check.group_id, updated_at=check.updated_at,
                      created_at=check.created_at, due_at=state_row.next_due_at,
                      version=version, state=state, parents_down=bool(parents.get(check.id)),
                      lease=at, site_id=check.site_id)
        outcomes.append(Outcome(claim, result, transition,
                                at + timedelta(seconds=policy.interval)))
        current[check.id] = (version + 1, state if transition.stale else transition.state)
    report = store.write_in(s, outcomes, WriteReport())
    if report.conflicts:
        raise RemoteConflict(f"{report.conflicts} check states changed during the batch")
    return report


__all__ = ["RemoteConflict", "RemoteResult", "judge_in_order", "windows_for"]
