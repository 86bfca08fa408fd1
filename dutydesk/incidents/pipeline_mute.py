"""The alert pipeline's *record*, *mute* and *unhold* stages (``dutydesk.incidents.pipeline``).

- **record**: every alert as received becomes an ``alerts_received`` row (written by
  ``process_alerts`` once the incident stage knows each row's incident).
- **mute**: the muters, in order: the check engine's own verdict (maintenance), stored
  silences, parent down; ``count_muted`` notes a muted alert, holds a muted problem and counts
  it in ``dutydesk_alerts_suppressed_total{reason}``.
- **unhold**: what passed the mute stage is no longer held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from checks.guard import POLLER_OFFLINE
from dutydesk.incidents.alerts.matchers import MatcherError, Silence, SilenceError, SilenceMuter
from dutydesk.incidents.alerts.model import Alert, Muter
from dutydesk.incidents.held import forget
from dutydesk.incidents.models import SilenceRow

if TYPE_CHECKING:
    from dutydesk.incidents.pipeline import ShellContext


def suppression_label(reason: str) -> str:
    """``"silence:12"`` → ``"silence"``: bounded label values (one per kind, not per silence)."""
    return reason.split(":", 1)[0]


def record_stage(raw: Mapping[str, Any]) -> Any:
    def stage(alerts: list[Alert], ctx: ShellContext) -> list[Alert]:
        for alert in alerts:
            row = {
                "source": alert.source.value,
                "dedup_key": alert.dedup_key,
                "fingerprint": alert.source_ids.get("fingerprint", "")[:80],
                "status": alert.status.value,
                "summary": alert.summary[:1024],
                "received_at": ctx.now,
                "integration_id": ctx.integration_id,
                "incident_id": None,
                "muted_reason": None,
                "raw": raw.get(alert.dedup_key) or _alert_raw(alert),
            }
            ctx.received.setdefault(alert.dedup_key, []).append(row)
        return alerts

    return stage


def _alert_raw(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
        "severity": alert.severity.value,
        "source_ids": dict(alert.source_ids),
    }


def count_muted(ctx: ShellContext, alert: Alert, reason: str) -> None:
    ctx.result.muted.append((alert.dedup_key, reason))
    if alert.firing and reason != POLLER_OFFLINE:
        # Not held while the poller is offline: the check's first real result afterwards
        # settles it (a changed or recovery flip), and the poller has its own incident.
        ctx.held.append((alert, reason))
    for row in ctx.received.get(alert.dedup_key, []):
        row["muted_reason"] = reason[:120]
    if ctx.metrics is not None:
        ctx.metrics.suppressed.labels(suppression_label(reason)).inc()


@dataclass(frozen=True, slots=True)
class EngineVerdictMuter:
    """The check engine already decided a flip must not notify (``details["muted_by"]``)."""

    def mutes(self, alert: Alert, now: datetime) -> str | None:
        verdict = alert.details.get("muted_by")
        return str(verdict) if verdict else None


def load_muters(session: Session, now: datetime) -> list[Muter]:
    """Maintenance first (so it is what gets counted), then silences, then parent down."""
    silences = []
    for row in session.scalars(
        select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    ):
        try:
            silences.append(
                Silence.from_text(
                    str(row.id),
                    row.matchers,
                    starts_at=row.starts_at,
                    ends_at=row.ends_at,
                    created_by=row.created_by,
                    comment=row.comment,
                )
            )
        except (MatcherError, SilenceError):
            continue  # validated on write; an old unparsable row must not stop the pipeline
    muters: list[Muter] = [EngineVerdictMuter(), SilenceMuter(tuple(silences))]
    parent_down = load_parent_down_muter(session)
    if parent_down is not None:
        muters.append(parent_down)
    return muters


def load_parent_down_muter(session: Session) -> Muter | None:
    """``ParentDownMuter`` from the check engine's dependencies and states, once they exist.

    "Down" is the check engine's own definition (``checks.dependencies``: HARD and not one of
    the child's up states, OK and WARNING by default), so a check the engine does not mark
    UNREACHABLE is never muted here either."""
    try:
        from checks.dependencies import down_parents
        from dutydesk.incidents.alerts.model import ParentDownMuter
    except ImportError:
        return None
    down = down_parents(session)
    if not down:
        return None
    return ParentDownMuter(parents=down,
                           down=frozenset(p for parents in down.values() for p in parents))


def unhold_stage(alerts: list[Alert], ctx: ShellContext) -> list[Alert]:
    """What passed the mute stage is no longer held: a recovery ends the problem, and a problem
    alerting on its own needs no release (``dutydesk.incidents.held``)."""
    forget(ctx.session, [alert.dedup_key for alert in alerts])
    return alerts
