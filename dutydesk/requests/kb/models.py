"""Knowledge-base tables.

- ``kb_articles``: the article (visibility, links to services and catalog items, counters);
- ``kb_article_texts``: its text per language (en/ru/uk), what search indexes. The search
  index itself is backend-specific and lives outside the models (``kb.search``): an FTS5 table
  ``kb_fts`` kept by triggers on SQLite, a generated ``fts`` tsvector column with a GIN index on
  PostgreSQL — both made by migration 0026;
- ``kb_article_versions``: every saved version, whole (texts, visibility, links), who and when;
- ``kb_article_uses``: an article used to resolve a request (counted, timestamped);
- ``kb_deflections``: "this solved it" on a suggestion — a request that was not written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow

VISIBILITIES = ("public", "internal")


class ArticleRow(Base):
    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    visibility: Mapped[str] = mapped_column(String(10), default="internal")
    services: Mapped[list[Any]] = mapped_column(default=list)
    catalog_item_ids: Mapped[list[Any]] = mapped_column(default=list)
    archived: Mapped[bool] = mapped_column(default=False)
    use_count: Mapped[int] = mapped_column(default=0)
    deflection_count: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class ArticleTextRow(Base):
    __tablename__ = "kb_article_texts"
    __table_args__ = (Index("uq_kb_article_texts_lang", "article_id", "language", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")


class ArticleVersionRow(Base):
    __tablename__ = "kb_article_versions"
    __table_args__ = (Index("uq_kb_article_versions", "article_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ArticleUseRow(Base):
    __tablename__ = "kb_article_uses"
    __table_args__ = (Index("ix_kb_article_uses_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DeflectionRow(Base):
    __tablename__ = "kb_deflections"
    __table_args__ = (Index("ix_kb_deflections_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), default="")  # "" when not known
    service: Mapped[str] = mapped_column(String(200), default="")
    catalog_item_id: Mapped[int | None] = mapped_column(default=None)
    query: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
