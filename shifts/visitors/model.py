"""Value objects of the visitor access log: clients, authorised persons, requests, visits.

All are frozen dataclasses with keyword-only fields. They validate themselves on construction
(a bad value raises ``VisitorDataError``, a ValueError, naming the field, the value and what is
allowed), so the rules never see an inconsistent record. Storage maps them to rows; it never adds
behaviour here.

Conventions:
- Every datetime is timezone-aware; a naive one raises ``NaiveDatetimeError``.
- Areas (scopes, requested areas) are ``Area`` paths; plain strings such as ``"Hall A / Cage 3"``
  are accepted and parsed.
- ID numbers are held only masked (``idmask.mask``); a full number is refused.
- Ids are ``None`` until storage assigns them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .areas import Area, parse_areas
from .idmask import require_masked


class VisitorDataError(ValueError):
    """A visitor-log record was built with a value that is not allowed."""


class NaiveDatetimeError(VisitorDataError):
    """A datetime without a time zone reached the visitor log."""


def require_aware(field: str, value: datetime | None) -> datetime | None:
    """Return ``value`` when it is None or timezone-aware; raise NaiveDatetimeError otherwise."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise VisitorDataError(f"{field} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{field} must be timezone-aware (UTC), got the naive datetime {value.isoformat()}"
        )
    return value


def _require_text(field: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise VisitorDataError(f"{field} must not be empty, got {value!r}")


def _optional_text(field: str, value: Any) -> None:
    if value is not None:
        _require_text(field, value)


def _set(obj: object, field: str, value: Any) -> None:
    # Normalising a field of a frozen dataclass in __post_init__.
    object.__setattr__(obj, field, value)


def _enum(obj: object, field: str, cls: type[enum.StrEnum]) -> None:
    value = getattr(obj, field)
    try:
        _set(obj, field, cls(value))
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise VisitorDataError(f"{field} must be one of {allowed}; got {value!r}") from None


class IdDocumentType(enum.StrEnum):
    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    DRIVING_LICENCE = "driving_licence"
    RESIDENCE_PERMIT = "residence_permit"
    OTHER = "other"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class VisitStatus(enum.StrEnum):
    EXPECTED = "expected"
    ON_SITE = "on_site"
    LEFT = "left"
    DENIED = "denied"
    NO_SHOW = "no_show"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True, kw_only=True)
class SitePolicy:
    """What the site requires at check-in; ``timezone`` defines "the end of the day".

    ``safety_briefing_valid_days``: an authorised person whose safety briefing is at most this
    many days old does not need to sign the safety form at each visit; ``None`` means a briefing
    never replaces the form.
    """

    timezone: ZoneInfo
    require_nda: bool = True
    require_safety_form: bool = True
    safety_briefing_valid_days: int | None = 365
    # Four eyes: whoever entered an access request may not approve it. A one-person site turns
    # it off and must say why (the reason is written into the audit of every self-approval).
    four_eyes: bool = True
    four_eyes_off_reason: str = ""

    def __post_init__(self) -> None:
        if not self.four_eyes and not self.four_eyes_off_reason.strip():
            raise VisitorDataError(
                "four_eyes is off, so four_eyes_off_reason must say why (for example "
                "'one engineer on site at night')"
            )
        if isinstance(self.timezone, str):
            try:
                _set(self, "timezone", ZoneInfo(self.timezone))
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise VisitorDataError(
                    f"timezone must be an IANA zone such as 'Europe/Berlin', got {self.timezone!r}"
                ) from exc
        if not isinstance(self.timezone, ZoneInfo):
            raise VisitorDataError(
                f"timezone must be a ZoneInfo or an IANA name, got {type(self.timezone).__name__}"
            )
        days = self.safety_briefing_valid_days
        if days is not None and days < 1:
            raise VisitorDataError(
                f"safety_briefing_valid_days must be at least 1 (or None), got {days}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    """A colocation customer and its primary contacts (free text: name, phone, mail)."""

    id: int | None = None
    name: str
    contacts: tuple[str, ...] = ()
    active: bool = True
    escort_required: bool = False  # every visitor of this client needs an escort on site

    def __post_init__(self) -> None:
        _require_text("client name", self.name)
        _set(self, "contacts", tuple(self.contacts))


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorisedPerson:
    """A person on a client's authorised list.

    Valid from ``valid_from`` to ``valid_until`` inclusive (``None``: no end date). ``scope``
    lists the halls, cages or racks the person may enter. ``guest_limit`` is how many guests the
    person may escort at the same time (only when ``may_bring_guests``).
    """

    id: int | None = None
    client_id: int
    name: str
    id_document_type: IdDocumentType
    id_number_masked: str
    scope: tuple[Area, ...]
    valid_from: datetime
    valid_until: datetime | None = None
    may_bring_guests: bool = False
    guest_limit: int = 0
    may_remove_equipment: bool = False
    last_visit: datetime | None = None
    safety_briefing_on: date | None = None
    active: bool = True
    escort_required: bool = False  # on the list, but never alone on site

    def __post_init__(self) -> None:
        _require_text("authorised person name", self.name)
        _enum(self, "id_document_type", IdDocumentType)
        require_masked("id_number_masked", self.id_number_masked)
        _set(self, "scope", parse_areas(self.scope))
        if not self.scope:
            raise VisitorDataError(
                f"scope of {self.name!r} must name at least one hall, cage or rack"
            )
        require_aware("valid_from", self.valid_from)
        require_aware("valid_until", self.valid_until)
        require_aware("last_visit", self.last_visit)
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise VisitorDataError(
                f"valid_until ({self.valid_until.isoformat()}) must not be before "
                f"valid_from ({self.valid_from.isoformat()})"
            )
        if self.guest_limit < 0:
            raise VisitorDataError(f"guest_limit must be 0 or more, got {self.guest_limit}")

    def is_valid_at(self, at: datetime) -> bool:
        """Active and ``valid_from <= at <= valid_until``."""
        if not self.active or at < self.valid_from:
            return False
        return self.valid_until is None or at <= self.valid_until


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRequest:
    """A client's request for named people to visit within a time window.

    The window is half-open: ``window_start <= t < window_end``.
    """

    id: int | None = None
    client_id: int
    people: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    areas: tuple[Area, ...]
    purpose: str = ""
    vehicle_plate: str | None = None
    requested_by: str = ""
    status: RequestStatus = RequestStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None

    def __post_init__(self) -> None:
        _set(self, "people", tuple(self.people))
        if not self.people:
            raise VisitorDataError("an access request must name at least one person")
        for person in self.people:
            _require_text("name of a requested person", person)
        require_aware("window_start", self.window_start)
        require_aware("window_end", self.window_end)
        require_aware("decided_at", self.decided_at)
        if self.window_end <= self.window_start:
            raise VisitorDataError(
                f"window_end ({self.window_end.isoformat()}) must be after "
                f"window_start ({self.window_start.isoformat()})"
            )
        _set(self, "areas", parse_areas(self.areas))
        if not self.areas:
            raise VisitorDataError("an access request must name at least one hall, cage or rack")
        _enum(self, "status", RequestStatus)
        decided = bool(self.decided_by and self.decided_by.strip())
        if self.status is not RequestStatus.PENDING and not decided:
            raise VisitorDataError(
                f"a request that is {self.status.value} must say who decided it (decided_by)"
            )
        _optional_text("vehicle_plate", self.vehicle_plate)

    def window_covers(self, at: datetime) -> bool:
        return self.window_start <= at < self.window_end


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """One visit of one person, from arrival at the desk to leaving (or being turned away).

    The escort is either another visit (``escort_visit_id``: a checked-in authorised person) or a
    staff member (``escort_staff``), never both. ``recorded_at`` is when the record was created
    (a denied or expected visit has no check-in time).
    """

    id: int | None = None
    client_id: int
    person_name: str
    status: VisitStatus
    recorded_at: datetime
    authorised_person_id: int | None = None
    request_id: int | None = None
    id_checked_by: str | None = None
    name_matched: bool = False
    badge_number: str | None = None
    badge_expires_at: datetime | None = None
    escort_visit_id: int | None = None
    escort_staff: str | None = None
    checked_in_at: datetime | None = None
    expected_checkout_at: datetime | None = None
    checked_out_at: datetime | None = None
    areas: tuple[Area, ...] = ()
    purpose: str = ""
    nda_signed: bool = False
    safety_form_signed: bool = False
    denial_code: str | None = None
    denial_reason: str | None = None
    badge_returned: bool = False
    badge_lost_recorded_by: str | None = None

    def __post_init__(self) -> None:
        _require_text("visitor name", self.person_name)
        _enum(self, "status", VisitStatus)
        _set(self, "areas", parse_areas(self.areas))
        if self.recorded_at is None:
            raise VisitorDataError("recorded_at (when the visit was recorded) is required")
        for name in (
            "recorded_at",
            "badge_expires_at",
            "checked_in_at",
            "expected_checkout_at",
            "checked_out_at",
        ):
            require_aware(name, getattr(self, name))
        _optional_text("escort_staff", self.escort_staff)
        _optional_text("badge_lost_recorded_by", self.badge_lost_recorded_by)
        if self.escort_visit_id is not None and self.escort_staff is not None:
            raise VisitorDataError(
                "a visit has one escort: either escort_visit_id or escort_staff, not both"
            )
        self._check_status_fields()

    def _check_status_fields(self) -> None:
        status = self.status
        if status in (VisitStatus.ON_SITE, VisitStatus.LEFT):
            if self.checked_in_at is None:
                raise VisitorDataError(f"a visit that is {status.value} needs checked_in_at")
            if not self.badge_number or self.badge_expires_at is None:
                raise VisitorDataError(
                    f"a visit that is {status.value} needs badge_number and badge_expires_at"
                )
        elif self.checked_in_at is not None:
            raise VisitorDataError(f"a visit that is {status.value} cannot have checked_in_at")
        if status is VisitStatus.LEFT:
            if self.checked_out_at is None:
                raise VisitorDataError("a visit that has left needs checked_out_at")
            if self.checked_in_at is not None and self.checked_out_at < self.checked_in_at:
                raise VisitorDataError(
                    f"checked_out_at ({self.checked_out_at.isoformat()}) must not be before "
                    f"checked_in_at ({self.checked_in_at.isoformat()})"
                )
            if not (self.badge_returned or self.badge_lost_recorded_by):
                raise VisitorDataError(
                    "a visit that has left needs the badge returned or its loss recorded"
                )
        elif self.checked_out_at is not None:
            raise VisitorDataError(f"a visit that is {status.value} cannot have checked_out_at")
        if status is VisitStatus.DENIED and not (self.denial_reason and self.denial_reason.strip()):
            raise VisitorDataError("a denied visit needs the denial_reason")

    @property
    def is_on_site(self) -> bool:
        return self.status is VisitStatus.ON_SITE

    @property
    def badge_lost(self) -> bool:
        return self.badge_lost_recorded_by is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class EquipmentMovement:
    """Equipment carried in or out during a visit; ``removal_approved_by`` is a staff member."""

    id: int | None = None
    visit_id: int | None
    direction: Direction
    description: str
    serial: str | None = None
    removal_approved_by: str | None = None
    at: datetime | None = None

    def __post_init__(self) -> None:
        _enum(self, "direction", Direction)
        _require_text("equipment description", self.description)
        _optional_text("removal_approved_by", self.removal_approved_by)
        require_aware("at", self.at)
