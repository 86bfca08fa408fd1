"""Probe guard: do not paint the wall red for our own network outage.

The poller probes a few configured *reference targets* (e.g. the core router, the upstream
resolver, a public anycast address). If every one of them fails at the same time, the likeliest
explanation is that the poller itself lost the network, not that everything broke at once. Then
each check's CRITICAL (or UNKNOWN) result is rewritten to UNKNOWN "poller offline: all reference
targets unreachable", which keeps the real failure text in the message but does not raise a
CRITICAL problem flip for every check in the building.

Rules (:func:`assess_poller`):

- A reference target counts as *reachable* when its latest result is OK or WARNING (a slow
  answer is still an answer), as *failed* when CRITICAL or UNKNOWN.
- Only *fresh* results count: started within ``max_age`` before ``now``, or within the
  target's own ``fresh_for`` (its interval plus its timeout) when that is longer: a reference
  checked every 5 minutes is fresh for 5 minutes, not 2. A target without a
  fresh result leaves the guard undecided, and an undecided guard never declares the poller
  offline (better a red wall than hiding a real outage on stale evidence).
- The poller is offline only when at least ``min_targets`` targets are configured, all of them
  have fresh results, and all of them failed. ``min_targets`` defaults to 2: with a single
  reference, that one target's own outage would turn every real CRITICAL into UNKNOWN.

While the poller is offline there is ONE problem, the poller's: the engine marks every
check's flips ``muted_by="poller_offline"`` (no incident per check), and the incident jobs raise
a single "poller offline" incident from the same verdict (``dutydesk.incidents.poller``).

Do not pass the reference checks' own results through :func:`guard_result`; they are the
evidence. Pure: no I/O, ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from checks.result import Result, Status
from checks.schedule import ensure_utc

OFFLINE_MESSAGE = "poller offline: all reference targets unreachable"
#: ``Flip.muted_by`` of the flips judged while the poller is offline.
POLLER_OFFLINE = "poller_offline"
_REACHABLE = (Status.OK, Status.WARNING)


class GuardError(ValueError):
    """Bad guard settings; the message names the field and value."""


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """Whether the poller is offline, and why (for logs, metrics and the wall's banner)."""

    offline: bool
    reason: str
    failed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    #: False only while undecided (no fresh evidence): then nothing may change on its account.
    decided: bool = True


def assess_poller(
    reference_results: Mapping[str, Result | None],
    now: datetime,
    *,
    max_age: timedelta = timedelta(minutes=2),
    min_targets: int = 2,
    fresh_for: Mapping[str, timedelta] | None = None,
) -> GuardVerdict:
    """Decide from the latest result per reference target (``None`` = no result yet).

    ``fresh_for`` gives a target a longer freshness than ``max_age`` (its interval and
    timeout), so a reference checked less often than every ``max_age`` still counts."""
    now = ensure_utc(now, "now")
    if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
        raise GuardError(f"max_age must be a positive timedelta, got {max_age!r}")
    if isinstance(min_targets, bool) or not isinstance(min_targets, int) or min_targets < 1:
        raise GuardError(f"min_targets must be a whole number of at least 1, got {min_targets!r}")

    names = sorted(reference_results)
    if len(names) < min_targets:
        return GuardVerdict(
            False,
            f"guard off: {len(names)} reference target(s) configured, needs {min_targets}",
        )
    fresh: dict[str, Result] = {}
    for name in names:
        result = reference_results[name]
        allowed = max(max_age, (fresh_for or {}).get(name, max_age))
        if result is not None and ensure_utc(result.started_at, name) >= now - allowed:
            fresh[name] = result
    missing = tuple(name for name in names if name not in fresh)
    failed = tuple(name for name, r in fresh.items() if r.status not in _REACHABLE)
    reachable = len(fresh) - len(failed)
    if reachable:
        return GuardVerdict(
            False,
            f"online: {reachable} of {len(names)} reference targets reachable",
            failed,
            missing,
        )
    if missing:
        return GuardVerdict(
            False,
            f"undecided: no fresh result from {', '.join(missing)}; not declaring the poller "
            f"offline",
            failed,
            missing,
            decided=False,
        )
    return GuardVerdict(True, f"{OFFLINE_MESSAGE} ({', '.join(failed)})", failed, missing)


def guard_result(result: Result, verdict: GuardVerdict) -> Result:
    """Rewrite a CRITICAL/UNKNOWN ``result`` to UNKNOWN "poller offline ..." when the verdict
    says the poller is offline; return every other result unchanged. The original status and
    message are kept in the new message; timing, metrics and perfdata are kept as they were."""
    if not verdict.offline or result.status in _REACHABLE:
        return result
    said = f"{result.status.name}: {result.message}" if result.message else result.status.name
    return replace(result, status=Status.UNKNOWN, message=f"{OFFLINE_MESSAGE} (probe said {said})")
