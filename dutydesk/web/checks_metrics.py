"""Per-check gauges on the web app's ``/metrics``, read from ``check_states`` at scrape time.

The web process never runs probes, so it cannot keep gauges up to date itself; instead a custom
collector reads the current state of every check in ONE query per scrape (plus one count of
unprocessed flips). Names follow blackbox_exporter where one exists (``probe_success``,
``probe_duration_seconds``) and the ``dutydesk_`` namespace otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from checks.models import Check, CheckGroup, CheckStateRow, FlipRow
from dutydesk.core.db import Database

log = logging.getLogger("dutydesk.metrics.checks")
#: Status of the last result as a number, as Nagios exit codes.
STATUS_VALUE = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "state": GaugeMetricFamily(
            "dutydesk_check_state",
            "Status of the check's last result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN "
            "(checks that never ran are left out)", labels=["check", "group"]),
        "success": GaugeMetricFamily(
            "probe_success", "1 if the check's last result was OK", labels=["check"]),
        "duration": GaugeMetricFamily(
            "probe_duration_seconds", "Duration of the check's last probe", labels=["check"]),
        "attempt": GaugeMetricFamily(
            "dutydesk_check_attempt", "Current attempt of max_attempts (1 while OK)",
            labels=["check"]),
        "hard": GaugeMetricFamily(
            "dutydesk_check_hard", "1 if the check's state is HARD (confirmed), 0 while SOFT",
            labels=["check"]),
        "maintenance": GaugeMetricFamily(
            "dutydesk_check_in_maintenance", "1 while a maintenance window covers the check",
            labels=["check"]),
        "flapping": GaugeMetricFamily(
            "dutydesk_check_flapping", "1 while the check is flapping", labels=["check"]),
        "flips": GaugeMetricFamily(
            "dutydesk_flips_unprocessed",
            "State changes written by the engine and not yet taken by the alert pipeline"),
    }


class CheckStateCollector(Collector):
    """Yields the per-check gauges of every enabled check from the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> Iterator[Any]:
        # Declared without samples so registering does not touch the database.
        yield from _families().values()

    def collect(self) -> Iterator[Any]:
        families = _families()
        try:
            with self.db.read_session() as s:
                rows = s.execute(
                    select(Check.slug, CheckGroup.path, CheckStateRow.last_status,
                           CheckStateRow.last_duration, CheckStateRow.attempt,
                           CheckStateRow.state_type, CheckStateRow.in_maintenance,
                           CheckStateRow.flapping)
                    .join(CheckStateRow, CheckStateRow.check_id == Check.id)
                    .outerjoin(CheckGroup, CheckGroup.id == Check.group_id)
                    .where(Check.enabled.is_(True))
                    .order_by(Check.slug)
                ).all()
                unprocessed = s.scalar(
                    select(func.count()).select_from(FlipRow)
                    .where(FlipRow.processed_at.is_(None))) or 0
        except SQLAlchemyError as exc:
            # A scrape must not fail as a whole because the database is away; the shell's own
            # metrics still go out and the missing series tell the story.
            log.warning("check metrics unavailable: %s", exc.__class__.__name__)
            return
        for slug, group, status, duration, attempt, state_type, maint, flapping in rows:
            if status in STATUS_VALUE:
                families["state"].add_metric([slug, group or ""], STATUS_VALUE[status])
                families["success"].add_metric([slug], 1.0 if status == "OK" else 0.0)
            if duration is not None:
                families["duration"].add_metric([slug], duration)
            families["attempt"].add_metric([slug], attempt or 1)
            families["hard"].add_metric([slug], 1.0 if state_type == "HARD" else 0.0)
            families["maintenance"].add_metric([slug], 1.0 if maint else 0.0)
            families["flapping"].add_metric([slug], 1.0 if flapping else 0.0)
        families["flips"].add_metric([], unprocessed)
        yield from families.values()


def register_check_metrics(registry: CollectorRegistry, db: Database) -> CheckStateCollector:
    """Add the collector to the app's registry (once per app)."""
    collector = CheckStateCollector(db)
    registry.register(collector)
    return collector
