"""Catalog items (one table). Items are retired (``active = False``), never deleted, so requests
that name them (``service_requests.catalog_item_id``) keep their meaning."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow


class CatalogItemRow(Base):
    __tablename__ = "catalog_items"
    __table_args__ = (Index("uq_catalog_items_service_slug", "service", "slug", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(200))  # a status page service id
    slug: Mapped[str] = mapped_column(String(100))
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"en": ..., "ru": ..., "uk": ...}
    descriptions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_type: Mapped[str] = mapped_column(String(20), default="service_request")
    default_priority: Mapped[str | None] = mapped_column(String(2), default=None)
    default_line: Mapped[str] = mapped_column(String(12), default="first_line")
    first_response_minutes: Mapped[int | None] = mapped_column(default=None)
    resolve_minutes: Mapped[int | None] = mapped_column(default=None)
    fields: Mapped[list[Any]] = mapped_column(default=list)  # [{"name", "labels", "required"}]
    approval_role: Mapped[str | None] = mapped_column(String(20), default=None)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
