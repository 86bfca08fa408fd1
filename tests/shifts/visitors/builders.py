"""Builders for visitor-log tests: one ordinary site, client, person, request and visit.

The scene: the data center is in Berlin; "now" is Tuesday 10 June 2025, 09:00 UTC (11:00 local).
Ivan Petrov is on Acme's authorised list for all of Hall A; Maria Schmidt is named on an approved
request for Hall B / Cage 2 this morning. Builders take keyword overrides for the field a test
is about.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from shifts.visitors.checkin import CheckInAttempt, CheckInDecision, check_in
from shifts.visitors.idmask import mask
from shifts.visitors.model import (
    AccessRequest,
    AuthorisedPerson,
    Client,
    IdDocumentType,
    RequestStatus,
    SitePolicy,
    Visit,
    VisitStatus,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
MIDNIGHT_BERLIN = datetime(2025, 6, 10, 22, 0, tzinfo=UTC)  # 11 June 00:00 CEST
ACME = Client(id=1, name="Acme Hosting", contacts=("ops@acme.example",))
GLOBEX = Client(id=2, name="Globex")
POLICY = SitePolicy(timezone=BERLIN)

H = timedelta(hours=1)
D = timedelta(days=1)


def person(**changes) -> AuthorisedPerson:
    base = AuthorisedPerson(
        id=10,
        client_id=ACME.id,
        name="Ivan Petrov",
        id_document_type=IdDocumentType.PASSPORT,
        id_number_masked=mask("AB1234567"),
        scope=("Hall A",),
        valid_from=NOW - 365 * D,
        valid_until=NOW + 365 * D,
        may_bring_guests=True,
        guest_limit=2,
        may_remove_equipment=False,
        last_visit=NOW - 30 * D,
        safety_briefing_on=date(2025, 1, 15),
    )
    return replace(base, **changes)


def request(**changes) -> AccessRequest:
    base = AccessRequest(
        id=100,
        client_id=ACME.id,
        people=("Maria Schmidt",),
        window_start=NOW - H,
        window_end=NOW + 4 * H,
        areas=("Hall B / Cage 2",),
        purpose="replace PSU in rack 4",
        vehicle_plate="B-XY 1234",
        requested_by="Anna Contact",
        status=RequestStatus.APPROVED,
        decided_by="Olga Duty",
    )
    return replace(base, **changes)


def visit(**changes) -> Visit:
    """Ivan Petrov, on site since 07:00 UTC with badge B001."""
    base = Visit(
        id=500,
        client_id=ACME.id,
        person_name="Ivan Petrov",
        status=VisitStatus.ON_SITE,
        recorded_at=NOW - 2 * H,
        authorised_person_id=10,
        id_checked_by="Olga Duty",
        name_matched=True,
        badge_number="B001",
        badge_expires_at=MIDNIGHT_BERLIN,
        checked_in_at=NOW - 2 * H,
        areas=("Hall A",),
        nda_signed=True,
        safety_form_signed=True,
    )
    return replace(base, **changes)


def left(v: Visit, at: datetime) -> Visit:
    return replace(v, status=VisitStatus.LEFT, checked_out_at=at, badge_returned=True)


def attempt(**changes) -> CheckInAttempt:
    base = CheckInAttempt(
        name_on_id="Ivan Petrov",
        id_checked_by="Olga Duty",
        areas=("Hall A / Cage 3 / Rack 12",),
        badge_number="B017",
        nda_signed=True,
        safety_form_signed=True,
    )
    return replace(base, **changes)


def decide(
    att: CheckInAttempt,
    *,
    persons=None,
    requests=(),
    visits=(),
    policy: SitePolicy = POLICY,
    now: datetime = NOW,
    client: Client = ACME,
) -> CheckInDecision:
    return check_in(
        att,
        client=client,
        authorised=(person(),) if persons is None else persons,
        requests=requests,
        visits=visits,
        policy=policy,
        now=now,
    )
