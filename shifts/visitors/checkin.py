"""Rule 1: who may check in, and the visit record that results.

A visitor is let in on one of three bases, tried in this order (the first that passes is the
basis recorded on the visit):

a. AUTHORISED_LIST - on the client's authorised list, active, ``valid_from <= now <= valid_until``,
   with a scope covering every requested area;
b. ACCESS_REQUEST - named on an APPROVED request of the client whose window covers ``now`` and
   whose areas cover every requested area;
c. ESCORTED_GUEST - escorted by an on-site visit of an authorised person of the same client who is
   valid now, may bring guests, is under their guest limit, and whose scope covers the areas.

A staff escort (``escort_staff``) is recorded but is not a basis on its own: the issue allows only
the three bases above. An escort visit named on the attempt is recorded (and counts towards the
escort's guest limit) only when the escort rules pass.

Always required, whatever the basis: the ID document checked by a staff member and its name
recorded; the name matching the list or request entry (see ``names.py`` for the tolerance);
the NDA signed when the site requires it; the safety form signed when the site requires it
(an authorised person with a recent enough safety briefing is exempt); a free badge number.

Order of evaluation (the first failure is the code returned): ID check, client active, areas
given, expected check-out in the future, not already on site, basis, NDA, safety form, escort
(when the client or the authorised person is marked "escort required"), badge.
When no basis passes, every failed basis is listed in the reason, the most specific first
(the list entry, request or escort the desk chose explicitly, then ones found by name).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .areas import Area, parse_areas
from .badges import badge_expiry, check_badge_free, normalise_badge
from .bases import Basis, via_escort, via_list, via_request
from .decision import Decision, RuleCode
from .model import (
    AccessRequest,
    AuthorisedPerson,
    Client,
    SitePolicy,
    Visit,
    VisitorDataError,
    VisitStatus,
    require_aware,
)
from .names import names_match

__all__ = ["Basis", "CheckInAttempt", "CheckInDecision", "check_in"]


def _deny(code: RuleCode, reason: str) -> Decision:
    return Decision.deny(code, reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckInAttempt:
    """What the desk entered: the person as on their ID, where they go, badge, forms, escort.

    ``authorised_person_id`` / ``request_id`` are set when the engineer picked the list entry or
    request (search-as-you-type); otherwise the rule looks them up by the name on the ID.
    """

    name_on_id: str
    id_checked_by: str | None
    areas: tuple[Area, ...]
    badge_number: str | None
    nda_signed: bool = False
    safety_form_signed: bool = False
    authorised_person_id: int | None = None
    request_id: int | None = None
    escort_visit_id: int | None = None
    escort_staff: str | None = None
    expected_checkout_at: datetime | None = None
    purpose: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "areas", parse_areas(self.areas))
        require_aware("expected_checkout_at", self.expected_checkout_at)
        if self.escort_visit_id is not None and self.escort_staff is not None:
            raise VisitorDataError(
                "a visit has one escort: either escort_visit_id or escort_staff, not both"
            )


@dataclass(frozen=True, slots=True)
class CheckInDecision(Decision):
    """A check-in decision; when allowed it says on which basis and carries the new visit.

    ``visit`` is the record to store: ON_SITE when allowed, DENIED (with code and reason) for a
    refusal that is not correctable, ``None`` for a correctable refusal (nothing to record).
    """

    basis: Basis | None = None
    authorised_person_id: int | None = None
    request_id: int | None = None
    escort_visit_id: int | None = None
    badge_expires_at: datetime | None = None
    visit: Visit | None = None
    failures: tuple[Decision, ...] = field(default=())


# --- the rule -------------------------------------------------------------------------------


def _briefing_is_current(
    person: AuthorisedPerson | None, now: datetime, policy: SitePolicy
) -> bool:
    days = policy.safety_briefing_valid_days
    if person is None or person.safety_briefing_on is None or days is None:
        return False
    today = now.astimezone(policy.timezone).date()
    return 0 <= (today - person.safety_briefing_on).days <= days


def _prerequisites(
    attempt: CheckInAttempt, client: Client, open_visits: tuple[Visit, ...], now: datetime
) -> Decision | None:
    if not (attempt.id_checked_by and attempt.id_checked_by.strip()):
        return _deny(
            RuleCode.MISSING_ID_CHECK,
            "the visitor's ID document must be checked by a staff member before check-in",
        )
    if not attempt.name_on_id.strip():
        return _deny(
            RuleCode.MISSING_ID_CHECK,
            "the name on the visitor's ID document must be recorded before check-in",
        )
    if not client.active:
        return _deny(RuleCode.CLIENT_INACTIVE, f"client {client.name} is no longer active")
    if not attempt.areas:
        return _deny(
            RuleCode.NO_AREA_REQUESTED, "name at least one hall, cage or rack the visitor goes to"
        )
    expected = attempt.expected_checkout_at
    if expected is not None and expected <= now:
        return _deny(
            RuleCode.EXPECTED_CHECKOUT_INVALID,
            f"expected check-out {expected.isoformat()} is not in the future",
        )
    for visit in open_visits:
        if visit.client_id == client.id and names_match(visit.person_name, attempt.name_on_id):
            return _deny(
                RuleCode.ALREADY_ON_SITE,
                f"{visit.person_name} is already on site for {client.name} "
                f"with badge {visit.badge_number}",
            )
    return None


_NAME_NOT_MATCHED = frozenset(
    {RuleCode.NAME_MISMATCH, RuleCode.NAME_NOT_ON_REQUEST, RuleCode.NOT_AUTHORISED}
)


def _refuse(
    attempt: CheckInAttempt,
    client: Client,
    primary: Decision,
    failures: tuple[Decision, ...],
    now: datetime,
) -> CheckInDecision:
    reason = "; ".join(f.reason for f in failures) if failures else primary.reason
    decision = CheckInDecision(False, primary.code, reason, failures=failures)
    if decision.correctable:
        return decision
    record = Visit(
        client_id=client.id,  # type: ignore[arg-type]  # storage always passes a stored client
        person_name=attempt.name_on_id,
        status=VisitStatus.DENIED,
        recorded_at=now,
        authorised_person_id=attempt.authorised_person_id,
        request_id=attempt.request_id,
        id_checked_by=attempt.id_checked_by,
        name_matched=primary.code not in _NAME_NOT_MATCHED,
        areas=attempt.areas,
        purpose=attempt.purpose,
        nda_signed=attempt.nda_signed,
        safety_form_signed=attempt.safety_form_signed,
        escort_staff=attempt.escort_staff,
        denial_code=primary.code.value,
        denial_reason=reason,
    )
    return CheckInDecision(False, primary.code, reason, visit=record, failures=failures)


def check_escorted(
    client: Client,
    person: AuthorisedPerson | None,
    attempt: CheckInAttempt,
    *,
    escorted_by_visit: Visit | None,
) -> Decision:
    """An "escort required" client or authorised person enters only with an escort: a staff
    escort named at the desk, or an authorised person on site whose escort rules passed.

    Code: ESCORT_REQUIRED (correctable: the desk names an escort and tries again).
    """
    needs = [f"client {client.name}"] if client.escort_required else []
    if person is not None and person.escort_required:
        needs.append(f"{person.name}'s authorisation")
    escorted = escorted_by_visit is not None or bool((attempt.escort_staff or "").strip())
    if needs and not escorted:
        return Decision.deny(
            RuleCode.ESCORT_REQUIRED,
            f"{attempt.name_on_id} may enter only with an escort ({' and '.join(needs)} "
            "requires one); name the staff member who escorts them",
        )
    return Decision.allow("escorted" if escorted else "no escort needed")


def check_in(
    attempt: CheckInAttempt,
    *,
    client: Client,
    authorised: Iterable[AuthorisedPerson],
    requests: Iterable[AccessRequest],
    visits: Iterable[Visit],
    policy: SitePolicy,
    now: datetime,
) -> CheckInDecision:
    """Decide whether the visitor of ``attempt`` may enter now (rule 1, with rule 2's badge).

    ``authorised`` and ``requests`` may hold other clients' entries (they are filtered by
    ``client.id``); ``visits`` must include every visit currently on site (others are ignored).
    """
    require_aware("now", now)
    tz = policy.timezone
    persons = tuple(authorised)
    open_visits = tuple(v for v in visits if v.is_on_site)

    problem = _prerequisites(attempt, client, open_visits, now)
    if problem is not None:
        return _refuse(attempt, client, problem, (), now)

    list_grant, list_failure = via_list(attempt, client, persons, now, tz)
    request_grant, request_failure = via_request(attempt, client, tuple(requests), now, tz)
    escort_grant, escort_failure = via_escort(attempt, client, persons, open_visits, now)
    grant = list_grant or request_grant or escort_grant
    if grant is None:
        explicit = [
            list_failure if attempt.authorised_person_id is not None else None,
            request_failure if attempt.request_id is not None else None,
            escort_failure,
        ]
        implicit = [
            list_failure if attempt.authorised_person_id is None else None,
            request_failure if attempt.request_id is None else None,
        ]
        failures = tuple(f for f in explicit + implicit if f is not None)
        if not failures:
            primary = _deny(
                RuleCode.NOT_AUTHORISED,
                f"{attempt.name_on_id} is not on the authorised list of {client.name}, not "
                "named on any of its access requests, and not escorted by an authorised person",
            )
            return _refuse(attempt, client, primary, (), now)
        return _refuse(attempt, client, failures[0], failures, now)

    if policy.require_nda and not attempt.nda_signed:
        return _refuse(
            attempt,
            client,
            _deny(RuleCode.NDA_NOT_SIGNED, f"{attempt.name_on_id} must sign the NDA first"),
            (),
            now,
        )
    if (
        policy.require_safety_form
        and not attempt.safety_form_signed
        and not _briefing_is_current(grant.person, now, policy)
    ):
        return _refuse(
            attempt,
            client,
            _deny(
                RuleCode.SAFETY_FORM_NOT_SIGNED,
                f"{attempt.name_on_id} must sign the safety form first "
                "(no current safety briefing on file)",
            ),
            (),
            now,
        )
    # The escort is recorded only when its own rules passed (so guest limits stay true).
    escort = escort_grant.escort if escort_grant is not None else None
    unescorted = check_escorted(client, grant.person, attempt, escorted_by_visit=escort)
    if not unescorted.allowed:
        return _refuse(attempt, client, unescorted, (), now)
    badge = check_badge_free(attempt.badge_number, open_visits)
    if not badge.allowed:
        return _refuse(attempt, client, badge, (), now)

    expires = badge_expiry(now, tz, request=grant.request, person=grant.person, escort_visit=escort)
    escort_note = ""
    if attempt.escort_visit_id is not None and escort is None and escort_failure is not None:
        escort_note = f" (escort not recorded: {escort_failure.reason})"
    visit = Visit(
        client_id=client.id,  # type: ignore[arg-type]
        person_name=attempt.name_on_id.strip(),
        status=VisitStatus.ON_SITE,
        recorded_at=now,
        authorised_person_id=grant.person.id if grant.person else None,
        request_id=grant.request.id if grant.request else None,
        id_checked_by=attempt.id_checked_by,
        # For guests the recorded name is the name on the ID, so it matches by construction.
        name_matched=True,
        badge_number=normalise_badge(attempt.badge_number),
        badge_expires_at=expires,
        escort_visit_id=escort.id if escort else None,
        escort_staff=attempt.escort_staff,
        checked_in_at=now,
        expected_checkout_at=attempt.expected_checkout_at,
        areas=attempt.areas,
        purpose=attempt.purpose,
        nda_signed=attempt.nda_signed,
        safety_form_signed=attempt.safety_form_signed,
    )
    reason = {
        Basis.AUTHORISED_LIST: f"{visit.person_name} is on the authorised list of {client.name}",
        Basis.ACCESS_REQUEST: f"{visit.person_name} is named on an approved access request",
        Basis.ESCORTED_GUEST: f"{visit.person_name} is a guest of "
        f"{escort.person_name if escort else 'an authorised person'}",
    }[grant.basis]
    return CheckInDecision(
        True,
        RuleCode.OK,
        reason + escort_note,
        basis=grant.basis,
        authorised_person_id=visit.authorised_person_id,
        request_id=visit.request_id,
        escort_visit_id=visit.escort_visit_id,
        badge_expires_at=expires,
        visit=visit,
    )
