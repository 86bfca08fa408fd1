"""Bounded history for ``alerts_received``: every alert as it arrived is kept for
``DUTYDESK_ALERT_RETENTION_DAYS`` and then deleted by a periodic job (``incident_jobs``).

- A row whose incident is still open is kept whatever its age: it is that incident's evidence
  (an incident that has been firing for weeks keeps every alert that fed it). Once the incident
  is resolved its old rows go at the next run; its timeline, which is the record, stays.
- Deletion runs in batches of ``batch_size`` rows, each in its own short transaction, so the
  job never holds SQLite's single write lock (or a long PostgreSQL transaction) for long, and at
  most ``max_batches`` per run, so one run after a long outage stays bounded too; the next run
  continues where it stopped.
- Each batch is one ``DELETE … WHERE id IN (SELECT … LIMIT n)`` that re-checks the age and the
  incident's state itself, so two workers running the job at once cannot delete anything the
  rules keep (they just share the work), and an incident reopened a moment ago keeps its rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect, delete, exists, select

from dutydesk.core.db import Database
from dutydesk.core.timeutil import ensure_utc
from dutydesk.incidents.models import AlertReceived, Incident

log = logging.getLogger("dutydesk.incidents")

BATCH_SIZE = 1000
MAX_BATCHES = 100  # per run: 100,000 rows, then the next run goes on


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one run deleted; ``complete`` is False when it stopped at ``max_batches``."""

    deleted: int
    batches: int
    complete: bool


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Rows received before this instant are past retention (``days`` >= 1, ``now`` aware)."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"alert retention must be a whole number of days >= 1, got {days!r}")
    return ensure_utc(now, "now") - timedelta(days=days)


def _batch_ids(cutoff: datetime, batch_size: int) -> ScalarSelect[int]:
    """The ids of the oldest rows past ``cutoff`` whose incident is not open (a subquery)."""
    incident_open = exists().where(
        Incident.id == AlertReceived.incident_id, Incident.status != "resolved"
    )
    return (
        select(AlertReceived.id)
        .where(AlertReceived.received_at < cutoff, ~incident_open)
        .order_by(AlertReceived.received_at, AlertReceived.id)
        .limit(batch_size)
        .scalar_subquery()
    )


def purge_alerts_received(
    db: Database,
    *,
    days: int,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    max_batches: int = MAX_BATCHES,
) -> PurgeReport:
    """Delete received alerts older than ``days`` before ``now`` (see the module docstring)."""
    if batch_size < 1 or max_batches < 1:
        raise ValueError(
            f"batch_size and max_batches must be at least 1, got {batch_size} and {max_batches}"
        )
    cutoff = retention_cutoff(now, days)
    deleted = 0
    for batch in range(1, max_batches + 1):
        with db.session() as s:
            result = s.execute(
                delete(AlertReceived)
                .where(AlertReceived.id.in_(_batch_ids(cutoff, batch_size)))
                .execution_options(synchronize_session=False)
            )
            count = result.rowcount
        deleted += count
        if count < batch_size:
            return PurgeReport(deleted=deleted, batches=batch, complete=True)
    return PurgeReport(deleted=deleted, batches=max_batches, complete=False)


def purge_once(db: Database, days: int, now: datetime) -> PurgeReport:
    """The job's body: one run, logged when it deleted something."""
    report = purge_alerts_received(db, days=days, now=now)
    if report.deleted:
        log.info(
            "received alerts past retention deleted",
            extra={
                "deleted": report.deleted,
                "batches": report.batches,
                "complete": report.complete,
                "retention_days": days,
            },
        )
    return report
