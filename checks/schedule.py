"""When checks run: a stable per-check phase inside the interval, so 5,000 checks do not all fire
at :00 (no thundering herd), plus the UTC guard every time-taking decision uses.

Each check's runs sit on a fixed grid of *slots*::

    slot_k = epoch + k * interval + phase(check_id, interval)

``phase`` comes from a cryptographic hash of the check id (not Python's per-process ``hash()``),
so it is the same in every worker process and after every restart, and ids spread evenly over the
interval. Because slots are anchored to the Unix epoch, a check keeps its rhythm whatever the
process start time, and a run that took long does not push later runs (no drift).

All functions are pure: they take ``now`` and return datetimes (timezone-aware UTC).
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone reached a decision that needs an unambiguous instant."""


class ScheduleError(ValueError):
    """Bad scheduling input (interval, check id); the message names the field and value."""


def ensure_utc(value: datetime, name: str) -> datetime:
    """Return ``value`` converted to UTC; raise :class:`NaiveDatetimeError` if it is naive.

    ``name`` is the field or argument the caller checks, so the error reads
    "now must be timezone-aware (UTC), got naive 2024-03-10 02:30:00".
    """
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # the usual case, and the cheapest check (called several times per run)
    if not isinstance(value, datetime):
        raise NaiveDatetimeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{name} must be timezone-aware (UTC), got naive {value}")
    return value.astimezone(UTC)


def _interval_us(interval: float) -> int:
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ScheduleError(f"interval must be a number of seconds, got {interval!r}")
    if not math.isfinite(interval) or interval <= 0:
        raise ScheduleError(f"interval must be a positive number of seconds, got {interval!r}")
    micros = round(interval * _US)
    if micros < 1:
        raise ScheduleError(f"interval must be at least 1 µs, got {interval!r}")
    return micros


def _check_key(check_id: str | int) -> bytes:
    text = str(check_id)
    if not text:
        raise ScheduleError("check_id must not be empty")
    return text.encode("utf-8")


def _phase_us(check_id: str | int, interval_us: int) -> int:
    digest = hashlib.blake2b(_check_key(check_id), digest_size=8, person=b"dutydesk-phase").digest()
    fraction = int.from_bytes(digest, "big")  # uniform in [0, 2**64)
    return (fraction * interval_us) >> 64  # uniform in [0, interval_us)


def _to_us(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _from_us(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def phase_offset(check_id: str | int, interval: float) -> float:
    """Seconds in ``[0, interval)`` by which this check's slots are offset from the epoch grid.

    Stable for a given (check id, interval) across processes and restarts.
    """
    interval_us = _interval_us(interval)
    return _phase_us(check_id, interval_us) / _US


def slot_at_or_after(check_id: str | int, interval: float, at: datetime) -> datetime:
    """The first slot of this check at or after ``at``."""
    at_us = _to_us(ensure_utc(at, "at"))
    interval_us = _interval_us(interval)
    phase = _phase_us(check_id, interval_us)
    k = -((phase - at_us) // interval_us)  # ceil((at - phase) / interval) in exact integers
    return _from_us(k * interval_us + phase)


def next_due(
    check_id: str | int, interval: float, last_run: datetime | None, now: datetime,
    not_before: datetime | None = None,
) -> datetime:
    """When this check should run next.

    - Never run (``last_run is None``): its first slot at or after ``now`` (a fresh fleet of checks
      starts spread out, not all at once).
    - Otherwise: the first slot strictly after ``last_run``. If that slot is already in the past
      (the worker was down or overloaded), the first slot at or after ``now``: missed runs are
      skipped, not caught up in a burst, and the phase spread is kept.
    - ``not_before``: the slot is at or after it. The engine passes the run's start plus half
      an interval, so a run that started late (an overloaded or resumed worker) is not followed
      by another a moment later: two runs of a check are never closer than half its interval.
    """
    now = ensure_utc(now, "now")
    if not_before is not None:
        now = max(now, ensure_utc(not_before, "not_before"))
    if last_run is None:
        return slot_at_or_after(check_id, interval, now)
    last_run = ensure_utc(last_run, "last_run")
    after_last = slot_at_or_after(check_id, interval, last_run + timedelta(microseconds=1))
    if after_last >= now:
        return after_last
    return slot_at_or_after(check_id, interval, now)



#: Seconds a lease leaves after a run's hard timeout for its result to be written (the engine
#: flushes every fraction of a second; this covers a slow commit).
WRITE_GRACE = 2.0
#: The claim-ahead window: workers claim a check up to this many seconds before its slot
#: (``EngineConfig.horizon``, the default of ``claim_ahead`` below). Every worker of one
#: database must use the same window: a lease is as good as lost that long before it ends.
CLAIM_AHEAD = 2.0
#: Seconds a late run keeps clear of half an interval before a takeover: two workers' clocks
#: agree to within half the round trip of their last sample (0.25 s, see
#: ``dutydesk.core.dbclock``) and a request leaves a little after its gate.
START_MARGIN = 0.5


def lease_until(due_at: datetime, now: datetime, interval: float, timeout: float,
                claim_ahead: float = CLAIM_AHEAD) -> datetime:
    """Until when a claim of a check due at ``due_at`` (claimed at ``now``) is its worker's.

    The lease ends AT the check's next slot: ``max(due_at, now) + interval``. Other workers
    claim ``claim_ahead`` seconds before a lease ends, as they claim any due check, and run it
    at the lease's end: when the holder dies (killed, paused, its machine gone) its check misses
    one run and runs again on its next slot — never more than one interval late — and the
    takeover is not an extra run. A run may take its whole ``timeout`` and ``WRITE_GRACE`` to
    be written before the others may claim, so the lease never ends before ``timeout +
    WRITE_GRACE + claim_ahead`` after the slot (only a check whose timeout is within that of
    its interval is taken over later than its next slot). Claims are made ahead of the slot,
    so the lease counts from the slot, not from the claim.

    The holder may start its run only while the takeover is at least half an interval away
    (:func:`may_start`): a late start (a busy machine) and the takeover never probe a target
    twice within half an interval. A run that starts that late and is still being written
    when the others claim is refused by the fencing token; the takeover runs on the slot.
    """
    start = max(ensure_utc(due_at, "due_at"), ensure_utc(now, "now"))
    return start + timedelta(seconds=max(interval, timeout + WRITE_GRACE + claim_ahead))


def may_start(lease: datetime, now: datetime, claim_ahead: float = CLAIM_AHEAD, *,
              interval: float) -> bool:
    """Whether a run may still start at ``now`` under a claim leased until ``lease``.

    Other workers claim ``claim_ahead`` seconds ahead of a slot, so a lease is as good as lost
    that long before it ends: a worker that was paused (SIGSTOP, a frozen VM) or starved past
    that point drops the run instead of probing the target a second time; the check is another
    worker's by then (or is given back, see ``CheckStore.release``).

    A takeover runs at the lease's end, so a holder's run must also start at least half the
    check's ``interval`` (and ``START_MARGIN``) before it: two probes of one target are never
    closer than that (the same promise :func:`next_due` keeps with ``not_before``). With the
    lease of :func:`lease_until` a holder may still start up to half an interval (less the
    margin) after its slot."""
    keep = max(claim_ahead, interval / 2 + START_MARGIN)
    return ensure_utc(now, "now") <= ensure_utc(lease, "lease") - timedelta(seconds=keep)
