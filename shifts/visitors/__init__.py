"""The visitor access log: the pure rule core (no database, no web).

Storage and screens call into these modules; every decision takes ``now`` (timezone-aware UTC)
and returns a value. See ``rules`` for check-in/check-out/equipment decisions, ``onsite`` for the
on-site, expected and overstay views, ``retention`` for deactivation and purge, ``idmask`` for ID
numbers and ``names`` for how names are compared.
"""

from .areas import Area, AreaError, parse_areas
from .badges import badge_expiry, end_of_local_day
from .bases import Basis
from .checkin import CheckInAttempt, CheckInDecision, check_in
from .decision import CORRECTABLE, Decision, RuleCode
from .idmask import IdMaskError, mask
from .model import (
    AccessRequest,
    AuthorisedPerson,
    Client,
    Direction,
    EquipmentMovement,
    IdDocumentType,
    NaiveDatetimeError,
    RequestStatus,
    SitePolicy,
    Visit,
    VisitorDataError,
    VisitStatus,
)
from .names import names_match
from .onsite import (
    ExpectedVisitor,
    Limit,
    OnSite,
    Overstay,
    expected_today,
    no_shows,
    overstays,
    people_on_site,
)
from .retention import (
    AnonymisedRequest,
    AnonymisedVisit,
    RetentionPolicy,
    RetentionPolicyError,
    plan_purge,
)
from .rules import CheckOutDecision, check_out, equipment_movement_allowed

__all__ = [
    "CORRECTABLE",
    "AccessRequest",
    "AnonymisedRequest",
    "AnonymisedVisit",
    "Area",
    "AreaError",
    "AuthorisedPerson",
    "Basis",
    "CheckInAttempt",
    "CheckInDecision",
    "CheckOutDecision",
    "Client",
    "Decision",
    "Direction",
    "EquipmentMovement",
    "ExpectedVisitor",
    "IdDocumentType",
    "IdMaskError",
    "Limit",
    "NaiveDatetimeError",
    "OnSite",
    "Overstay",
    "RequestStatus",
    "RetentionPolicy",
    "RetentionPolicyError",
    "RuleCode",
    "SitePolicy",
    "Visit",
    "VisitStatus",
    "VisitorDataError",
    "badge_expiry",
    "check_in",
    "check_out",
    "end_of_local_day",
    "equipment_movement_allowed",
    "expected_today",
    "mask",
    "names_match",
    "no_shows",
    "overstays",
    "parse_areas",
    "people_on_site",
    "plan_purge",
]
