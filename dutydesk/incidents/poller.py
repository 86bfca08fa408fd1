"""The one "poller offline" incident (see :mod:`checks.guard`).

When every reference target fails at once, the poller itself has most likely lost the network.
The engine then marks every check's flips ``muted_by="poller_offline"`` (the checks show
UNKNOWN with the reason, and raise no incident each); this module raises the one incident that
says what is really wrong, and resolves it when the guard sees a reference target again.

The verdict is the engine's own (``checks.store.poller_verdict``); the last alert this module
sent (the ``alerts_received`` audit row of its key) tells whether the verdict changed, so the
incident is raised once per outage and not again after a person resolved it by hand.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from checks.guard import GuardVerdict
from dutydesk.core.config import Settings
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import AlertReceived
from dutydesk.incidents.pipeline import PipelineMetrics, process_alerts

POLLER_KEY = "poller:offline"


def poller_alert(verdict: GuardVerdict, last_sent: str | None, now: datetime) -> Alert | None:
    """The alert to send now, if the verdict changed since the last one sent (``last_sent`` is
    "firing", "resolved" or None): firing when the poller went offline, resolved when a
    reference target answers again (or the guard was switched off). Undecided: nothing."""
    if verdict.offline and last_sent != AlertStatus.FIRING.value:
        return Alert(source=AlertSource.CHECK, dedup_key=POLLER_KEY, status=AlertStatus.FIRING,
                     starts_at=now, summary=verdict.reason[:1024], severity=Severity.CRITICAL,
                     labels={"check": "poller", "alertname": "PollerOffline"},
                     details={"impact": 1})
    if not verdict.offline and verdict.decided and last_sent == AlertStatus.FIRING.value:
        return Alert(source=AlertSource.CHECK, dedup_key=POLLER_KEY,
                     status=AlertStatus.RESOLVED, starts_at=now, ends_at=now,
                     summary=f"poller back online ({verdict.reason})"[:1024],
                     labels={"check": "poller", "alertname": "PollerOffline"})
    return None


def raise_poller_incident(session: Session, settings: Settings, *, now: datetime,
                          metrics: PipelineMetrics | None = None) -> bool:
    """Send the poller alert through the pipeline when the guard's verdict changed; True if
    one was sent. Cheap when nothing changed: the reference states and one audit row."""
    from checks.store import poller_verdict

    verdict = poller_verdict(session, now)
    last_sent = session.scalar(
        select(AlertReceived.status).where(AlertReceived.dedup_key == POLLER_KEY)
        .order_by(AlertReceived.id.desc()).limit(1))
    alert = poller_alert(verdict, last_sent, now)
    if alert is None:
        return False
    process_alerts(session, [alert], settings=settings, now=now, metrics=metrics)
    return True
