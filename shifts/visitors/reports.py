"""Pure summaries of who is inside, for the shift handoff and the wall.

- ``open_badges``: every badge out on site now, for the handoff report's badge reconciliation
  (the outgoing and incoming engineer count the badges on the board against this list).
- ``summarise_on_site``: how many people are inside, how many overstay, and their first names
  only, for viewers of the wall (no other personal data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from .model import AccessRequest, Visit, require_aware
from .onsite import Limit, overstays, people_on_site


@dataclass(frozen=True, slots=True)
class OpenBadge:
    """One badge out with a person on site. ``overstay_by`` is None unless a limit passed
    (expected check-out, request end, badge expiry; ``limits`` says which)."""

    visit_id: int | None
    badge_number: str
    person_name: str
    client_id: int
    client_name: str
    checked_in_at: datetime
    time_inside: timedelta
    badge_expires_at: datetime | None
    overstay_by: timedelta | None
    limits: tuple[Limit, ...]

    @property
    def overstay(self) -> bool:
        return self.overstay_by is not None


def open_badges(
    visits: Iterable[Visit],
    requests: Iterable[AccessRequest],
    now: datetime,
    client_names: Mapping[int, str] | None = None,
) -> list[OpenBadge]:
    """The badges held by people on site at ``now``, ordered by badge number (as on a board).

    ``visits`` may include visits that are not on site (they are ignored); ``requests`` are the
    requests of those visits (for the request-end limit); ``client_names`` maps client ids to
    names (missing ones show as "").
    """
    require_aware("now", now)
    visits = tuple(visits)
    names = client_names or {}
    over = {o.visit.id: o for o in overstays(visits, requests, now)}
    result = []
    for entry in people_on_site(visits, now):
        visit = entry.visit
        assert visit.checked_in_at is not None  # guaranteed for ON_SITE by Visit
        late = over.get(visit.id) if visit.id is not None else None
        result.append(
            OpenBadge(
                visit_id=visit.id,
                badge_number=visit.badge_number or "",
                person_name=visit.person_name,
                client_id=visit.client_id,
                client_name=names.get(visit.client_id, ""),
                checked_in_at=visit.checked_in_at,
                time_inside=entry.time_inside,
                badge_expires_at=visit.badge_expires_at,
                overstay_by=late.over_by if late else None,
                limits=late.limits if late else (),
            )
        )
    result.sort(key=lambda b: (_badge_sort_key(b.badge_number), b.person_name))
    return result


def _badge_sort_key(number: str) -> tuple[str, int, str]:
    # "B2" before "B10": split a trailing number off so boards read in natural order.
    head = number.rstrip("0123456789")
    tail = number[len(head) :]
    return (head.upper(), int(tail) if tail else -1, number)


class OnSiteSummary(NamedTuple):
    """People inside now, how many of them overstay, and their first names (longest inside
    first). Unpacks as ``(count, overstays_count, first_names)``."""

    count: int
    overstays_count: int
    first_names: tuple[str, ...]


def first_name(full_name: str) -> str:
    """The first word of ``full_name`` ("" for a blank name)."""
    parts = full_name.split()
    return parts[0] if parts else ""


def summarise_on_site(
    visits: Iterable[Visit], requests: Iterable[AccessRequest], now: datetime
) -> OnSiteSummary:
    """The wall's view of the people inside: counts and first names only."""
    require_aware("now", now)
    visits = tuple(visits)
    inside = people_on_site(visits, now)
    late = overstays(visits, requests, now)
    return OnSiteSummary(
        count=len(inside),
        overstays_count=len(late),
        first_names=tuple(first_name(e.visit.person_name) for e in inside),
    )
