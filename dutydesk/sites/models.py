"""Tables of sites and remote probes.

``sites``         a data center: :class:`dutydesk.core.sites.Site` (a core table).
``probes``        a probe process of a site: its credential (SHA-256 of a 256-bit secret, never
                  the secret), a one-time enrolment token (SHA-256 + expiry) until enrolled, what
                  it last said (version, contact, the last sequence numbers stored: results and
                  facility events) and whether an admin revoked it.
``check_probes``  the probes among each check's locations (many per check).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow
from dutydesk.core.sites import DEFAULT_SITE, Site

__all__ = ["DEFAULT_SITE", "CheckProbe", "Probe", "Site"]
DEFAULT_GRACE_SECONDS = 120.0


class Probe(Base):
    __tablename__ = "probes"
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_probes_site_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    credential_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    enrol_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    enrol_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[str] = mapped_column(String(40), default="")
    last_contact_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The highest sequence number stored: a result at or below it is a replay (stored once).
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The same for the facility events it forwards (traps, syslog heard at its site): a
    #: sequence of their own, so results and events are acknowledged independently.
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Results the probe dropped from its full buffer, as it reported them (a running total).
    dropped_total: Mapped[int] = mapped_column(Integer, default=0)
    buffer_depth: Mapped[int] = mapped_column(Integer, default=0)
    #: Silent longer than this after its last contact: "probe offline".
    grace_seconds: Mapped[float] = mapped_column(Float, default=DEFAULT_GRACE_SECONDS)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckProbe(Base):
    """A probe that is one of a check's locations (``checks.locations``); central workers run
    the check only when it has no probe or ``checks.run_at_centre`` is set."""

    __tablename__ = "check_probes"

    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"),
                                          primary_key=True)
    probe_id: Mapped[int] = mapped_column(ForeignKey("probes.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)
