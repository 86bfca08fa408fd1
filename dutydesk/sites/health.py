"""Probe health is not target health.

A probe silent longer than its grace (``probes.grace_seconds`` after ``last_contact_at``)
becomes ONE "probe offline" incident for its site, through the one alert pipeline
(:func:`dutydesk.incidents.pipeline.process_alerts`), resolved when it is heard from again. Its
checks show UNKNOWN "no data from probe kyiv-dc2 since 10:42" (site time) meanwhile: only the
display columns of their state rows change, so no flip is written and no check incident opens;
when the probe replays its buffer, the results are judged from the state they really had (see
:mod:`dutydesk.sites.ingest`), and the display is theirs again.

As for the "poller offline" incident, the last alert sent for the probe's key (the
``alerts_received`` row) tells whether the verdict changed, so the incident is raised once per
outage and not again after a person resolved it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.dbclock import server_now
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.models import AlertReceived
from dutydesk.incidents.pipeline import PipelineMetrics, process_alerts
from dutydesk.sites.models import CheckProbe, Probe, Site


@dataclass(frozen=True, slots=True)
class ProbeSeen:
    """What the health decision needs of one probe."""

    id: int
    name: str
    site: str
    time_zone: str
    last_contact_at: datetime | None
    grace_seconds: float


def probe_key(probe_id: int) -> str:
    return f"probe:{probe_id}:offline"


def is_offline(probe: ProbeSeen, now: datetime) -> bool:
    """Silent past its grace (an enrolled probe never heard from counts from enrolment)."""
    return (probe.last_contact_at is not None
            and now - probe.last_contact_at > timedelta(seconds=probe.grace_seconds))


def since_label(probe: ProbeSeen) -> str:
    """"HH:MM" of the last contact in the site's time zone."""
    assert probe.last_contact_at is not None
    try:
        zone = ZoneInfo(probe.time_zone)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return probe.last_contact_at.astimezone(zone).strftime("%H:%M")


def unknown_message(probe: ProbeSeen) -> str:
    return f"no data from probe {probe.name} since {since_label(probe)}"


def probe_alert(probe: ProbeSeen, last_sent: str | None, now: datetime) -> Alert | None:
    """The alert to send now, if the probe's health changed since the last one sent."""
    labels = {"check": f"probe:{probe.name}", "alertname": "ProbeOffline", "site": probe.site}
    if is_offline(probe, now) and last_sent != AlertStatus.FIRING.value:
        return Alert(source=AlertSource.CHECK, dedup_key=probe_key(probe.id),
                     status=AlertStatus.FIRING, starts_at=now, severity=Severity.CRITICAL,
                     summary=(f"probe {probe.name} of site {probe.site} offline: "
                              f"{unknown_message(probe)}")[:1024],
                     labels=labels, details={"impact": 1})
    if not is_offline(probe, now) and last_sent == AlertStatus.FIRING.value:
        return Alert(source=AlertSource.CHECK, dedup_key=probe_key(probe.id),
                     status=AlertStatus.RESOLVED, starts_at=now, ends_at=now,
                     summary=f"probe {probe.name} of site {probe.site} back online",
                     labels=labels)
    return None


def watch_probes(db: Database, settings: Settings, *, now: datetime | None = None,
                 metrics: PipelineMetrics | None = None) -> int:
    """Raise or resolve each probe's offline incident and show its checks UNKNOWN while it is
    silent; returns how many alerts were sent. Cheap when nothing changed."""
    sent = 0
    with db.session() as s:
        now = now or server_now(s)
        rows = s.execute(
            select(Probe.id, Probe.name, Site.slug, Site.time_zone, Probe.last_contact_at,
                   Probe.grace_seconds)
            .join(Site, Site.id == Probe.site_id)
            .where(Probe.revoked_at.is_(None), Probe.credential_hash.is_not(None))).all()
        for row in rows:
            probe = ProbeSeen(*row)
            if is_offline(probe, now):
                show_unknown(s, probe)
            last_sent = s.scalar(select(AlertReceived.status)
                                 .where(AlertReceived.dedup_key == probe_key(probe.id))
                                 .order_by(AlertReceived.id.desc()).limit(1))
            alert = probe_alert(probe, last_sent, now)
            if alert is not None:
                process_alerts(s, [alert], settings=settings, now=now, metrics=metrics)
                sent += 1
    return sent


def show_unknown(s: Session, probe: ProbeSeen) -> int:
    """UNKNOWN with the reason on the probe's checks (display columns only: no flip)."""
    from checks.models import CheckStateRow

    message = unknown_message(probe)
    mine = select(CheckProbe.check_id).where(CheckProbe.probe_id == probe.id)
    return s.execute(
        update(CheckStateRow)
        .where(CheckStateRow.check_id.in_(mine),
               or_(CheckStateRow.status != "UNKNOWN", CheckStateRow.last_message != message))
        .values(status="UNKNOWN", last_message=message)
        .execution_options(synchronize_session=False)).rowcount or 0
