"""Which senders fire an alert: resolve only when every one that fired has stopped.

Two Alertmanagers (two sites, or an HA pair whose members diverge) send the same labels, so the
same fingerprint and dedup key. Each is one *source*, identified by the integration it posts
through plus its ``externalURL`` and receiver (``source_id``). The incident keeps a small map
``{source id: {"label", "status", "ends_at", "seen_at"}}`` (``incidents.alert_sources``) and:

- a firing alert marks its source firing (with its ``endsAt``, when the sender gives one);
- a resolved alert marks its source resolved; the incident resolves only when no other source
  is still firing (``still_firing``);
- a source whose firing alert carried an ``endsAt`` now in the past has *expired* (its sender
  stopped repeating it: Alertmanager's resolve timeout) and no longer holds the incident open.

Alerts that do not say who sent them (checks, manual reports, PagerDuty events) have a single
implicit source and resolve as before. All functions are pure; ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dutydesk.incidents.alerts.model import Alert, AlertSource

FIRING = "firing"
RESOLVED = "resolved"


def source_id(alert: Alert, integration_id: int | None) -> str | None:
    """The sender of ``alert`` as a stable id, or ``None`` when the alert has one implicit source.

    Alertmanager alerts: ``"<integration id or 'api'>|<externalURL>|<receiver>"``.
    """
    if alert.source is not AlertSource.ALERTMANAGER:
        return None
    external = alert.source_ids.get("external_url", "")
    receiver = alert.source_ids.get("receiver", "")
    sender = str(integration_id) if integration_id is not None else "api"
    return f"{sender}|{external}|{receiver}"[:300]


def source_label(alert: Alert) -> str:
    """How a person recognises the sender: its externalURL (else its receiver, else the kind)."""
    return (
        alert.source_ids.get("external_url")
        or alert.source_ids.get("receiver")
        or alert.source.value
    )[:200]


def record(
    sources: Mapping[str, Any] | None, sid: str, label: str, alert: Alert, now: datetime
) -> dict[str, Any]:
    """The sources map after ``alert`` from source ``sid`` arrived at ``now`` (a new map)."""
    updated = {key: dict(value) for key, value in (sources or {}).items()}
    updated[sid] = {
        "label": label,
        "status": FIRING if alert.firing else RESOLVED,
        "ends_at": alert.ends_at.isoformat() if alert.firing and alert.ends_at else None,
        "seen_at": now.isoformat(),
    }
    return updated


def _expired(entry: Mapping[str, Any], now: datetime) -> bool:
    ends_at = entry.get("ends_at")
    if not ends_at:
        return False
    try:
        return datetime.fromisoformat(str(ends_at)) <= now
    except ValueError:
        return False


def still_firing(sources: Mapping[str, Any] | None, now: datetime) -> list[str]:
    """Labels of the sources still firing at ``now`` (not resolved, not expired), sorted."""
    return sorted(
        str(entry.get("label") or key)
        for key, entry in (sources or {}).items()
        if isinstance(entry, Mapping) and entry.get("status") == FIRING and not _expired(entry, now)
    )


def all_expired(sources: Mapping[str, Any] | None, now: datetime) -> bool:
    """Did every sender stop without a resolve (its ``endsAt`` passed)? Then the incident is
    over: nothing fires any more, and at least one sender let its alert expire."""
    entries = [e for e in (sources or {}).values() if isinstance(e, Mapping)]
    return (
        bool(entries)
        and not still_firing(sources, now)
        and any(e.get("status") == FIRING for e in entries)
    )


def shown(sources: Mapping[str, Any] | None, now: datetime) -> list[tuple[str, str]]:
    """``[(label, "firing" | "resolved" | "expired")]`` for the incident page, sorted by label."""
    rows = []
    for key, entry in (sources or {}).items():
        if not isinstance(entry, Mapping):
            continue
        state = str(entry.get("status") or "")
        if state == FIRING and _expired(entry, now):
            state = "expired"
        rows.append((str(entry.get("label") or key), state))
    return sorted(rows)
