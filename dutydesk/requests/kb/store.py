"""Storing knowledge-base articles: create and edit (every save is a kept version, audited),
read, search, and the counters: uses (resolved a request with it) and deflections (a requester
said "this solved it" and wrote no request). Nothing is committed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, select, update
from sqlalchemy.orm import Session

from dutydesk.core import audit
from dutydesk.core.security import Principal
from dutydesk.core.validation import ValidationError
from dutydesk.requests.kb.articles import Article, ArticleDraft, ArticleText, parse_draft
from dutydesk.requests.kb.models import (
    ArticleRow,
    ArticleTextRow,
    ArticleVersionRow,
    DeflectionRow,
)
from dutydesk.requests.kb.search import SearchBackend, search_texts

Actor = Principal | str
DEFLECTION_ONCE_PER = timedelta(hours=24)  # one person, one article: counted once a day


class ArticleMissing(LookupError):
    """No article with that id (or not one this reader may see): HTTP 404."""


class ArticleConflict(ValueError):
    """The article changed since it was opened, or its slug is taken: HTTP 409."""


def _label(actor: Actor) -> str:
    return actor.label if isinstance(actor, Principal) else actor


def _article(row: ArticleRow, texts: Sequence[ArticleTextRow]) -> Article:
    draft = ArticleDraft(
        slug=row.slug, visibility=row.visibility,
        texts={t.language: ArticleText(t.language, t.title, t.body)
               for t in sorted(texts, key=lambda t: ("en", "ru", "uk").index(t.language)
                               if t.language in ("en", "ru", "uk") else 9)},
        services=tuple(row.services or ()), catalog_item_ids=tuple(row.catalog_item_ids or ()))
    return Article(id=row.id, draft=draft, version=row.version, use_count=row.use_count,
                   deflection_count=row.deflection_count, archived=row.archived,
                   updated_at=row.updated_at, updated_by=row.updated_by)


def load_articles(session: Session, ids: Sequence[int]) -> dict[int, Article]:
    """Articles by id (two queries whatever the number)."""
    if not ids:
        return {}
    rows = {r.id: r for r in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(ids)))}
    texts: dict[int, list[ArticleTextRow]] = {}
    for t in session.scalars(select(ArticleTextRow).where(ArticleTextRow.article_id.in_(ids))):
        texts.setdefault(t.article_id, []).append(t)
    return {i: _article(rows[i], texts.get(i, [])) for i in ids if i in rows}


def get_article(session: Session, article_id: Any, *, public_only: bool = False) -> Article:
    """The article; ``ArticleMissing`` when there is none, or when ``public_only`` and it is
    internal or archived (a requester cannot tell an internal article exists)."""
    try:
        number = int(article_id)
    except (TypeError, ValueError):
        raise ArticleMissing(f"there is no article {article_id!r}") from None
    found = load_articles(session, [number]) if 0 < number < 2**31 else {}
    article = found.get(number)
    if article is None or (public_only and not article.is_public):
        raise ArticleMissing(f"there is no article {article_id!r}")
    return article


def list_articles(session: Session, *, public_only: bool = False, order: str = "title",
                  limit: int = 200) -> list[Article]:
    """Non-archived articles, by short name or by ``order="uses"`` (the typical cases first)."""
    query = select(ArticleRow.id).where(ArticleRow.archived.is_(False))
    if public_only:
        query = query.where(ArticleRow.visibility == "public")
    if order == "uses":
        query = query.order_by(ArticleRow.use_count.desc(), ArticleRow.deflection_count.desc(),
                               ArticleRow.id)
    else:
        query = query.order_by(ArticleRow.slug)
    ids = list(session.scalars(query.limit(limit)))
    found = load_articles(session, ids)
    return [found[i] for i in ids if i in found]


def articles_for_item(session: Session, item_id: int, *, public_only: bool = True,
                      limit: int = 5) -> list[Article]:
    """Articles linked to the catalog item ``item_id``, most used first (shown to a requester
    who picked the item, before they write)."""
    query = (select(ArticleRow.id)
             .where(ArticleRow.archived.is_(False),
                    cast(ArticleRow.catalog_item_ids, String).contains(str(int(item_id))))
             .order_by(ArticleRow.use_count.desc(), ArticleRow.id).limit(200))
    if public_only:
        query = query.where(ArticleRow.visibility == "public")
    found = load_articles(session, list(session.scalars(query)))
    linked = [a for a in found.values() if int(item_id) in a.draft.catalog_item_ids]
    return sorted(linked, key=lambda a: (-a.use_count, a.id))[:limit]


def _write_texts(session: Session, article_id: int, draft: ArticleDraft) -> None:
    current = {t.language: t for t in session.scalars(
        select(ArticleTextRow).where(ArticleTextRow.article_id == article_id))}
    for language, value in draft.texts.items():
        row = current.pop(language, None)
        if row is None:
            session.add(ArticleTextRow(article_id=article_id, language=language,
                                       title=value.title, body=value.body))
        elif (row.title, row.body) != (value.title, value.body):
            row.title, row.body = value.title, value.body
    for row in current.values():
        session.delete(row)


def _slug_taken(session: Session, slug: str, article_id: int | None) -> None:
    other = session.scalar(select(ArticleRow.id).where(ArticleRow.slug == slug))
    if other is not None and other != article_id:
        raise ArticleConflict(f"another article is already called {slug!r}")


def create_article(session: Session, actor: Actor, data: Any, now: datetime) -> Article:
    """A new article (version 1) from the API/form shape (``parse_draft``)."""
    draft = parse_draft(data)
    _slug_taken(session, draft.slug, None)
    row = ArticleRow(slug=draft.slug, visibility=draft.visibility,
                     services=list(draft.services), catalog_item_ids=list(draft.catalog_item_ids),
                     archived=False, use_count=0, deflection_count=0, version=1,
                     created_at=now, updated_at=now, updated_by=_label(actor)[:200])
    session.add(row)
    session.flush()
    _write_texts(session, row.id, draft)
    session.add(ArticleVersionRow(article_id=row.id, version=1, snapshot=draft.snapshot(),
                                  actor=_label(actor)[:200], at=now))
    audit.record(session, actor, "kb.create", "kb_article", row.id, summary=draft.slug,
                 after=_audit_view(draft))
    session.flush()
    return get_article(session, row.id)


def update_article(session: Session, actor: Actor, article_id: int, data: Any, now: datetime,
                   *, expected_version: int | None = None) -> Article:
    """Save a new version (compare-and-set on the version: two editors, one wins, the other
    is told to reload). Saving an unchanged draft stores nothing."""
    before = get_article(session, article_id)
    draft = parse_draft(data)
    if expected_version is not None and before.version != expected_version:
        raise ArticleConflict(f"the article changed since you opened it (version "
                              f"{expected_version}, now {before.version}); reload and try again")
    if draft == before.draft:
        return before
    _slug_taken(session, draft.slug, article_id)
    done = session.execute(
        update(ArticleRow).where(ArticleRow.id == article_id,
                                 ArticleRow.version == before.version)
        .values(slug=draft.slug, visibility=draft.visibility, services=list(draft.services),
                catalog_item_ids=list(draft.catalog_item_ids), version=before.version + 1,
                updated_at=now, updated_by=_label(actor)[:200])
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ArticleConflict("the article changed while you saved it; reload and try again")
    _write_texts(session, article_id, draft)
    session.add(ArticleVersionRow(article_id=article_id, version=before.version + 1,
                                  snapshot=draft.snapshot(), actor=_label(actor)[:200], at=now))
    audit.record(session, actor, "kb.update", "kb_article", article_id, summary=draft.slug,
                 before=_audit_view(before.draft), after=_audit_view(draft))
    session.flush()
    session.expire_all()
    return get_article(session, article_id)


def archive_article(session: Session, actor: Actor, article_id: int, now: datetime) -> None:
    """Take an article out of search and suggestions (kept, with its versions and counts)."""
    article = get_article(session, article_id)
    session.execute(update(ArticleRow).where(ArticleRow.id == article.id)
                    .values(archived=True, updated_at=now, updated_by=_label(actor)[:200]))
    audit.record(session, actor, "kb.archive", "kb_article", article.id,
                 summary=article.draft.slug)


def _audit_view(draft: ArticleDraft) -> dict[str, Any]:
    """What the audit log keeps of a draft: everything but the bodies (those are versions)."""
    return {"slug": draft.slug, "visibility": draft.visibility, "services": list(draft.services),
            "catalog_item_ids": list(draft.catalog_item_ids),
            "titles": {k: t.title for k, t in draft.texts.items()}}


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    actor: str
    at: datetime
    draft: ArticleDraft


def versions(session: Session, article_id: int) -> list[Version]:
    """Every saved version, newest first."""
    result = []
    for row in session.scalars(select(ArticleVersionRow)
                               .where(ArticleVersionRow.article_id == article_id)
                               .order_by(ArticleVersionRow.version.desc())):
        snap = row.snapshot
        result.append(Version(row.version, row.actor, row.at, parse_draft(
            {"slug": snap["slug"], "visibility": snap["visibility"],
             "services": snap["services"], "catalog_items": snap["catalog_item_ids"],
             "texts": snap["texts"]})))
    return result


@dataclass(frozen=True, slots=True)
class Found:
    """A search result: the article and its text in the reader's language."""

    article: Article
    text: ArticleText
    score: float


def search_articles(session: Session, query: str, *, language: str = "en",
                    public_only: bool = True, service: str | None = None, limit: int = 10,
                    backend: SearchBackend | None = None) -> list[Found]:
    """Articles matching ``query``, best first, each once, shown in ``language`` when it has
    that text; with ``service``, articles linked to it come first."""
    matches = search_texts(session, query, public_only=public_only, limit=limit * 3,
                           backend=backend)
    order: list[int] = []
    scores: dict[int, float] = {}
    for m in matches:
        if m.article_id not in scores:
            order.append(m.article_id)
        scores[m.article_id] = max(scores.get(m.article_id, m.score), m.score)
    found = load_articles(session, order)
    results = [Found(found[i], found[i].text_for(language), scores[i])
               for i in order if i in found]
    if service:
        results.sort(key=lambda f: service not in f.article.draft.services)
    return results[:limit]


def record_deflection(session: Session, article_id: Any, now: datetime, *, email: str = "",
                      service: str = "", catalog_item_id: int | None = None,
                      query: str = "") -> bool:
    """"This solved it": the requester wrote no request thanks to a public article. Counted
    once per person and article a day (False when already counted)."""
    article = get_article(session, article_id, public_only=True)
    email = email.strip().lower()[:254]
    if email and session.scalar(select(DeflectionRow.id).where(
            DeflectionRow.article_id == article.id, DeflectionRow.email == email,
            DeflectionRow.at > now - DEFLECTION_ONCE_PER)):
        return False
    if not isinstance(query, str):
        raise ValidationError("query", "expected text")
    session.add(DeflectionRow(article_id=article.id, email=email, service=service[:200],
                              catalog_item_id=catalog_item_id, query=query.strip()[:300],
                              at=now))
    session.execute(update(ArticleRow).where(ArticleRow.id == article.id)
                    .values(deflection_count=ArticleRow.deflection_count + 1))
    return True


def deflections_since(session: Session, since: datetime | None = None) -> int:
    """How many requests suggestions saved (since ``since``)."""
    query = select(func.count(DeflectionRow.id))
    if since is not None:
        query = query.where(DeflectionRow.at >= since)
    return int(session.scalar(query) or 0)
