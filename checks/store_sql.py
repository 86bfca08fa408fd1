"""The statements and row builders of the check engine's hot path (claims and batched writes),
built once at import; :mod:`checks.store` runs them. Timestamps bind through
:func:`checks.binds.utc_param`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, update

from checks.binds import utc_param
from checks.models import CheckResultRow, CheckStateRow, FlipRow
from checks.result import STATUS_NAME
from checks.rollups import add_to_rollup

if TYPE_CHECKING:
    from checks.store import Outcome


STATES = CheckStateRow.__table__


def _insert_of(table: Any, columns: str, timestamps: tuple[str, ...]) -> Any:
    """INSERT of ``columns`` bound by name; ``timestamps`` through the fast UTC binder."""
    return insert(table).values({
        name: utc_param(name) if name in timestamps else bindparam(name)
        for name in columns.split()})


INSERT_RESULT = _insert_of(CheckResultRow.__table__,
                           "check_id started_at status message duration metrics",
                           ("started_at",))
INSERT_FLIP = _insert_of(FlipRow.__table__,
                         "check_id kind old_status new_status reason at muted_by processed_at",
                         ("at", "processed_at"))
CLAIM = (
    update(STATES)
    .where(STATES.c.check_id == bindparam("b_id"), STATES.c.next_due_at == utc_param("b_seen"))
    .values(next_due_at=utc_param("b_lease"))
)
_STATE_COMMON = {"next_due_at": utc_param("b_next_due"), "version": bindparam("b_new_version"),
                 "updated_at": utc_param("b_updated")}
_STATE_FIELDS = ("state", "status", "state_type", "attempt", "flapping", "in_maintenance",
                 "last_result_at", "last_status", "last_message", "last_duration",
                 "last_metrics")
WRITE_STALE = (
    update(STATES)
    .where(STATES.c.check_id == bindparam("b_id"), STATES.c.version == bindparam("b_version"))
    .values(**_STATE_COMMON)
)
WRITE_STATE = WRITE_STALE.values(**{
    name: utc_param(f"b_{name}") if name == "last_result_at" else bindparam(f"b_{name}")
    for name in _STATE_FIELDS})


def history_rows(outcomes: list[Outcome]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                    list[dict[str, Any]]]:
    """The result rows, flip rows and minute rollup rows of ``outcomes``."""
    results: list[dict[str, Any]] = []
    flips: list[dict[str, Any]] = []
    rollups: dict[tuple[int, datetime], dict[str, Any]] = {}
    for outcome in outcomes:
        claim, result = outcome.claim, outcome.result
        results.append({
            "check_id": claim.check_id, "started_at": result.started_at,
            "status": STATUS_NAME[result.status], "message": result.message[:2000],
            "duration": result.duration, "metrics": dict(result.metrics),
        })
        for flip in outcome.transition.flips:
            flips.append({
                "check_id": claim.check_id, "kind": flip.kind.value,
                "old_status": flip.old_status.name if flip.old_status is not None else None,
                "new_status": flip.new_status.name, "reason": flip.reason[:4000],
                "at": flip.at, "muted_by": flip.muted_by, "processed_at": None,
            })
        add_to_rollup(rollups, claim.check_id, result)
    return results, flips, list(rollups.values())


def state_params(outcome: Outcome) -> dict[str, Any]:
    """The bound values of the state row update (``WRITE_STATE``, or ``WRITE_STALE`` for a
    stale result, which only moves the schedule and the version)."""
    claim, result, state = outcome.claim, outcome.result, outcome.transition.state
    params: dict[str, Any] = {
        "b_id": claim.check_id, "b_version": claim.version,
        "b_next_due": outcome.next_due_at, "b_new_version": claim.version + 1,
        "b_updated": state.last_check or result.started_at,
    }
    if not outcome.transition.stale:
        params.update(
            b_state=state.to_dict(), b_status=state.display_status,
            b_state_type=str(state.state_type), b_attempt=state.attempt,
            b_flapping=state.flapping, b_in_maintenance=state.in_maintenance,
            b_last_result_at=result.started_at, b_last_status=STATUS_NAME[result.status],
            b_last_message=result.message[:2000], b_last_duration=result.duration,
            b_last_metrics=dict(result.metrics),
        )
    return params
