"""Several locations: one check run from the centre and/or several remote probes, judged once.

Each location's latest result is kept in ``check_location_states`` (one row per check and
location: ``centre`` or ``probe:<id>``). The result fed into the check's ONE state machine
(:func:`checks.state.next_state`) is :func:`combine` of the locations whose result is *fresh*
(made within ``2 x interval + timeout`` of ``now``): CRITICAL when at least ``k`` of them see
CRITICAL, WARNING when at least ``k`` see WARNING or worse, else OK; no fresh location gives
UNKNOWN. A stale location (a probe offline) neither makes the check down nor up. This is the
rule of Checkly's and Grafana synthetic monitoring's "alert when N of M locations fail".

A check with one location is judged from that location's result exactly as before (no row is
kept, no combination made).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, column, select, table
from sqlalchemy.orm import Mapped, mapped_column

from checks.result import Result, Status
from dutydesk.core.db import Base

CENTRE = "centre"
#: Named, not imported: the sites domain sits above this one.
_CHECK_PROBES = table("check_probes", column("check_id"), column("probe_id"))
_PROBES = table("probes", column("id"), column("name"), column("site_id"))
_SITES = table("sites", column("id"), column("slug"))


class CheckLocationState(Base):
    """The latest result of one location of a check with several locations."""

    __tablename__ = "check_location_states"

    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"),
                                          primary_key=True)
    location: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(2000), default="")
    at: Mapped[datetime] = mapped_column()


@dataclass(frozen=True, slots=True)
class Seen:
    """What one location saw last: its name (``centre``, ``kyiv-dc2/probe-a``), when."""

    name: str
    status: Status
    message: str
    at: datetime | None  # None: nothing seen yet


def fresh_window(interval: float, timeout: float) -> timedelta:
    """How long a location's result counts: two intervals plus the timeout."""
    return timedelta(seconds=2 * interval + timeout)


def _line(seen: Sequence[Seen]) -> str:
    return ", ".join(f"{s.name} {s.status.name}" + (f" {s.message}" if s.message else "")
                     for s in seen)


def combine(seen: Sequence[Seen], k: int, now: datetime, window: timedelta) -> tuple[Status, str]:
    """The judged status and message of a check from what its locations saw (pure).

    Fresh: ``now - window <= at``. CRITICAL when >= ``k`` fresh locations see CRITICAL;
    WARNING when >= ``k`` see WARNING or CRITICAL; UNKNOWN when no location is fresh; else OK.
    The message names who saw what, the ones that count first, stale ones last."""
    fresh = [s for s in seen if s.at is not None and now - window <= s.at]
    stale = [s for s in seen if s not in fresh]
    tail = f"; stale: {', '.join(s.name for s in stale)}" if stale else ""
    if not fresh:
        return Status.UNKNOWN, f"no fresh results from any location{tail}"
    n = len(fresh)
    crit = [s for s in fresh if s.status is Status.CRITICAL]
    warn = [s for s in fresh if s.status in (Status.WARNING, Status.CRITICAL)]
    if len(crit) >= k:
        bad, status, word = crit, Status.CRITICAL, "down"
    elif len(warn) >= k:
        bad, status, word = warn, Status.WARNING, "warning"
    else:
        bad = [s for s in fresh if s.status is not Status.OK]
        good = [s for s in fresh if s.status is Status.OK]
        if not bad:
            return Status.OK, f"up from {n} of {n} locations: {_line(good)}{tail}"
        return Status.OK, (f"up: fewer than {k} of {n} locations see it down: "
                           f"{_line(bad)}" + (f"; {_line(good)}" if good else "") + tail)
    others = [s for s in fresh if s not in bad]
    return status, (f"{word} from {len(bad)} of {n} locations: {_line(bad)}"
                    + (f"; {_line(others)}" if others else "") + tail)


def location_of_probe(probe_id: int) -> str:
    return f"probe:{probe_id}"


def locations_of(s: Any, check_id: int, at_centre: bool) -> dict[str, str]:
    """The check's locations, key -> name: ``centre`` when it runs there (or has no probe),
    ``probe:<id>`` -> ``site/probe`` for each of its probes."""
    rows = s.execute(select(_PROBES.c.id, _PROBES.c.name, _SITES.c.slug)
                     .select_from(_CHECK_PROBES.join(_PROBES, _PROBES.c.id
                                                     == _CHECK_PROBES.c.probe_id)
                                  .join(_SITES, _SITES.c.id == _PROBES.c.site_id))
                     .where(_CHECK_PROBES.c.check_id == check_id)
                     .order_by(_SITES.c.slug, _PROBES.c.name)).all()
    found = {location_of_probe(pid): f"{site}/{name}" for pid, name, site in rows}
    if at_centre or not found:
        found = {CENTRE: CENTRE, **found}
    return found


def several(s: Any, check_ids: Sequence[int]) -> set[int]:
    """Those of ``check_ids`` with more than one location (one query; the others skip
    :func:`record_and_combine`)."""
    from sqlalchemy import func, or_

    from checks.models import Check

    if not check_ids:
        return set()
    probes = (select(func.count()).select_from(_CHECK_PROBES)
              .where(_CHECK_PROBES.c.check_id == Check.id).scalar_subquery())
    return set(s.scalars(select(Check.id).where(
        Check.id.in_(list(check_ids)),
        or_(probes > 1, (Check.run_at_centre.is_(True)) & (probes > 0)))))


def record_and_combine(s: Any, check: Any, location: str, result: Result,
                       at: datetime) -> Result:
    """Keep ``result`` as what ``location`` saw of ``check`` (as of ``at``) and return the
    result to judge: ``result`` itself when the check has one location, else the combination
    (in the caller's transaction ``s``)."""
    places = locations_of(s, check.id, bool(check.run_at_centre))
    if len(places) <= 1 or location not in places:
        return result
    row = s.get(CheckLocationState, (check.id, location))
    if row is None:
        row = CheckLocationState(check_id=check.id, location=location)
        s.add(row)
    if row.at is None or row.at <= at:
        row.status, row.message, row.at = int(result.status), result.message[:2000], at
    s.flush()
    stored = {r.location: r for r in s.scalars(
        select(CheckLocationState).where(CheckLocationState.check_id == check.id))}
    seen = [Seen(name, Status(stored[key].status), stored[key].message,
                 stored[key].at) if key in stored else Seen(name, Status.UNKNOWN, "", None)
            for key, name in places.items()]
    k = max(1, min(int(check.min_locations_down or 1), len(places)))
    status, message = combine(seen, k, at, fresh_window(check.interval, check.timeout))
    return Result(status, message[:2000], result.started_at, result.duration, result.metrics)


__all__ = [
    "CENTRE",
    "CheckLocationState",
    "Seen",
    "combine",
    "fresh_window",
    "location_of_probe",
    "locations_of",
    "record_and_combine",
    "several",
]
