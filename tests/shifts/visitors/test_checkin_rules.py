"""Rule 1: who may check in. One table of admissions, one of refusals, then the details."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from shifts.visitors.areas import Area
from shifts.visitors.checkin import Basis
from shifts.visitors.decision import RuleCode
from shifts.visitors.model import (
    NaiveDatetimeError,
    RequestStatus,
    SitePolicy,
    VisitorDataError,
    VisitStatus,
)
from tests.shifts.visitors.builders import (
    ACME,
    BERLIN,
    GLOBEX,
    NOW,
    POLICY,
    D,
    H,
    attempt,
    decide,
    left,
    person,
    request,
    visit,
)

S = timedelta(seconds=1)
MARIA = {"name_on_id": "Maria Schmidt", "areas": ("Hall B / Cage 2 / Rack 4",)}
# Karl is nobody's list entry: he can come in only as Ivan's guest.
KARL = {"name_on_id": "Karl Gast", "escort_visit_id": 500}


ADMITTED = [
    pytest.param({}, {}, Basis.AUTHORISED_LIST, id="listed person, hall scope covers a rack in it"),
    pytest.param(
        {},
        {"persons": (person(scope=("Hall A / Cage 3 / Rack 12",)),)},
        Basis.AUTHORISED_LIST,
        id="listed person, scope is exactly the requested rack",
    ),
    pytest.param(
        {"authorised_person_id": 10},
        {},
        Basis.AUTHORISED_LIST,
        id="engineer picked the list entry explicitly",
    ),
    pytest.param(
        {"name_on_id": "  ivan   PETROV "},
        {},
        Basis.AUTHORISED_LIST,
        id="name on the ID differs only in case and spacing",
    ),
    pytest.param(
        {"name_on_id": "Ivаn Pеtrov"},  # Cyrillic а and е typed with the wrong layout
        {},
        Basis.AUTHORISED_LIST,
        id="name typed with Cyrillic lookalike letters",
    ),
    pytest.param(
        {"name_on_id": "PETROV Ivan"},
        {},
        Basis.AUTHORISED_LIST,
        id="document puts the surname first",
    ),
    pytest.param(
        {},
        {"persons": (person(valid_until=NOW),)},
        Basis.AUTHORISED_LIST,
        id="authorisation ends exactly now (valid_until is inclusive)",
    ),
    pytest.param(
        {},
        {"persons": (person(valid_from=NOW),)},
        Basis.AUTHORISED_LIST,
        id="authorisation starts exactly now",
    ),
    pytest.param(
        {"areas": ("Hall A / Cage 3", "hall a / cage 4 / rack 1")},
        {},
        Basis.AUTHORISED_LIST,
        id="several areas, all inside the scope (case-insensitive)",
    ),
    pytest.param(
        MARIA,
        {"requests": (request(),)},
        Basis.ACCESS_REQUEST,
        id="named on an approved request whose window covers now",
    ),
    pytest.param(
        MARIA | {"request_id": 100},
        {"requests": (request(),)},
        Basis.ACCESS_REQUEST,
        id="engineer picked the request explicitly",
    ),
    pytest.param(
        MARIA,
        {"requests": (request(window_start=NOW),)},
        Basis.ACCESS_REQUEST,
        id="request window starts exactly now",
    ),
    pytest.param(
        MARIA,
        {
            "requests": (
                request(id=99, window_start=NOW - 30 * D, window_end=NOW - 29 * D),
                request(),
            )
        },
        Basis.ACCESS_REQUEST,
        id="an old request is ignored when a current one covers now",
    ),
    pytest.param(
        {},
        {
            "persons": (person(valid_until=NOW - D),),
            "requests": (request(people=("Ivan Petrov",), areas=("Hall A",)),),
        },
        Basis.ACCESS_REQUEST,
        id="expired list entry, but named on a current approved request",
    ),
    pytest.param(
        MARIA | {"escort_staff": "Olga Duty"},
        {"requests": (request(),)},
        Basis.ACCESS_REQUEST,
        id="request visitor escorted by staff",
    ),
    pytest.param(
        KARL,
        {"visits": (visit(),)},
        Basis.ESCORTED_GUEST,
        id="guest of an on-site authorised person who may bring guests",
    ),
    pytest.param(
        KARL,
        {
            "visits": (
                visit(),
                visit(
                    id=501,
                    person_name="Eva Gast",
                    badge_number="B002",
                    authorised_person_id=None,
                    escort_visit_id=500,
                ),
            )
        },
        Basis.ESCORTED_GUEST,
        id="second guest, still under the escort's limit of two",
    ),
    pytest.param(
        {"safety_form_signed": False},
        {},
        Basis.AUTHORISED_LIST,
        id="listed person with a current safety briefing need not sign the form",
    ),
    pytest.param(
        {"nda_signed": False, "safety_form_signed": False},
        {"policy": SitePolicy(timezone=BERLIN, require_nda=False, require_safety_form=False)},
        Basis.AUTHORISED_LIST,
        id="site requires neither NDA nor safety form",
    ),
]


@pytest.mark.parametrize(("attempt_changes", "world", "basis"), ADMITTED)
def test_visitor_is_admitted(attempt_changes, world, basis):
    decision = decide(attempt(**attempt_changes), **world)

    assert decision.allowed, decision.reason
    assert decision.code is RuleCode.OK
    assert decision.basis is basis
    assert decision.visit is not None
    assert decision.visit.status is VisitStatus.ON_SITE


REFUSED = [
    # --- the ID check comes first --------------------------------------------------------
    pytest.param(
        {"id_checked_by": None},
        {},
        RuleCode.MISSING_ID_CHECK,
        "checked by a staff member",
        id="no staff member checked the ID",
    ),
    pytest.param(
        {"id_checked_by": "   "},
        {},
        RuleCode.MISSING_ID_CHECK,
        "checked by a staff member",
        id="ID checker is blank",
    ),
    pytest.param(
        {"name_on_id": " "},
        {},
        RuleCode.MISSING_ID_CHECK,
        "name on the visitor's ID",
        id="name on the ID not recorded",
    ),
    pytest.param(
        {"name_on_id": "John Doe", "id_checked_by": None},
        {},
        RuleCode.MISSING_ID_CHECK,
        "",
        id="missing ID check is reported before not being authorised",
    ),
    # --- prerequisites -----------------------------------------------------------------------
    pytest.param(
        {},
        {"client": replace(ACME, active=False)},
        RuleCode.CLIENT_INACTIVE,
        "Acme Hosting",
        id="client is no longer active",
    ),
    pytest.param(
        {"areas": ()},
        {},
        RuleCode.NO_AREA_REQUESTED,
        "hall, cage or rack",
        id="no area requested",
    ),
    pytest.param(
        {"expected_checkout_at": NOW - H},
        {},
        RuleCode.EXPECTED_CHECKOUT_INVALID,
        "future",
        id="expected check-out in the past",
    ),
    pytest.param(
        {},
        {"visits": (visit(badge_number="B009"),)},
        RuleCode.ALREADY_ON_SITE,
        "B009",
        id="same person already on site",
    ),
    # --- rule 1a: the authorised list -------------------------------------------------------
    pytest.param(
        {"name_on_id": "John Doe"},
        {},
        RuleCode.NOT_AUTHORISED,
        "John Doe",
        id="on no list, no request, no escort",
    ),
    pytest.param(
        {},
        {"persons": (person(client_id=GLOBEX.id),)},
        RuleCode.NOT_AUTHORISED,
        "",
        id="on another client's list only",
    ),
    pytest.param(
        {},
        {"persons": (person(valid_until=NOW - S),)},
        RuleCode.AUTHORISATION_EXPIRED,
        "expired on 2025-06-10 10:59 CEST",
        id="authorisation expired a second ago",
    ),
    pytest.param(
        {},
        {"persons": (person(valid_from=NOW + D),)},
        RuleCode.AUTHORISATION_NOT_YET_VALID,
        "2025-06-11",
        id="authorisation starts tomorrow",
    ),
    pytest.param(
        {},
        {"persons": (person(active=False),)},
        RuleCode.AUTHORISATION_INACTIVE,
        "deactivated",
        id="list entry deactivated",
    ),
    pytest.param(
        {"areas": ("Hall B / Cage 1",)},
        {},
        RuleCode.AREA_NOT_IN_SCOPE,
        "Hall B / Cage 1",
        id="area in another hall",
    ),
    pytest.param(
        {"areas": ("Hall A",)},
        {"persons": (person(scope=("Hall A / Cage 3",)),)},
        RuleCode.AREA_NOT_IN_SCOPE,
        "",
        id="cage scope does not cover the whole hall",
    ),
    pytest.param(
        {"areas": ("Hall A / Cage 4 / Rack 1",)},
        {"persons": (person(scope=("Hall A / Cage 3",)),)},
        RuleCode.AREA_NOT_IN_SCOPE,
        "Cage 4",
        id="cage scope does not cover a sibling cage",
    ),
    pytest.param(
        {"areas": ("Hall A / Cage 3", "Hall C")},
        {},
        RuleCode.AREA_NOT_IN_SCOPE,
        "Hall C",
        id="one of two areas outside the scope",
    ),
    pytest.param(
        {"authorised_person_id": 10, "name_on_id": "Pyotr Ivanov"},
        {},
        RuleCode.NAME_MISMATCH,
        "Pyotr Ivanov",
        id="picked list entry, different name on the ID",
    ),
    pytest.param(
        {"authorised_person_id": 99},
        {},
        RuleCode.UNKNOWN_AUTHORISED_PERSON,
        "#99",
        id="picked list entry does not exist",
    ),
    # --- rule 1b: access requests -----------------------------------------------------------
    pytest.param(
        MARIA,
        {"requests": (request(status=RequestStatus.PENDING, decided_by=None),)},
        RuleCode.REQUEST_NOT_APPROVED,
        "pending",
        id="request still pending",
    ),
    pytest.param(
        MARIA,
        {"requests": (request(status=RequestStatus.REJECTED),)},
        RuleCode.REQUEST_NOT_APPROVED,
        "rejected",
        id="request rejected",
    ),
    pytest.param(
        MARIA,
        {"requests": (request(window_end=NOW - 60 * S),)},
        RuleCode.REQUEST_OUTSIDE_WINDOW,
        "request #100",
        id="request window ended a minute ago",
    ),
    pytest.param(
        MARIA,
        {"requests": (request(window_end=NOW),)},
        RuleCode.REQUEST_OUTSIDE_WINDOW,
        "",
        id="request window ends exactly now (half-open)",
    ),
    pytest.param(
        MARIA,
        {"requests": (request(window_start=NOW + 3 * H, window_end=NOW + 5 * H),)},
        RuleCode.REQUEST_OUTSIDE_WINDOW,
        "14:00 CEST",
        id="request window starts this afternoon",
    ),
    pytest.param(
        MARIA | {"areas": ("Hall B / Cage 3",)},
        {"requests": (request(),)},
        RuleCode.AREA_NOT_ON_REQUEST,
        "Hall B / Cage 3",
        id="area not on the request",
    ),
    pytest.param(
        MARIA | {"request_id": 100, "name_on_id": "Max Muster"},
        {"requests": (request(),)},
        RuleCode.NAME_NOT_ON_REQUEST,
        "Maria Schmidt",
        id="picked request does not name the visitor",
    ),
    pytest.param(
        MARIA | {"request_id": 7},
        {"requests": (request(),)},
        RuleCode.UNKNOWN_REQUEST,
        "#7",
        id="picked request does not exist",
    ),
    pytest.param(
        MARIA | {"request_id": 100},
        {"requests": (request(client_id=GLOBEX.id),)},
        RuleCode.UNKNOWN_REQUEST,
        "",
        id="picked request belongs to another client",
    ),
    # --- rule 1c: escorts -------------------------------------------------------------------
    pytest.param(
        KARL,
        {"visits": (left(visit(), NOW - H),)},
        RuleCode.ESCORT_NOT_ON_SITE,
        "#500",
        id="escort has already left",
    ),
    pytest.param(
        KARL,
        {"visits": (visit(authorised_person_id=None, person_name="Maria Schmidt"),)},
        RuleCode.ESCORT_NOT_AUTHORISED,
        "Maria Schmidt",
        id="escort came on a request, not the list",
    ),
    pytest.param(
        KARL,
        {"visits": (visit(client_id=GLOBEX.id),)},
        RuleCode.ESCORT_NOT_AUTHORISED,
        "another client",
        id="escort visits for another client",
    ),
    pytest.param(
        KARL,
        {"visits": (visit(),), "persons": (person(valid_until=NOW - H),)},
        RuleCode.ESCORT_NOT_AUTHORISED,
        "no longer valid",
        id="escort's authorisation ran out",
    ),
    pytest.param(
        KARL,
        {"visits": (visit(),), "persons": (person(may_bring_guests=False),)},
        RuleCode.ESCORT_MAY_NOT_BRING_GUESTS,
        "Ivan Petrov",
        id="escort may not bring guests",
    ),
    pytest.param(
        KARL,
        {
            "visits": (
                visit(),
                visit(
                    id=501,
                    person_name="Eva Gast",
                    badge_number="B002",
                    authorised_person_id=None,
                    escort_visit_id=500,
                ),
            ),
            "persons": (person(guest_limit=1),),
        },
        RuleCode.ESCORT_GUEST_LIMIT_REACHED,
        "Eva Gast",
        id="escort already at the guest limit",
    ),
    pytest.param(
        KARL | {"areas": ("Hall B",)},
        {"visits": (visit(),)},
        RuleCode.AREA_NOT_IN_ESCORT_SCOPE,
        "Hall B",
        id="guest wants an area the escort may not enter",
    ),
    pytest.param(
        {"name_on_id": "Karl Gast", "escort_staff": "Olga Duty"},
        {},
        RuleCode.NOT_AUTHORISED,
        "Karl Gast",
        id="a staff escort alone is not a basis",
    ),
    # --- forms and badge (after the basis) --------------------------------------------------
    pytest.param(
        {"nda_signed": False},
        {},
        RuleCode.NDA_NOT_SIGNED,
        "NDA",
        id="NDA not signed",
    ),
    pytest.param(
        {"safety_form_signed": False},
        {"persons": (person(safety_briefing_on=date(2024, 1, 5)),)},
        RuleCode.SAFETY_FORM_NOT_SIGNED,
        "safety form",
        id="form unsigned, briefing too old",
    ),
    pytest.param(
        {"safety_form_signed": False},
        {"persons": (person(safety_briefing_on=None),)},
        RuleCode.SAFETY_FORM_NOT_SIGNED,
        "",
        id="form unsigned, never briefed",
    ),
    pytest.param(
        MARIA | {"safety_form_signed": False},
        {"requests": (request(),)},
        RuleCode.SAFETY_FORM_NOT_SIGNED,
        "",
        id="request visitor must always sign the form",
    ),
    pytest.param(
        {"badge_number": "B001"},
        {"visits": (visit(person_name="Eva Gast", authorised_person_id=None),)},
        RuleCode.BADGE_IN_USE,
        "Eva Gast",
        id="badge already issued to someone on site",
    ),
    pytest.param(
        {"badge_number": ""},
        {},
        RuleCode.BADGE_MISSING,
        "badge",
        id="no badge number",
    ),
]


@pytest.mark.parametrize(("attempt_changes", "world", "code", "mentions"), REFUSED)
def test_visitor_is_refused_with_the_rule_that_failed(attempt_changes, world, code, mentions):
    decision = decide(attempt(**attempt_changes), **world)

    assert not decision.allowed
    assert decision.code is code
    assert mentions in decision.reason
    assert decision.basis is None


def test_admitted_visitor_gets_an_on_site_visit_with_badge_and_basis():
    decision = decide(attempt(purpose="cabling", expected_checkout_at=NOW + 3 * H))

    v = decision.visit
    assert (v.person_name, v.client_id, v.authorised_person_id) == ("Ivan Petrov", 1, 10)
    assert (v.badge_number, v.checked_in_at, v.recorded_at) == ("B017", NOW, NOW)
    assert v.badge_expires_at == decision.badge_expires_at
    assert v.id_checked_by == "Olga Duty" and v.name_matched
    assert v.areas == (Area.parse("Hall A / Cage 3 / Rack 12"),)
    assert v.expected_checkout_at == NOW + 3 * H and v.purpose == "cabling"
    assert decision.authorised_person_id == 10


def test_request_visitor_is_recorded_under_the_request():
    decision = decide(attempt(**MARIA), requests=(request(),))

    assert decision.request_id == 100
    assert decision.visit.request_id == 100
    assert decision.visit.authorised_person_id is None


def test_real_denial_comes_with_a_denied_visit_to_record():
    decision = decide(attempt(), persons=(person(valid_until=NOW - D),))

    assert not decision.correctable
    denied = decision.visit
    assert denied.status is VisitStatus.DENIED
    assert denied.denial_code == "authorisation_expired"
    assert denied.denial_reason == decision.reason
    assert denied.checked_in_at is None and denied.recorded_at == NOW
    assert denied.name_matched  # he is who the list says; only the authorisation is over


def test_unknown_visitor_is_recorded_as_denied_with_name_not_matched():
    decision = decide(attempt(name_on_id="John Doe"))

    assert decision.visit.status is VisitStatus.DENIED
    assert not decision.visit.name_matched


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"id_checked_by": None}, id="missing ID check"),
        pytest.param({"nda_signed": False}, id="NDA not signed"),
        pytest.param({"badge_number": None}, id="no badge"),
    ],
)
def test_correctable_refusal_records_nothing(changes):
    decision = decide(attempt(**changes))

    assert not decision.allowed
    assert decision.correctable
    assert decision.visit is None


def test_every_failed_basis_is_explained_most_relevant_first():
    decision = decide(
        attempt(),
        persons=(person(valid_until=NOW - D),),
        requests=(request(people=("Ivan Petrov",), status=RequestStatus.PENDING, decided_by=None),),
    )

    assert decision.code is RuleCode.AUTHORISATION_EXPIRED
    assert [f.code for f in decision.failures] == [
        RuleCode.AUTHORISATION_EXPIRED,
        RuleCode.REQUEST_NOT_APPROVED,
    ]
    assert "expired" in decision.reason and "pending" in decision.reason


def test_the_request_the_engineer_picked_is_explained_before_the_list_entry():
    decision = decide(
        attempt(request_id=100),
        persons=(person(valid_until=NOW - D),),
        requests=(request(people=("Ivan Petrov",), window_start=NOW - 3 * H, window_end=NOW - H),),
    )

    assert decision.code is RuleCode.REQUEST_OUTSIDE_WINDOW


def test_escort_that_fails_its_rules_is_not_recorded_when_another_basis_admits():
    # Ivan's own guest limit is reached, but Karl is on the list himself.
    karl = person(id=11, name="Karl Gast", may_bring_guests=False)
    eva = visit(
        id=501,
        person_name="Eva Gast",
        badge_number="B002",
        authorised_person_id=None,
        escort_visit_id=500,
    )
    decision = decide(
        attempt(**KARL),
        persons=(person(guest_limit=1), karl),
        visits=(visit(), eva),
    )

    assert decision.allowed
    assert decision.basis is Basis.AUTHORISED_LIST
    assert decision.visit.escort_visit_id is None
    assert "escort not recorded" in decision.reason


def test_admitted_guests_count_towards_the_escort_limit():
    ivan = person(guest_limit=1)
    first = decide(attempt(**KARL), persons=(ivan,), visits=(visit(),))
    karl_inside = replace(first.visit, id=600)  # as stored

    second = decide(
        attempt(name_on_id="Eva Gast", escort_visit_id=500, badge_number="B018"),
        persons=(ivan,),
        visits=(visit(), karl_inside),
    )

    assert first.allowed and first.visit.escort_visit_id == 500
    assert second.code is RuleCode.ESCORT_GUEST_LIMIT_REACHED


def test_guest_badge_never_outlives_the_escorts_badge():
    escort = visit(badge_expires_at=NOW + 2 * H)

    decision = decide(attempt(**KARL), visits=(escort,))

    assert decision.badge_expires_at == NOW + 2 * H


def test_naive_now_is_rejected():
    with pytest.raises(NaiveDatetimeError, match="now must be timezone-aware"):
        decide(attempt(), now=datetime(2025, 6, 10, 9, 0))


def test_attempt_cannot_name_two_escorts():
    with pytest.raises(VisitorDataError, match="one escort"):
        attempt(escort_visit_id=500, escort_staff="Olga Duty")


def test_policy_rejects_an_unknown_time_zone():
    with pytest.raises(VisitorDataError, match="IANA zone"):
        SitePolicy(timezone="Mars/Olympus")


def test_policy_default_covers_nda_and_safety():
    assert POLICY.require_nda and POLICY.require_safety_form


def test_timestamps_in_reasons_are_site_local_time():
    decision = decide(
        attempt(), persons=(person(valid_until=datetime(2025, 1, 1, 12, tzinfo=UTC)),)
    )
    assert "2025-01-01 13:00 CET" in decision.reason
