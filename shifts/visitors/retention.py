"""Rule 6: idle authorisations are deactivated; old visitor data is purged to anonymous records.

Pure: these functions say *which* records to change and produce the replacement values; the job
that writes them lives with storage.

- An active authorised person with no visit in ``deactivate_after_days`` (default 365) is to be
  deactivated. "No visit" counts from ``last_visit``, or from ``valid_from`` for someone who never
  came. Idle for exactly the limit counts as idle.
- A visit is purged when its latest time (check-out, else check-in, else when it was recorded) is
  at least ``purge_after_days`` old (default 365, never less than 90). A visit still ON_SITE is
  never purged: that is a forgotten check-out, flagged as an overstay, not history.
- An access request is purged when its window ended at least ``purge_after_days`` ago and no
  visit under it is still on site.
- The anonymised copies keep client, dates, areas, status, denial code and counts; they drop
  every name (visitor, staff, escort, contact), ID links, the vehicle plate, badge number and
  free text (purpose, denial reason) that may contain names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .areas import Area
from .model import (
    AccessRequest,
    AuthorisedPerson,
    Direction,
    EquipmentMovement,
    RequestStatus,
    Visit,
    VisitStatus,
    require_aware,
)

DEFAULT_DEACTIVATE_AFTER_DAYS = 365
DEFAULT_PURGE_AFTER_DAYS = 365
MIN_PURGE_AFTER_DAYS = 90


class RetentionPolicyError(ValueError):
    """A retention setting is outside what is allowed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    """How long people stay authorised without visiting, and how long visit data is kept."""

    deactivate_after_days: int = DEFAULT_DEACTIVATE_AFTER_DAYS
    purge_after_days: int = DEFAULT_PURGE_AFTER_DAYS

    def __post_init__(self) -> None:
        for name in ("deactivate_after_days", "purge_after_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise RetentionPolicyError(f"{name} must be a whole number of days, got {value!r}")
        if self.deactivate_after_days < 1:
            raise RetentionPolicyError(
                f"deactivate_after_days must be at least 1 day, got {self.deactivate_after_days}"
            )
        if self.purge_after_days < MIN_PURGE_AFTER_DAYS:
            raise RetentionPolicyError(
                f"purge_after_days (visit data retention) must be at least "
                f"{MIN_PURGE_AFTER_DAYS} days, got {self.purge_after_days}"
            )

    @property
    def idle_limit(self) -> timedelta:
        return timedelta(days=self.deactivate_after_days)

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.purge_after_days)


# --- deactivation -------------------------------------------------------------------------


def idle_since(person: AuthorisedPerson) -> datetime:
    """The last visit, or ``valid_from`` for a person who never visited."""
    return person.last_visit or person.valid_from


def persons_to_deactivate(
    persons: Iterable[AuthorisedPerson],
    now: datetime,
    policy: RetentionPolicy | None = None,
) -> list[AuthorisedPerson]:
    """Active persons with no visit in ``policy.deactivate_after_days``, longest idle first."""
    require_aware("now", now)
    policy = policy or RetentionPolicy()
    cutoff = now - policy.idle_limit
    idle = [p for p in persons if p.active and idle_since(p) <= cutoff]
    return sorted(idle, key=lambda p: (idle_since(p), p.name))


def deactivated(person: AuthorisedPerson) -> AuthorisedPerson:
    """The same entry with ``active=False``."""
    return replace(person, active=False)


# --- purge --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AnonymisedVisit:
    """What is left of a visit after its personal data is purged."""

    id: int | None
    client_id: int
    request_id: int | None
    status: VisitStatus
    denial_code: str | None
    areas: tuple[Area, ...]
    recorded_at: datetime
    checked_in_at: datetime | None
    expected_checkout_at: datetime | None
    checked_out_at: datetime | None
    badge_expires_at: datetime | None
    on_authorised_list: bool
    escorted: bool
    guest_count: int
    equipment_in_count: int
    equipment_out_count: int
    nda_signed: bool
    safety_form_signed: bool
    badge_returned: bool
    badge_lost: bool
    purged_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AnonymisedRequest:
    """What is left of an access request after its personal data is purged."""

    id: int | None
    client_id: int
    status: RequestStatus
    window_start: datetime
    window_end: datetime
    areas: tuple[Area, ...]
    people_count: int
    had_vehicle: bool
    purged_at: datetime


def last_activity(visit: Visit) -> datetime:
    """The latest time the visit record speaks of (check-out, check-in or recording)."""
    return max(t for t in (visit.recorded_at, visit.checked_in_at, visit.checked_out_at) if t)


def visits_to_purge(
    visits: Iterable[Visit], now: datetime, policy: RetentionPolicy | None = None
) -> list[Visit]:
    """Visits whose last activity is at least ``policy.purge_after_days`` old (not on site)."""
    require_aware("now", now)
    policy = policy or RetentionPolicy()
    cutoff = now - policy.retention
    return [v for v in visits if not v.is_on_site and last_activity(v) <= cutoff]


def anonymise_visit(
    visit: Visit,
    *,
    movements: Iterable[EquipmentMovement] = (),
    visits: Iterable[Visit] = (),
    purged_at: datetime,
) -> AnonymisedVisit:
    """The anonymised copy of ``visit``.

    ``movements`` and ``visits`` are used only for counts: equipment moved during this visit and
    guests this visit escorted (records of other visits are ignored).
    """
    require_aware("purged_at", purged_at)
    mine = [m for m in movements if visit.id is not None and m.visit_id == visit.id]
    guests = [v for v in visits if visit.id is not None and v.escort_visit_id == visit.id]
    return AnonymisedVisit(
        id=visit.id,
        client_id=visit.client_id,
        request_id=visit.request_id,
        status=visit.status,
        denial_code=visit.denial_code,
        areas=visit.areas,
        recorded_at=visit.recorded_at,
        checked_in_at=visit.checked_in_at,
        expected_checkout_at=visit.expected_checkout_at,
        checked_out_at=visit.checked_out_at,
        badge_expires_at=visit.badge_expires_at,
        on_authorised_list=visit.authorised_person_id is not None,
        escorted=visit.escort_visit_id is not None or visit.escort_staff is not None,
        guest_count=len(guests),
        equipment_in_count=sum(1 for m in mine if m.direction is Direction.IN),
        equipment_out_count=sum(1 for m in mine if m.direction is Direction.OUT),
        nda_signed=visit.nda_signed,
        safety_form_signed=visit.safety_form_signed,
        badge_returned=visit.badge_returned,
        badge_lost=visit.badge_lost,
        purged_at=purged_at,
    )


def requests_to_purge(
    requests: Iterable[AccessRequest],
    visits: Iterable[Visit],
    now: datetime,
    policy: RetentionPolicy | None = None,
) -> list[AccessRequest]:
    """Requests whose window ended at least the retention period ago, with nobody still inside."""
    require_aware("now", now)
    policy = policy or RetentionPolicy()
    cutoff = now - policy.retention
    open_requests = {v.request_id for v in visits if v.is_on_site and v.request_id is not None}
    return [
        r
        for r in requests
        if r.window_end <= cutoff and (r.id is None or r.id not in open_requests)
    ]


def anonymise_request(request: AccessRequest, *, purged_at: datetime) -> AnonymisedRequest:
    """The anonymised copy of ``request``: no names, no plate, no contact, no purpose."""
    require_aware("purged_at", purged_at)
    return AnonymisedRequest(
        id=request.id,
        client_id=request.client_id,
        status=request.status,
        window_start=request.window_start,
        window_end=request.window_end,
        areas=request.areas,
        people_count=len(request.people),
        had_vehicle=request.vehicle_plate is not None,
        purged_at=purged_at,
    )


@dataclass(frozen=True, slots=True)
class PurgePlan:
    """Everything one purge run replaces with anonymised records."""

    visits: tuple[AnonymisedVisit, ...]
    requests: tuple[AnonymisedRequest, ...]


def plan_purge(
    *,
    visits: Iterable[Visit],
    requests: Iterable[AccessRequest],
    movements: Iterable[EquipmentMovement],
    now: datetime,
    policy: RetentionPolicy | None = None,
) -> PurgePlan:
    """The anonymised replacement of every visit and request past retention, as of ``now``.

    ``visits`` should hold all visits (not only the old ones): guest counts and "still on site"
    are read from them.
    """
    visits = tuple(visits)
    movements = tuple(movements)
    return PurgePlan(
        visits=tuple(
            anonymise_visit(v, movements=movements, visits=visits, purged_at=now)
            for v in visits_to_purge(visits, now, policy)
        ),
        requests=tuple(
            anonymise_request(r, purged_at=now)
            for r in requests_to_purge(requests, visits, now, policy)
        ),
    )
