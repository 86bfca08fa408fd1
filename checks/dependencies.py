"""When does a parent count as down? One definition, used by the check store (children become
UNREACHABLE) and by the alert pipeline's parent-down muter.

As Icinga 2's dependency ``states``: a check names the parent statuses in which its parents
count as *up*; the default is OK and WARNING, so a WARNING parent (a slow switch) does not hide
its children's own CRITICAL. A parent counts as down only while its problem is confirmed (HARD)
and its status is not one of the child's up states; a parent never checked (PENDING) is up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from checks.result import Status

DEFAULT_PARENT_UP_STATES: tuple[str, ...] = ("OK", "WARNING")


def parse_up_states(value: object) -> tuple[str, ...]:
    """Validate a check's ``parent_up_states`` (a list of status names; None = the default).

    Raises ValueError with a message a person understands. OK is always an up state: a parent
    that is fine can never make its children unreachable.
    """
    if value is None:
        return DEFAULT_PARENT_UP_STATES
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, list | tuple):
        raise ValueError(f"parent_up_states must be a list of OK, WARNING, CRITICAL, UNKNOWN, "
                         f"got {value!r}")
    names: list[str] = []
    for item in value:
        name = str(item).strip().upper()
        if name not in Status.__members__:
            raise ValueError(f"parent_up_states: {item!r} is not a status; allowed: OK, "
                             f"WARNING, CRITICAL, UNKNOWN")
        if name not in names:
            names.append(name)
    if "OK" not in names:
        raise ValueError("parent_up_states must include OK (a parent that is OK is up)")
    return tuple(s.name for s in Status if s.name in names)


def parent_is_down(state_type: str | None, last_status: str | None,
                   up_states: Sequence[str] | None = None) -> bool:
    """True while the parent's problem is confirmed (HARD) and its status is not an up state
    of the child (``up_states``; None = OK and WARNING)."""
    if state_type != "HARD" or last_status is None:
        return False
    return last_status not in (up_states or DEFAULT_PARENT_UP_STATES)


def down_parents(session: Any, child_ids: Iterable[int] | None = None) -> dict[int, list[int]]:
    """The parents that are down for each child (only children with at least one), read in one
    query. ``child_ids=None`` reads every dependency (the pipeline's muter)."""
    from checks.binds import id_in
    from checks.models import Check, CheckDependency, CheckStateRow

    query = (
        select(CheckDependency.child_id, CheckDependency.parent_id, CheckStateRow.state_type,
               CheckStateRow.last_status, Check.parent_up_states)
        .join(CheckStateRow, CheckStateRow.check_id == CheckDependency.parent_id)
        .join(Check, Check.id == CheckDependency.child_id)
    )
    if child_ids is not None:
        ids = list(child_ids)
        if not ids:
            return {}
        query = query.where(id_in(session, CheckDependency.child_id, ids))
    down: dict[int, list[int]] = {}
    for child, parent, state_type, last_status, up_states in session.execute(query):
        try:
            states = parse_up_states(up_states)
        except ValueError:
            states = DEFAULT_PARENT_UP_STATES  # validated on the way in; never stop the engine
        if parent_is_down(state_type, last_status, states):
            down.setdefault(child, []).append(parent)
    return down
