"""Rule 1, the three bases on which a visitor may enter (see ``checkin`` for the whole rule).

Each ``via_*`` function returns ``(grant, None)`` when its basis passes, ``(None, failure)`` when
it applies to the visitor but fails (the failure explains why), and ``(None, None)`` when it does
not apply at all (not on the list, on no request, no escort named).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .areas import Area, uncovered
from .decision import Decision, RuleCode
from .model import AccessRequest, AuthorisedPerson, Client, RequestStatus, Visit
from .names import names_match

if TYPE_CHECKING:
    from .checkin import CheckInAttempt


class Basis(enum.StrEnum):
    AUTHORISED_LIST = "authorised_list"
    ACCESS_REQUEST = "access_request"
    ESCORTED_GUEST = "escorted_guest"


@dataclass(frozen=True, slots=True)
class Grant:
    """A basis that passed, with the record that granted it."""

    basis: Basis
    person: AuthorisedPerson | None = None
    request: AccessRequest | None = None
    escort: Visit | None = None
    escort_person: AuthorisedPerson | None = None


def when(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _areas(areas: Iterable[Area]) -> str:
    return ", ".join(a.text for a in areas)


def _deny(code: RuleCode, reason: str) -> Decision:
    return Decision.deny(code, reason)


# --- basis a: authorised list -------------------------------------------------------------


def _judge_person(
    person: AuthorisedPerson, attempt: CheckInAttempt, client: Client, now: datetime, tz: ZoneInfo
) -> Decision:
    who = f"{person.name} (authorised for {client.name})"
    if not person.active:
        return _deny(RuleCode.AUTHORISATION_INACTIVE, f"{who} has been deactivated")
    if now < person.valid_from:
        return _deny(
            RuleCode.AUTHORISATION_NOT_YET_VALID,
            f"{who} is authorised only from {when(person.valid_from, tz)}",
        )
    if person.valid_until is not None and now > person.valid_until:
        return _deny(
            RuleCode.AUTHORISATION_EXPIRED,
            f"the authorisation of {who} expired on {when(person.valid_until, tz)}",
        )
    outside = uncovered(person.scope, attempt.areas)
    if outside:
        return _deny(
            RuleCode.AREA_NOT_IN_SCOPE,
            f"{who} may enter {_areas(person.scope)} only, not {_areas(outside)}",
        )
    return Decision.allow(f"{who} is on the authorised list")


def via_list(
    attempt: CheckInAttempt,
    client: Client,
    persons: tuple[AuthorisedPerson, ...],
    now: datetime,
    tz: ZoneInfo,
) -> tuple[Grant | None, Decision | None]:
    if attempt.authorised_person_id is not None:
        chosen = [
            p for p in persons if p.id == attempt.authorised_person_id and p.client_id == client.id
        ]
        if not chosen:
            return None, _deny(
                RuleCode.UNKNOWN_AUTHORISED_PERSON,
                f"authorised person #{attempt.authorised_person_id} is not on the list of "
                f"{client.name}",
            )
        person = chosen[0]
        if not names_match(person.name, attempt.name_on_id):
            return None, _deny(
                RuleCode.NAME_MISMATCH,
                f"the name on the ID document, {attempt.name_on_id!r}, does not match "
                f"{person.name!r} on the authorised list of {client.name}",
            )
        candidates = [person]
    else:
        candidates = [
            p
            for p in persons
            if p.client_id == client.id and names_match(p.name, attempt.name_on_id)
        ]
    first_failure: Decision | None = None
    for person in candidates:
        verdict = _judge_person(person, attempt, client, now, tz)
        if verdict.allowed:
            return Grant(Basis.AUTHORISED_LIST, person=person), None
        first_failure = first_failure or verdict
    return None, first_failure


# --- basis b: access request --------------------------------------------------------------


def _judge_request(
    request: AccessRequest, attempt: CheckInAttempt, now: datetime, tz: ZoneInfo
) -> Decision:
    label = f"access request #{request.id}" if request.id is not None else "the access request"
    if request.status is not RequestStatus.APPROVED:
        return _deny(RuleCode.REQUEST_NOT_APPROVED, f"{label} is {request.status.value}")
    if not request.window_covers(now):
        return _deny(
            RuleCode.REQUEST_OUTSIDE_WINDOW,
            f"{label} is for {when(request.window_start, tz)} to "
            f"{when(request.window_end, tz)}, not now ({when(now, tz)})",
        )
    outside = uncovered(request.areas, attempt.areas)
    if outside:
        return _deny(
            RuleCode.AREA_NOT_ON_REQUEST,
            f"{label} covers {_areas(request.areas)} only, not {_areas(outside)}",
        )
    return Decision.allow(f"named on {label}")


def _request_preference(request: AccessRequest, now: datetime) -> tuple[bool, float]:
    # Among requests found by name, explain the most relevant failure: an approved request
    # before a pending one, the window nearest to now before old ones.
    if request.window_covers(now):
        distance = 0.0
    elif now < request.window_start:
        distance = (request.window_start - now).total_seconds()
    else:
        distance = (now - request.window_end).total_seconds()
    return (request.status is not RequestStatus.APPROVED, distance)


def via_request(
    attempt: CheckInAttempt,
    client: Client,
    requests: tuple[AccessRequest, ...],
    now: datetime,
    tz: ZoneInfo,
) -> tuple[Grant | None, Decision | None]:
    def names_person(r: AccessRequest) -> bool:
        return any(names_match(n, attempt.name_on_id) for n in r.people)

    if attempt.request_id is not None:
        chosen = [r for r in requests if r.id == attempt.request_id and r.client_id == client.id]
        if not chosen:
            return None, _deny(
                RuleCode.UNKNOWN_REQUEST,
                f"access request #{attempt.request_id} is not a request of {client.name}",
            )
        if not names_person(chosen[0]):
            return None, _deny(
                RuleCode.NAME_NOT_ON_REQUEST,
                f"{attempt.name_on_id!r} (name on the ID document) is not named on access "
                f"request #{attempt.request_id}, which names {', '.join(chosen[0].people)}",
            )
        candidates = chosen
    else:
        candidates = sorted(
            (r for r in requests if r.client_id == client.id and names_person(r)),
            key=lambda r: _request_preference(r, now),
        )
    first_failure: Decision | None = None
    for request in candidates:
        verdict = _judge_request(request, attempt, now, tz)
        if verdict.allowed:
            return Grant(Basis.ACCESS_REQUEST, request=request), None
        first_failure = first_failure or verdict
    return None, first_failure


# --- basis c: escorted guest --------------------------------------------------------------


def via_escort(
    attempt: CheckInAttempt,
    client: Client,
    persons: tuple[AuthorisedPerson, ...],
    open_visits: tuple[Visit, ...],
    now: datetime,
) -> tuple[Grant | None, Decision | None]:
    if attempt.escort_visit_id is None:
        return None, None
    escort = next((v for v in open_visits if v.id == attempt.escort_visit_id), None)
    if escort is None:
        return None, _deny(
            RuleCode.ESCORT_NOT_ON_SITE,
            f"the escort (visit #{attempt.escort_visit_id}) is not checked in",
        )
    if escort.client_id != client.id:
        return None, _deny(
            RuleCode.ESCORT_NOT_AUTHORISED,
            f"the escort {escort.person_name} is visiting for another client, not {client.name}",
        )
    person = next((p for p in persons if p.id == escort.authorised_person_id), None)
    if escort.authorised_person_id is None or person is None:
        return None, _deny(
            RuleCode.ESCORT_NOT_AUTHORISED,
            f"the escort {escort.person_name} is not on the authorised list of {client.name} "
            "and cannot bring guests",
        )
    if not person.is_valid_at(now):
        return None, _deny(
            RuleCode.ESCORT_NOT_AUTHORISED,
            f"the authorisation of the escort {escort.person_name} is no longer valid",
        )
    if not person.may_bring_guests:
        return None, _deny(
            RuleCode.ESCORT_MAY_NOT_BRING_GUESTS,
            f"the escort {escort.person_name} may not bring guests",
        )
    guests = [v for v in open_visits if v.escort_visit_id == escort.id]
    if len(guests) >= person.guest_limit:
        inside = ", ".join(g.person_name for g in guests) or "none"
        return None, _deny(
            RuleCode.ESCORT_GUEST_LIMIT_REACHED,
            f"the escort {escort.person_name} already has {len(guests)} guest(s) inside "
            f"({inside}); the limit is {person.guest_limit}",
        )
    outside = uncovered(person.scope, attempt.areas)
    if outside:
        return None, _deny(
            RuleCode.AREA_NOT_IN_ESCORT_SCOPE,
            f"the escort {escort.person_name} may enter {_areas(person.scope)} only, "
            f"not {_areas(outside)}",
        )
    return Grant(Basis.ESCORTED_GUEST, escort=escort, escort_person=person), None
