"""The visitor log's periodic jobs (listed in ``dutydesk.jobs.scheduled_jobs``).

Daily retention (rule 6): deactivate authorised persons with no visit in
``visitors.deactivate_after_days`` and anonymise visits and requests older than
``visitors.purge_after_days`` (see ``service.policies_from_settings`` for the settings section).

No-shows (every 15 minutes): people on approved requests whose window ended without them
arriving are recorded as no-shows (``attendance.mark_no_shows``), audited.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dutydesk.core.db import Database, utcnow

from .attendance import mark_no_shows
from .purge import RetentionReport, run_retention
from .retention import RetentionPolicy
from .settings import policies_from_settings

if TYPE_CHECKING:
    from dutydesk.core.config import Settings
    from dutydesk.jobs import Job

log = logging.getLogger("dutydesk.visitors")
RETENTION_ACTOR = "system: visitor retention"
NO_SHOW_ACTOR = "system: visitor no-shows"


def retention_once(db: Database, policy: RetentionPolicy) -> RetentionReport:
    """One retention run in its own transaction, as of now."""
    with db.session() as session:
        report = run_retention(session, RETENTION_ACTOR, policy=policy, now=utcnow())
    log.info(
        "visitor retention",
        extra={
            "deactivated": report.deactivated,
            "visits_purged": report.visits_purged,
            "requests_purged": report.requests_purged,
        },
    )
    return report


def no_shows_once(db: Database) -> int:
    """Record the no-shows of request windows that have ended, as of now; returns how many."""
    with db.session() as session:
        marked = len(mark_no_shows(session, NO_SHOW_ACTOR, now=utcnow()))
    if marked:
        log.info("visitor no-shows", extra={"marked": marked})
    return marked


def visitor_jobs(settings: Settings, db: Database) -> list[Job]:
    """The visitor jobs; a bad ``visitors`` settings section fails here, at worker start."""
    from dutydesk.jobs import Job

    _site, retention = policies_from_settings(settings.extra.get("visitors"), settings.timezone)
    return [
        Job(
            id="visitor-retention",
            name="visitor log: deactivate idle authorisations, purge old personal data",
            func=lambda: retention_once(db, retention),
            trigger="cron",
            trigger_args={"hour": 3, "minute": 17},
        ),
        Job(
            id="visitor-no-shows",
            name="visitor log: record no-shows of ended access request windows",
            func=lambda: no_shows_once(db),
            trigger_args={"minutes": 15},
        ),
    ]
