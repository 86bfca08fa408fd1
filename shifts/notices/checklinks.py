"""Services in ``auto`` mode follow their linked checks: current states and past outages.

A service links checks by id (``"12"``) or by slug (``"ups-a"``); both resolve to rows of the
check engine's storage (:mod:`checks.models`). Everything the page needs is read in
two queries whatever the number of services: one for the current states of every linked check,
one for their alert flips of the last ``HISTORY`` days.

What counts:

- **Current state** is the check's confirmed (HARD) status, ``last_hard_status``: a soft
  problem still being retried is not announced to employees. A check that never ran, or is
  inside a maintenance window, counts as UNKNOWN, which :func:`.status.effective_status`
  ignores (planned work and blind monitoring never announce an outage).
- **Outages for the uptime bars** come from the alert flips (problem / changed / recovery):
  the service's status is replayed over the flips of all its linked checks with
  :func:`.status.status_from_checks`, and every stretch in which it was degraded or worse is an
  :class:`~.uptime.OutageInterval` (major outage → major, partial/degraded → partial). A problem
  flip muted by maintenance does not start an outage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from checks.result import Status as CheckStatus

from .model import Service, ServiceStatus, StatusMode, require_aware
from .status import status_from_checks
from .uptime import OutageInterval, OutageSeverity

HISTORY = timedelta(days=91)
ALERT_KINDS = ("problem", "changed", "recovery")
MONITORING_LABEL = "Detected by monitoring"
_SEVERITY = {ServiceStatus.MAJOR_OUTAGE: OutageSeverity.MAJOR,
             ServiceStatus.PARTIAL_OUTAGE: OutageSeverity.PARTIAL,
             ServiceStatus.DEGRADED_PERFORMANCE: OutageSeverity.PARTIAL}


@dataclass(frozen=True, slots=True)
class CheckFlip:
    """The part of a flip the uptime bars need. ``check`` is the link as the service wrote it."""

    check: str
    at: datetime
    old_status: CheckStatus | None
    new_status: CheckStatus
    muted: bool = False


def _status(name: str | None) -> CheckStatus | None:
    try:
        return CheckStatus[name] if name else None
    except KeyError:
        return None


def linked(services: Iterable[Service]) -> list[str]:
    """Every check link of the services in ``auto`` mode, each once."""
    return list(dict.fromkeys(c for s in services if s.mode is StatusMode.AUTO
                              for c in s.check_ids))


def _resolve(session: Session, links: Sequence[str]) -> dict[int, list[str]]:
    """Check row id → the links (id or slug) naming it; one query."""
    from checks.models import Check

    ids = [int(c) for c in links if c.isdigit()]
    slugs = [c for c in links if not c.isdigit()]
    if not links:
        return {}
    found: dict[int, list[str]] = {}
    for check_id, slug in session.execute(select(Check.id, Check.slug).where(
            or_(Check.id.in_(ids), Check.slug.in_(slugs)))):
        names = [n for n in (str(check_id), slug) if n in links]
        found.setdefault(check_id, []).extend(names)
    return found


def load_check_links(session: Session, services: Sequence[Service], now: datetime
                     ) -> tuple[dict[str, CheckStatus], list[CheckFlip]]:
    """Current (hard) state per check link and the alert flips of the last ``HISTORY``.

    Three queries in all (resolve links, states, flips), none per service.
    """
    from checks.models import CheckStateRow, FlipRow

    require_aware("now", now)
    names = _resolve(session, linked(services))
    if not names:
        return {}, []
    states: dict[str, CheckStatus] = {}
    for check_id, state, in_maintenance in session.execute(
            select(CheckStateRow.check_id, CheckStateRow.state, CheckStateRow.in_maintenance)
            .where(CheckStateRow.check_id.in_(list(names)))):
        hard = _status((state or {}).get("last_hard_status"))
        current = CheckStatus.UNKNOWN if hard is None or in_maintenance else hard
        for name in names[check_id]:
            states[name] = current
    flips: list[CheckFlip] = []
    for check_id, at, old, new, muted in session.execute(
            select(FlipRow.check_id, FlipRow.at, FlipRow.old_status, FlipRow.new_status,
                   FlipRow.muted_by)
            .where(FlipRow.check_id.in_(list(names)), FlipRow.kind.in_(ALERT_KINDS),
                   FlipRow.at >= now - HISTORY)
            .order_by(FlipRow.at, FlipRow.id)):
        new_status = _status(new)
        if new_status is None:
            continue
        for name in names[check_id]:
            flips.append(CheckFlip(name, _aware(at), _status(old), new_status, bool(muted)))
    return states, flips


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def outages_from_flips(service: Service, flips: Iterable[CheckFlip], now: datetime
                       ) -> list[OutageInterval]:
    """Stretches in which ``service`` (by its linked checks' flips) was degraded or worse.

    Pure. ``flips`` may hold other checks' flips (they are skipped) and must be in time order.
    Before its first flip a check is taken to be in the flip's ``old_status`` (OK if None). A
    stretch still going on at the end has ``end=None``.
    """
    require_aware("now", now)
    mine = [f for f in flips if f.check in service.check_ids]
    if not mine:
        return []
    current: dict[str, CheckStatus] = {}
    for f in mine:
        current.setdefault(f.check, f.old_status or CheckStatus.OK)
    found: list[OutageInterval] = []
    open_since: datetime | None = None
    open_level: ServiceStatus | None = None

    def close(at: datetime) -> None:
        nonlocal open_since, open_level
        if open_since is not None and open_level is not None and at > open_since:
            found.append(OutageInterval(open_since, at, _SEVERITY[open_level], MONITORING_LABEL))
        open_since, open_level = None, None

    for f in mine:
        # A problem that maintenance muted is planned work, not an outage.
        current[f.check] = CheckStatus.OK if f.muted else f.new_status
        level = status_from_checks(current.values()) or ServiceStatus.OPERATIONAL
        if level not in _SEVERITY:
            close(f.at)
        elif level is not open_level:
            close(f.at)
            open_since, open_level = f.at, level
    if open_since is not None and open_level is not None:
        found.append(OutageInterval(open_since, None, _SEVERITY[open_level], MONITORING_LABEL))
    return found


def check_outages(services: Iterable[Service], flips: Sequence[CheckFlip], now: datetime
                  ) -> dict[str, list[OutageInterval]]:
    """Outage intervals from flips for every service in ``auto`` mode, by service id."""
    return {s.id: outages_from_flips(s, flips, now) for s in services
            if s.mode is StatusMode.AUTO and s.check_ids}

