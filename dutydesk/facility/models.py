"""Facility tables: the rule document every worker reads, and the counts of what was heard but
not turned into an alert (unknown senders, unmatched traps/lines, rejected packets, floods).

Only counts are stored for what matched no rule — never the messages themselves — so a chatty
switch cannot fill the disk: one row per (input, source, reason, name), bounded in number
(``dutydesk.facility.store.MAX_HEARD_ROWS``) and pruned after ``HEARD_RETENTION``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow


class FacilityRulesRow(Base):
    """The applied rule document (one row, ``id = 1``); ``version`` grows with each apply so
    listeners reload it."""

    __tablename__ = "facility_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class FacilityHeard(Base):
    """How many messages of one kind from one source were heard and not turned into alerts."""

    __tablename__ = "facility_heard"
    __table_args__ = (
        UniqueConstraint("input", "source", "reason", "name", name="uq_facility_heard"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    input: Mapped[str] = mapped_column(String(10))  # snmp, syslog
    source: Mapped[str] = mapped_column(String(64))  # sender address
    reason: Mapped[str] = mapped_column(String(20))  # unknown_source, unmatched, rejected, ...
    name: Mapped[str] = mapped_column(String(255))  # trap name / facility.level
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sample: Mapped[str] = mapped_column(String(1024), default="")
