"""Sites: the data centers one DutyDesk watches. A core table, because checks, services, duty
schedules, the visitor desk, maintenance windows, walls and incidents all belong to a site.

Rows that belong to a site carry ``site_id``. A row written without one belongs to the
``default`` site (migration 0031 creates it; migration 0032 moved all existing data into it), so
an installation with one data center never has to think of sites at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ForeignKey, String, text
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow

DEFAULT_SITE = "default"


class Site(Base):
    """A data center: a short slug for URLs and the CLI, a name for people, its IANA zone
    (the site's walls, visitor desk and duty schedule show its local time)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def default_site_id(context: Any) -> int:
    """Column default: the id of the default site, made if it is missing (a database whose
    default site was deleted, or one created without the migrations). Runs on the inserting
    statement's own connection, so it sees and joins its transaction."""
    conn = context.connection
    found = conn.execute(text("SELECT id FROM sites WHERE slug = :slug"),
                         {"slug": DEFAULT_SITE}).scalar()
    if found is None:
        conn.execute(text("INSERT INTO sites (slug, name, time_zone, created_at) "
                          "VALUES (:slug, 'Default site', 'UTC', :now)"),
                     {"slug": DEFAULT_SITE, "now": utcnow()})
        found = conn.execute(text("SELECT id FROM sites WHERE slug = :slug"),
                             {"slug": DEFAULT_SITE}).scalar()
    return int(found)


def site_column() -> Mapped[int]:
    """``site_id`` of a row that always belongs to one site (default: the default site)."""
    return mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True,
                         default=default_site_id)


def optional_site_column() -> Mapped[int | None]:
    """``site_id`` of a row that may belong to one site or to all (NULL: every site)."""
    return mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True, default=None)


def valid_zone(name: str) -> bool:
    """An IANA time zone name this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
