"""The visitor log's periodic jobs (listed in ``dutydesk.jobs.scheduled_jobs``).

Daily retention (rule 6): deactivate authorised persons with no visit in
``visitors.deactivate_after_days`` and anonymise visits and requests older than
``visitors.purge_after_days`` (see ``service.policies_from_settings`` for the settings section).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dutydesk.db import Database, utcnow

from .retention import RetentionPolicy
from .service import RetentionReport, policies_from_settings, run_retention

if TYPE_CHECKING:
    from dutydesk.config import Settings
    from dutydesk.jobs import Job

log = logging.getLogger("dutydesk.visitors")
RETENTION_ACTOR = "system: visitor retention"


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
        )
    ]
