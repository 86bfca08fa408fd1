"""The answer every visitor rule gives: allowed or not, which rule decided, and why.

A rule never raises to say "no": it returns a ``Decision`` whose ``code`` names the rule that
failed and whose ``reason`` is the sentence shown to the duty engineer. Exceptions are kept for
programming and data errors (naive datetimes, a record that does not belong to the visit).

``correctable`` tells the caller what to do with a refusal at the desk: a correctable refusal
(no ID check recorded, badge already in use, form not signed, ...) means "fix the input and try
again" and is not recorded as a denied visit; any other refusal is a real denial and the caller
records the visit as denied with the code and reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RuleCode(enum.StrEnum):
    """Stable codes for storage, logs and tests; the wording of reasons may change."""

    OK = "ok"
    # Rule 1: check-in prerequisites
    MISSING_ID_CHECK = "missing_id_check"
    NO_AREA_REQUESTED = "no_area_requested"
    EXPECTED_CHECKOUT_INVALID = "expected_checkout_invalid"
    ALREADY_ON_SITE = "already_on_site"
    CLIENT_INACTIVE = "client_inactive"
    NDA_NOT_SIGNED = "nda_not_signed"
    SAFETY_FORM_NOT_SIGNED = "safety_form_not_signed"
    # Rule 1a: authorised list
    NOT_AUTHORISED = "not_authorised"
    UNKNOWN_AUTHORISED_PERSON = "unknown_authorised_person"
    NAME_MISMATCH = "name_mismatch"
    AUTHORISATION_INACTIVE = "authorisation_inactive"
    AUTHORISATION_NOT_YET_VALID = "authorisation_not_yet_valid"
    AUTHORISATION_EXPIRED = "authorisation_expired"
    AREA_NOT_IN_SCOPE = "area_not_in_scope"
    # Rule 1b: access request
    UNKNOWN_REQUEST = "unknown_request"
    NAME_NOT_ON_REQUEST = "name_not_on_request"
    REQUEST_NOT_APPROVED = "request_not_approved"
    REQUEST_OUTSIDE_WINDOW = "request_outside_window"
    AREA_NOT_ON_REQUEST = "area_not_on_request"
    # Rule 1c: escort
    ESCORT_NOT_ON_SITE = "escort_not_on_site"
    ESCORT_NOT_AUTHORISED = "escort_not_authorised"
    ESCORT_MAY_NOT_BRING_GUESTS = "escort_may_not_bring_guests"
    ESCORT_GUEST_LIMIT_REACHED = "escort_guest_limit_reached"
    AREA_NOT_IN_ESCORT_SCOPE = "area_not_in_escort_scope"
    ESCORT_REQUIRED = "escort_required"
    # Access requests: four eyes
    FOUR_EYES = "four_eyes"
    # Rule 2: badges
    BADGE_MISSING = "badge_missing"
    BADGE_IN_USE = "badge_in_use"
    BADGE_NOT_RETURNED = "badge_not_returned"
    # Rules 2/3: check-out
    NOT_ON_SITE = "not_on_site"
    ESCORT_HAS_GUESTS_INSIDE = "escort_has_guests_inside"
    # Rule 4: equipment
    EQUIPMENT_REMOVAL_NOT_APPROVED = "equipment_removal_not_approved"


# Refusals the desk fixes by correcting its input; everything else is a denial to record.
CORRECTABLE: frozenset[RuleCode] = frozenset(
    {
        RuleCode.MISSING_ID_CHECK,
        RuleCode.NO_AREA_REQUESTED,
        RuleCode.EXPECTED_CHECKOUT_INVALID,
        RuleCode.ALREADY_ON_SITE,
        RuleCode.NDA_NOT_SIGNED,
        RuleCode.SAFETY_FORM_NOT_SIGNED,
        RuleCode.UNKNOWN_AUTHORISED_PERSON,
        RuleCode.UNKNOWN_REQUEST,
        RuleCode.BADGE_MISSING,
        RuleCode.BADGE_IN_USE,
        RuleCode.BADGE_NOT_RETURNED,
        RuleCode.NOT_ON_SITE,
        RuleCode.ESCORT_HAS_GUESTS_INSIDE,
        RuleCode.EQUIPMENT_REMOVAL_NOT_APPROVED,
        RuleCode.ESCORT_REQUIRED,
    }
)


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed`` with ``code`` OK, or refused with the failing rule's ``code`` and ``reason``."""

    allowed: bool
    code: RuleCode
    reason: str

    @classmethod
    def allow(cls, reason: str = "allowed") -> Decision:
        return cls(True, RuleCode.OK, reason)

    @classmethod
    def deny(cls, code: RuleCode, reason: str) -> Decision:
        if code is RuleCode.OK:
            raise ValueError("a refusal needs the code of the rule that failed, got 'ok'")
        return cls(False, code, reason)

    @property
    def correctable(self) -> bool:
        """True for a refusal the desk fixes and retries (not recorded as a denied visit)."""
        return not self.allowed and self.code in CORRECTABLE
