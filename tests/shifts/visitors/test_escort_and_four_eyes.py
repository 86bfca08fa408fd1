"""Pure rules added for PCI DSS 9.3 in spirit: one form for a badge number, "escort required"
for clients and authorised persons, and four eyes on access requests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shifts.visitors.access_requests import check_four_eyes
from shifts.visitors.badges import check_badge_free, normalise_badge
from shifts.visitors.decision import RuleCode
from shifts.visitors.model import SitePolicy, VisitorDataError
from shifts.visitors.settings import policies_from_settings
from shifts.visitors.storage_common import VisitorInputError

from .builders import ACME, POLICY, attempt, decide, person, visit


@pytest.mark.parametrize("typed", ["B001", "b-001", " B-001 ", "b 001", "B_001", "b–001"])
def test_every_way_of_typing_badge_b001_is_the_one_badge(typed: str) -> None:
    assert normalise_badge(typed) == "B001"
    held = check_badge_free(typed, (visit(badge_number="B001"),))
    assert held.code is RuleCode.BADGE_IN_USE


def test_leading_zeros_still_tell_badges_apart() -> None:
    assert normalise_badge("B1") != normalise_badge("B001")


def test_an_allowed_visit_stores_the_badge_in_its_one_form() -> None:
    decision = decide(attempt(badge_number=" b-017 "))
    assert decision.allowed and decision.visit.badge_number == "B017"


def test_a_person_marked_escort_required_does_not_enter_alone() -> None:
    alone = decide(attempt(), persons=(person(escort_required=True),))
    assert alone.code is RuleCode.ESCORT_REQUIRED and alone.correctable
    assert "escort" in alone.reason and alone.visit is None  # nothing recorded: desk fixes it
    escorted = decide(attempt(escort_staff="Olga Duty"), persons=(person(escort_required=True),))
    assert escorted.allowed and escorted.visit.escort_staff == "Olga Duty"


def test_a_client_marked_escort_required_needs_an_escort_for_everyone() -> None:
    strict = replace(ACME, escort_required=True)
    assert decide(attempt(), client=strict).code is RuleCode.ESCORT_REQUIRED
    assert decide(attempt(escort_staff="Olga Duty"), client=strict).allowed


def test_a_guest_escorted_by_an_authorised_person_on_site_counts_as_escorted() -> None:
    strict = replace(ACME, escort_required=True)
    guest = attempt(name_on_id="Petra Novak", escort_visit_id=500, badge_number="G1")
    decision = decide(guest, client=strict, visits=(visit(),))
    assert decision.allowed and decision.visit.escort_visit_id == 500


@pytest.mark.parametrize("approver, entered_by, requested_by, allowed", [
    ({"olena@dc.example"}, "olena@dc.example", "Anna Contact", False),  # entered it herself
    ({"OLENA@dc.example "}, "olena@dc.example", "", False),  # same person, typed differently
    ({"taras@dc.example"}, "olena@dc.example", "taras@dc.example", False),  # asked for it
    ({"taras@dc.example"}, "olena@dc.example", "Anna Contact", True),  # a colleague's request
    ({"token#7"}, "token#3", "token:ci", True),  # two tokens, one name: ids tell them apart
], ids=["own-entry", "case-and-spaces", "own-request", "colleague", "other-token"])
def test_four_eyes_refuses_approving_ones_own_request(
    approver: set[str], entered_by: str, requested_by: str, allowed: bool
) -> None:
    decision = check_four_eyes(approver, entered_by, requested_by, POLICY)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.code is RuleCode.FOUR_EYES


def test_a_one_person_site_turns_four_eyes_off_only_with_a_reason() -> None:
    with pytest.raises(VisitorDataError, match="four_eyes_off_reason"):
        SitePolicy(timezone="Europe/Kyiv", four_eyes=False)
    alone = SitePolicy(timezone="Europe/Kyiv", four_eyes=False,
                       four_eyes_off_reason="one engineer on site at night")
    decision = check_four_eyes({"olena@dc.example"}, "olena@dc.example", "", alone)
    assert decision.allowed and "one engineer on site at night" in decision.reason


def test_the_visitors_settings_section_turns_four_eyes_off_only_with_a_reason() -> None:
    with pytest.raises(VisitorInputError, match="four_eyes_off_reason"):
        policies_from_settings({"four_eyes": False}, "Europe/Kyiv")
    with pytest.raises(VisitorInputError, match="true or false"):
        policies_from_settings({"four_eyes": "no"}, "Europe/Kyiv")
    site, _retention = policies_from_settings(
        {"four_eyes": False, "four_eyes_off_reason": "one engineer at night"}, "Europe/Kyiv")
    assert not site.four_eyes and site.four_eyes_off_reason == "one engineer at night"
    assert policies_from_settings({}, "Europe/Kyiv")[0].four_eyes
