"""Held alerts: a problem that outlasts its muting is raised exactly once afterwards.

When the mute stage drops a firing alert (maintenance, a silence, a parent down), the alert is
*held*: one ``held_alerts`` row per dedup key, remembering the alert and since when it has been
muted. Whatever passes the mute stage later on (the recovery, or the problem itself once nothing
mutes it) forgets the row. A periodic sweep (``dutydesk.incidents.jobs.release_held``) asks the
same muters again; when none mutes a held alert any more, the row is claimed with a
compare-and-set DELETE and the alert goes through the pipeline once more, its summary saying
"was failing during maintenance since 02:10". This is how Icinga 2 (>= 2.11) re-notifies a
problem still present when a downtime ends; here it is one rule for every kind of muting.

The pure parts (what the reason says, how an alert is kept and rebuilt, whether a held check
alert is still a problem) live here; the sweep's I/O lives with the other incident jobs.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.incidents.alerts.model import MAX_SUMMARY_LENGTH, Alert, AlertError
from dutydesk.incidents.models import HeldAlert


def muting_words(reason: str) -> str:
    """What a muting reason means in a sentence: "during maintenance", "while silenced"..."""
    kind, _, detail = reason.partition(":")
    if kind == "maintenance":
        return "during maintenance"
    if kind == "silence":
        return f"while silenced (silence {detail})" if detail else "while silenced"
    if kind == "parent_down":
        return "while its parent was down"
    return f"while muted ({reason})"


def held_reason(reason: str, since: datetime, now: datetime, zone: str) -> str:
    """"was failing during maintenance since 02:10" with ``since`` in the site's ``zone``
    (the date is added when the hold started more than a day before ``now``)."""
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    local = since.astimezone(tz)
    shown = local.strftime("%H:%M") if now - since < timedelta(days=1) else local.strftime(
        "%Y-%m-%d %H:%M")
    return f"was failing {muting_words(reason)} since {shown}"


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """Everything that rebuilds ``alert`` (``alert_from_json``), as JSON-friendly values."""
    return {
        "source": alert.source.value, "dedup_key": alert.dedup_key,
        "status": alert.status.value, "starts_at": alert.starts_at.isoformat(),
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "summary": alert.summary, "severity": alert.severity.value,
        "group_key": alert.group_key, "labels": dict(alert.labels),
        "annotations": dict(alert.annotations), "service": alert.service,
        "check_id": alert.check_id, "source_ids": dict(alert.source_ids),
        "details": {k: v for k, v in alert.details.items() if k != "muted_by"},
    }


def alert_from_json(data: Mapping[str, Any]) -> Alert | None:
    """The alert kept by ``alert_to_json``; None when the row cannot be read any more."""
    try:
        return Alert(
            source=data["source"], dedup_key=data["dedup_key"], status=data["status"],
            starts_at=datetime.fromisoformat(data["starts_at"]),
            ends_at=datetime.fromisoformat(data["ends_at"]) if data.get("ends_at") else None,
            summary=data.get("summary", ""), severity=data.get("severity", "warning"),
            group_key=data.get("group_key", ""), labels=data.get("labels") or {},
            annotations=data.get("annotations") or {}, service=data.get("service"),
            check_id=data.get("check_id"), source_ids=data.get("source_ids") or {},
            details=data.get("details") or {},
        )
    except (AlertError, KeyError, TypeError, ValueError):
        return None


def released_alert(alert: Alert, reason: str, since: datetime, now: datetime,
                   zone: str) -> Alert:
    """The held ``alert`` as it goes out again: its summary ends with the held reason and its
    details carry ``held`` (reason, since) for the timeline."""
    words = held_reason(reason, since, now, zone)
    summary = f"{alert.summary}; {words}"
    if len(summary) > MAX_SUMMARY_LENGTH:
        room = MAX_SUMMARY_LENGTH - len(words) - 3
        summary = f"{alert.summary[:max(0, room)]}…; {words}"
    details = {k: v for k, v in alert.details.items() if k != "muted_by"}
    details["held"] = {"reason": reason, "since": since.isoformat()}
    return dataclasses.replace(alert, summary=summary[:MAX_SUMMARY_LENGTH], details=details)


def still_a_problem(state_type: str | None, last_status: str | None) -> bool:
    """A held check alert is worth raising only while the check is still in a confirmed
    problem (HARD, not OK); a recovery that has not reached the pipeline yet drops it."""
    return state_type == "HARD" and last_status not in (None, "OK")


def expired(alert: Alert, now: datetime) -> bool:
    """An external alert whose sender said when it ends (Alertmanager's endsAt) has expired."""
    return alert.ends_at is not None and alert.ends_at <= now


# --- the rows -----------------------------------------------------------------------------------


def hold(session: Session, alerts: Iterable[tuple[Alert, str]], now: datetime) -> None:
    """Remember each muted firing alert with its reason. ``since`` is when the problem started
    (the alert's start: the flip's time for a check); an alert already held keeps it, while its
    latest text and status replace the old."""
    for alert, reason in alerts:
        row = session.get(HeldAlert, alert.dedup_key)
        if row is None:
            row = HeldAlert(dedup_key=alert.dedup_key, check_id=alert.check_id,
                            reason=reason[:120], since=min(alert.starts_at, now),
                            alert=alert_to_json(alert),
                            updated_at=now)
            try:
                with session.begin_nested():
                    session.add(row)
                    session.flush()
                continue
            except IntegrityError:  # another worker held it a moment ago
                row = session.get(HeldAlert, alert.dedup_key, populate_existing=True)
                if row is None:
                    continue
        row.reason, row.alert, row.updated_at = reason[:120], alert_to_json(alert), now


def forget(session: Session, keys: Iterable[str]) -> None:
    """The alerts of ``keys`` passed the mute stage (resolved, or alerting on their own)."""
    keys = list(keys)
    if keys:
        session.execute(delete(HeldAlert).where(HeldAlert.dedup_key.in_(keys))
                        .execution_options(synchronize_session=False))


def held_rows(session: Session, limit: int = 500) -> list[HeldAlert]:
    return list(session.scalars(select(HeldAlert).order_by(HeldAlert.since).limit(limit)))


def claim(session: Session, row: HeldAlert) -> bool:
    """Compare-and-set: True when this worker removed the row (and so releases the alert)."""
    done = session.execute(
        delete(HeldAlert)
        .where(HeldAlert.dedup_key == row.dedup_key, HeldAlert.updated_at == row.updated_at)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1
