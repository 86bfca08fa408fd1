"""Storage of the visitor access log (rules live in ``shifts.visitors``; this is rows only).

Personal data and retention: ID numbers are stored only masked (``shifts.visitors.mask``).
When a visit or request passes the retention period the purge job blanks every personal column
(names, staff names, badge number, free text, plate) and sets ``anonymised``; the counts that
the anonymised record keeps (guests, equipment in/out, people on a request) live in columns of
their own so nothing personal is needed to report on old visits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dutydesk.core.db import Base, utcnow
from dutydesk.core.sites import site_column

# The partial unique index on the badges of open visits (named in the service's error handling).
OPEN_BADGE_INDEX = "uq_visitor_visits_open_badge"
ON_SITE_ONLY = "status = 'on_site'"


class VisitorClient(Base):
    """A colocation customer."""

    __tablename__ = "visitor_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    escort_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contacts: Mapped[list[VisitorClientContact]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="VisitorClientContact.id"
    )


class VisitorClientContact(Base):
    """A client's contact person (who may send access requests)."""

    __tablename__ = "visitor_client_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_clients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    client: Mapped[VisitorClient] = relationship(back_populates="contacts")


class AuthorisedPersonRow(Base):
    """An entry of a client's authorised persons list; ``id_number_masked`` is never full."""

    __tablename__ = "visitor_authorised_persons"
    __table_args__ = (Index("ix_visitor_authorised_persons_name", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_clients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    id_document_type: Mapped[str] = mapped_column(String(30))
    id_number_masked: Mapped[str] = mapped_column(String(60))
    scope: Mapped[list[Any]] = mapped_column(default=list)  # area paths as text
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None] = mapped_column(default=None)
    may_bring_guests: Mapped[bool] = mapped_column(Boolean, default=False)
    guest_limit: Mapped[int] = mapped_column(Integer, default=0)
    may_remove_equipment: Mapped[bool] = mapped_column(Boolean, default=False)
    last_visit: Mapped[datetime | None] = mapped_column(default=None)
    safety_briefing_on: Mapped[date | None] = mapped_column(Date, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    escort_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    deactivated_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessRequestRow(Base):
    """A client's request for named people to visit within a window."""

    __tablename__ = "visitor_access_requests"
    __table_args__ = (Index("ix_visitor_access_requests_window", "window_start", "window_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_clients.id", ondelete="CASCADE"), index=True
    )
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    areas: Mapped[list[Any]] = mapped_column(default=list)
    purpose: Mapped[str] = mapped_column(Text, default="")
    racks: Mapped[str] = mapped_column(String(300), default="")
    vehicle_plate: Mapped[str | None] = mapped_column(String(30), default=None)
    requested_by: Mapped[str] = mapped_column(String(300), default="")
    # Who entered it (staff label or API token name): four eyes compares the approver with it.
    created_by: Mapped[str | None] = mapped_column(String(300), default=None)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    #: The data center the people may enter (each site has its own desk).
    site_id: Mapped[int] = site_column()
    decided_by: Mapped[str | None] = mapped_column(String(300), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Kept after the purge, when the named people are gone.
    people_count: Mapped[int] = mapped_column(Integer, default=0)
    had_vehicle: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)

    people: Mapped[list[AccessRequestPerson]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="AccessRequestPerson.id"
    )


class AccessRequestPerson(Base):
    """One person named on an access request (deleted by the purge)."""

    __tablename__ = "visitor_access_request_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_access_requests.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))

    request: Mapped[AccessRequestRow] = relationship(back_populates="people")


class VisitRow(Base):
    """One visit: allowed (on site, left), denied with the rule that failed, or a no-show."""

    __tablename__ = "visitor_visits"
    __table_args__ = (
        Index("ix_visitor_visits_status", "status"),
        Index("ix_visitor_visits_recorded_at", "recorded_at"),
        Index("ix_visitor_visits_badge", "badge_number"),
        # Rule 2 at the database level: two desks checking in at the same moment cannot both
        # hand out one badge (the rule alone reads before it writes). Partial: a badge number
        # comes back into use once its visit has left. Per site: each desk has its own badges.
        Index(
            OPEN_BADGE_INDEX,
            "site_id",
            "badge_number",
            unique=True,
            sqlite_where=text(ON_SITE_ONLY),
            postgresql_where=text(ON_SITE_ONLY),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_clients.id", ondelete="CASCADE"), index=True
    )
    # None after the purge; otherwise always set.
    person_name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(12))
    basis: Mapped[str | None] = mapped_column(String(20), default=None)
    recorded_at: Mapped[datetime]
    #: The data center of the desk that recorded the visit.
    site_id: Mapped[int] = site_column()
    authorised_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("visitor_authorised_persons.id", ondelete="SET NULL"), default=None
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("visitor_access_requests.id", ondelete="SET NULL"), default=None
    )
    id_checked_by: Mapped[str | None] = mapped_column(String(300), default=None)
    name_matched: Mapped[bool] = mapped_column(Boolean, default=False)
    badge_number: Mapped[str | None] = mapped_column(String(40), default=None)
    badge_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    escort_visit_id: Mapped[int | None] = mapped_column(
        ForeignKey("visitor_visits.id", ondelete="SET NULL"), default=None
    )
    escort_staff: Mapped[str | None] = mapped_column(String(200), default=None)
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    expected_checkout_at: Mapped[datetime | None] = mapped_column(default=None)
    checked_out_at: Mapped[datetime | None] = mapped_column(default=None)
    areas: Mapped[list[Any]] = mapped_column(default=list)
    purpose: Mapped[str] = mapped_column(Text, default="")
    nda_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    safety_form_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    denial_code: Mapped[str | None] = mapped_column(String(40), default=None)
    denial_reason: Mapped[str | None] = mapped_column(Text, default=None)
    badge_returned: Mapped[bool] = mapped_column(Boolean, default=False)
    badge_lost_recorded_by: Mapped[str | None] = mapped_column(String(300), default=None)
    recorded_by: Mapped[str | None] = mapped_column(String(300), default=None)
    # What the anonymised record keeps (filled by the purge).
    anonymised: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)
    on_authorised_list: Mapped[bool] = mapped_column(Boolean, default=False)
    escorted: Mapped[bool] = mapped_column(Boolean, default=False)
    badge_lost: Mapped[bool] = mapped_column(Boolean, default=False)
    guest_count: Mapped[int] = mapped_column(Integer, default=0)
    equipment_in_count: Mapped[int] = mapped_column(Integer, default=0)
    equipment_out_count: Mapped[int] = mapped_column(Integer, default=0)


class EquipmentMovementRow(Base):
    """Equipment carried in or out during a visit (deleted by the purge; counts stay)."""

    __tablename__ = "visitor_equipment_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_visits.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(500))
    serial: Mapped[str | None] = mapped_column(String(120), default=None)
    removal_approved_by: Mapped[str | None] = mapped_column(String(300), default=None)
    at: Mapped[datetime]
    recorded_by: Mapped[str | None] = mapped_column(String(300), default=None)
