"""Result batches from a probe: validated, stored once per (probe, sequence), judged in order.

The probe numbers its results 1, 2, 3... (gaps allowed: results it had to drop). The centre
keeps the highest number stored (``probes.last_seq``) and stores, in one transaction, the
results above it (in sequence order, through :func:`checks.remote.judge_in_order`) together
with the new highest number (compare-and-set on the old one). A batch sent again after a
timeout, or a probe killed after the centre committed and before it heard the answer, finds
its results at or below ``last_seq``: they are acknowledged and not stored twice. Concurrent
pushes of one probe: one wins the compare-and-set, the other rolls back and is told to retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from checks.locations import location_of_probe
from checks.remote import RemoteConflict, RemoteResult, judge_in_order
from checks.result import Result, Status
from checks.store import CheckStore
from dutydesk.core.audit import record
from dutydesk.core.db import Database
from dutydesk.sites.models import CheckProbe, Probe

MAX_BATCH = 5000
log = logging.getLogger("dutydesk.sites")


class BatchError(ValueError):
    """The batch is malformed (a 400; nothing is stored)."""


class BatchConflict(RuntimeError):
    """Another push of this probe committed meanwhile (a 409; the probe sends again)."""


@dataclass(frozen=True, slots=True)
class Ingested:
    acked: int  # the probe may forget every result up to this sequence number
    stored: int
    replayed: int  # results already stored before (acknowledged again, not stored)


def _when(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise BatchError("started_at must be an ISO 8601 time with offset")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise BatchError(f"started_at is not an ISO 8601 time: {value[:40]!r}") from None
    if at.tzinfo is None:
        raise BatchError("started_at must carry its UTC offset")
    return at


def parse_batch(payload: Any) -> tuple[list[tuple[int, RemoteResult]], dict[str, Any]]:
    """``{"results": [{"seq", "check_id", "status", "message", "started_at", "duration",
    "metrics"}], "dropped": n, "buffered": n, "version": "..."}`` -> sorted (seq, result) pairs
    and the probe's own figures. Raises :class:`BatchError` with what is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise BatchError("the body must be a JSON object with a list 'results'")
    items = payload["results"]
    if len(items) > MAX_BATCH:
        raise BatchError(f"at most {MAX_BATCH} results per batch, got {len(items)}")
    out: list[tuple[int, RemoteResult]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BatchError(f"result {i} must be an object")
        seq, check_id = item.get("seq"), item.get("check_id")
        if type(seq) is not int or not 0 < seq < 2**62:
            raise BatchError(f"result {i}: seq must be a positive integer")
        if type(check_id) is not int or not 0 < check_id < 2**62:
            raise BatchError(f"result {i}: check_id must be a positive integer")
        status = item.get("status")
        if status not in Status.__members__:
            raise BatchError(f"result {i}: status must be OK, WARNING, CRITICAL or UNKNOWN")
        duration = item.get("duration", 0.0)
        if type(duration) not in (int, float) or not 0 <= duration < 86400:
            raise BatchError(f"result {i}: duration must be 0..86400 seconds")
        metrics = item.get("metrics") or {}
        if not isinstance(metrics, dict) or not all(
                isinstance(k, str) and type(v) in (int, float) for k, v in metrics.items()):
            raise BatchError(f"result {i}: metrics must map names to numbers")
        message = item.get("message", "")
        if not isinstance(message, str):
            raise BatchError(f"result {i}: message must be text")
        result = Result(Status[status], message[:2000], _when(item.get("started_at")),
                        float(duration), {k: float(v) for k, v in list(metrics.items())[:50]})
        out.append((seq, RemoteResult(check_id, result)))
    out.sort(key=lambda pair: pair[0])
    seqs = [seq for seq, _ in out]
    if len(set(seqs)) != len(seqs):
        raise BatchError("a sequence number appears twice in the batch")
    figures = {}
    for key in ("dropped", "buffered"):
        value = payload.get(key, 0)
        if type(value) is not int or not 0 <= value < 2**31:
            raise BatchError(f"{key} must be a non-negative integer")
        figures[key] = value
    version = payload.get("version", "")
    figures["version"] = version[:40] if isinstance(version, str) else ""
    return out, figures


def ingest(db: Database, store: CheckStore, probe_id: int, payload: Any,
           now: datetime) -> Ingested:
    """Store the batch of probe ``probe_id`` once, in order (see the module docstring)."""
    pairs, figures = parse_batch(payload)
    store.ensure_states(now)  # a check created since the last engine refresh
    windows = store.maintenance_windows()
    try:
        with db.session() as s:
            probe = s.get(Probe, probe_id)
            if probe is None:
                raise BatchError("unknown probe")
            old = probe.last_seq
            mine = set(s.scalars(select(CheckProbe.check_id)
                                 .where(CheckProbe.probe_id == probe_id)))
            fresh = [(seq, r) for seq, r in pairs if seq > old]
            # A check taken from this probe meanwhile: its results are acknowledged, not kept.
            kept = [r for _seq, r in fresh if r.check_id in mine]
            report = judge_in_order(s, store, kept, windows,
                                    location_of_probe(probe_id))
            acked = max([old, *(seq for seq, _r in fresh)])
            changed = s.execute(
                update(Probe).where(Probe.id == probe_id, Probe.last_seq == old)
                .values(last_seq=acked, last_contact_at=now,
                        dropped_total=max(probe.dropped_total, figures["dropped"]),
                        buffer_depth=figures["buffered"],
                        version=figures["version"] or probe.version)
                .execution_options(synchronize_session=False)).rowcount
            if changed != 1:
                raise BatchConflict("another push of this probe was stored meanwhile")
            if figures["dropped"] > probe.dropped_total:
                lost = figures["dropped"] - probe.dropped_total
                log.warning("probe %s dropped %d results from its full buffer", probe.name, lost)
                record(s, f"probe:{probe.name}", "probe.dropped", "probe", probe_id,
                       summary=f"probe {probe.name} dropped {lost} results (buffer full or too "
                               f"old; {figures['dropped']} in all)")
    except RemoteConflict as exc:
        raise BatchConflict(str(exc)) from None
    store.remember(report.written)  # committed: the next batch need not decode these states
    return Ingested(acked=acked, stored=len(report.written), replayed=len(pairs) - len(fresh))


def touch(db: Database, probe_id: int, now: datetime) -> None:
    """Record that the probe was heard from (a pull of its checks counts)."""
    with db.session() as s:
        s.execute(update(Probe).where(Probe.id == probe_id).values(last_contact_at=now)
                  .execution_options(synchronize_session=False))
