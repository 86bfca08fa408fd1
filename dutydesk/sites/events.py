"""Facility events from a probe (traps, syslog heard at its site): stored once per (probe, seq).

The probe numbers its events 1, 2, 3... in a sequence of their own (``agent_inputs``); the
centre keeps the highest number stored (``probes.last_event_seq``). ``store_once`` hands the
numbers above it to ``work`` (the shell passes the facility pipeline,
``dutydesk.facility.remote.feed_events``) and moves the number up with a compare-and-set on the
old value, in the caller's transaction: a batch sent again after a timeout, or by a probe killed
after the centre committed and before it heard the answer, finds its events at or below the
number and is acknowledged without being fed twice. Two pushes of one probe at once: one wins
the compare-and-set, the other raises ``EventsConflict`` (the caller rolls back, answers 409, and
the probe sends again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from dutydesk.sites.models import Probe

T = TypeVar("T")


class EventsConflict(RuntimeError):
    """Another push of this probe's events committed meanwhile (a 409; the probe sends again)."""


@dataclass(frozen=True, slots=True)
class Stored:
    acked: int  # the probe may forget every event up to this sequence number
    fresh: int  # events fed now
    replayed: int  # events stored before (acknowledged again, not fed again)


def store_once(session: Session, probe_id: int, seqs: Sequence[int], now: datetime,
               work: Callable[[set[int]], T]) -> tuple[Stored, T]:
    """Call ``work(fresh sequence numbers)`` for the numbers above the probe's last stored one,
    then claim them (see the module docstring). The caller commits, or rolls back on an
    exception."""
    probe = session.get(Probe, probe_id)
    if probe is None:
        raise EventsConflict("unknown probe")
    old = probe.last_event_seq or 0
    fresh = {seq for seq in seqs if seq > old}
    done = work(fresh)
    acked = max([old, *fresh])
    changed = session.execute(
        update(Probe).where(Probe.id == probe_id, Probe.last_event_seq == old)
        .values(last_event_seq=acked, last_contact_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise EventsConflict("another push of this probe's events was stored meanwhile")
    return Stored(acked, len(fresh), len(seqs) - len(fresh)), done
