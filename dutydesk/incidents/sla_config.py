"""The SLA targets incidents are opened with: read from the config file, stored on each incident.

``sla_policy`` reads the ``sla:`` section (minutes per priority); the pipeline stores
``sla_snapshot`` of it on every incident it opens, and ``policy_from_snapshot`` reads it back,
so a later config change does not move the clocks of incidents already open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dutydesk.core.config import Settings
from dutydesk.incidents.sla import DEFAULT_TARGETS, SlaPolicy


def sla_policy(settings: Settings) -> SlaPolicy:
    """SLA targets from the ``sla:`` section of the config file (minutes per priority)."""
    section = settings.extra.get("sla") if settings.extra else None
    if not section:
        return SlaPolicy(targets=dict(DEFAULT_TARGETS))
    return SlaPolicy.from_minutes(section)


def sla_snapshot(policy: SlaPolicy) -> dict[str, Any]:
    return {
        str(priority): {
            "acknowledge": targets.acknowledge.total_seconds() / 60,
            "resolve": targets.resolve.total_seconds() / 60,
        }
        for priority, targets in policy.targets.items()
    } | {"warn_at": policy.warn_at}


def policy_from_snapshot(snapshot: Mapping[str, Any] | None, settings: Settings) -> SlaPolicy:
    if not snapshot:
        return sla_policy(settings)
    data = {k: v for k, v in snapshot.items() if k != "warn_at"}
    return SlaPolicy.from_minutes(data, warn_at=float(snapshot.get("warn_at", 0.75)))
