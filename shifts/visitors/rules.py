"""The visitor-log decisions in one place: check-in, check-out, equipment.

Every function here is pure: it takes the records it needs and ``now`` (timezone-aware UTC) and
returns a ``Decision`` (``allowed``, ``code``, ``reason``). Check-in lives in ``checkin`` and is
re-exported here; check-out (rules 2 and 3) and equipment (rule 4) are below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from .badges import check_badge_back, check_badge_free
from .checkin import Basis, CheckInAttempt, CheckInDecision, check_in
from .decision import Decision, RuleCode
from .model import (
    AuthorisedPerson,
    Direction,
    EquipmentMovement,
    Visit,
    VisitorDataError,
    VisitStatus,
    require_aware,
)

__all__ = [
    "Basis",
    "CheckInAttempt",
    "CheckInDecision",
    "CheckOutDecision",
    "check_badge_free",
    "check_in",
    "check_out",
    "equipment_movement_allowed",
    "guests_inside",
]


@dataclass(frozen=True, slots=True)
class CheckOutDecision(Decision):
    """A check-out decision; when allowed, ``visit`` is the visit as it is to be stored (LEFT)."""

    visit: Visit | None = None


def guests_inside(escort: Visit, visits: Iterable[Visit]) -> list[Visit]:
    """The on-site visits escorted by ``escort`` (an escort visit with no id has no guests)."""
    if escort.id is None:
        return []
    return [v for v in visits if v.is_on_site and v.escort_visit_id == escort.id]


def check_out(
    visit: Visit,
    *,
    visits: Iterable[Visit],
    badge_returned: bool,
    badge_lost_recorded_by: str | None = None,
    now: datetime,
) -> CheckOutDecision:
    """May ``visit`` check out now? Rules, in order:

    - the visitor must be on site (NOT_ON_SITE);
    - rule 3: an escort cannot leave while guests they escort are inside
      (ESCORT_HAS_GUESTS_INSIDE; ``visits`` must include every on-site visit);
    - rule 2: the badge is handed back, or its loss is recorded by a staff member
      (BADGE_NOT_RETURNED).
    """
    require_aware("now", now)
    if not visit.is_on_site:
        return CheckOutDecision(
            False,
            RuleCode.NOT_ON_SITE,
            f"{visit.person_name} is not on site (visit status: {visit.status.value}); "
            "only a checked-in visitor can check out",
        )
    assert visit.checked_in_at is not None  # guaranteed for ON_SITE by Visit
    if now < visit.checked_in_at:
        raise VisitorDataError(
            f"check-out time {now.isoformat()} is before the check-in at "
            f"{visit.checked_in_at.isoformat()}"
        )
    guests = guests_inside(visit, visits)
    if guests:
        names = ", ".join(g.person_name for g in guests)
        return CheckOutDecision(
            False,
            RuleCode.ESCORT_HAS_GUESTS_INSIDE,
            f"{visit.person_name} escorts {names}, still inside; check the guests out first "
            "or hand them to another escort",
        )
    badge = check_badge_back(
        visit, badge_returned=badge_returned, lost_recorded_by=badge_lost_recorded_by
    )
    if not badge.allowed:
        return CheckOutDecision(False, badge.code, badge.reason)
    left = replace(
        visit,
        status=VisitStatus.LEFT,
        checked_out_at=now,
        badge_returned=badge_returned,
        badge_lost_recorded_by=None if badge_returned else badge_lost_recorded_by,
    )
    return CheckOutDecision(True, RuleCode.OK, f"{visit.person_name} checked out", visit=left)


def equipment_movement_allowed(
    movement: EquipmentMovement,
    *,
    visit: Visit,
    person: AuthorisedPerson | None,
    now: datetime,
) -> Decision:
    """Rule 4: may this equipment go in or out with this visitor now?

    - the visitor must be on site (NOT_ON_SITE);
    - equipment coming in is always allowed (it is recorded, not judged);
    - equipment going out needs the visitor's own remove-equipment right (``person`` is the
      visitor's authorised-list entry, valid now) or ``movement.removal_approved_by`` naming
      the staff member who approved it (EQUIPMENT_REMOVAL_NOT_APPROVED).

    ``person`` must be the visit's authorised person (or None for guests and request visitors);
    passing someone else's entry is a programming error and raises VisitorDataError.
    """
    require_aware("now", now)
    if movement.visit_id is not None and visit.id is not None and movement.visit_id != visit.id:
        raise VisitorDataError(
            f"equipment movement belongs to visit #{movement.visit_id}, not visit #{visit.id}"
        )
    if person is not None and person.id != visit.authorised_person_id:
        raise VisitorDataError(
            f"authorised person #{person.id} is not the visitor of this visit "
            f"(visit is for authorised person #{visit.authorised_person_id})"
        )
    what = movement.description + (f" (serial {movement.serial})" if movement.serial else "")
    if not visit.is_on_site:
        return Decision.deny(
            RuleCode.NOT_ON_SITE,
            f"{visit.person_name} is not on site; equipment moves only during a visit",
        )
    if movement.direction is Direction.IN:
        return Decision.allow(f"{what} brought in by {visit.person_name}")
    if person is not None and person.may_remove_equipment and person.is_valid_at(now):
        return Decision.allow(f"{visit.person_name} may remove equipment: {what}")
    if movement.removal_approved_by:
        return Decision.allow(f"removal of {what} approved by {movement.removal_approved_by}")
    return Decision.deny(
        RuleCode.EQUIPMENT_REMOVAL_NOT_APPROVED,
        f"{visit.person_name} may not take {what} out: no remove-equipment right and no "
        "recorded approval by a staff member",
    )
