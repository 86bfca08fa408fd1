"""The first line resolves a request "with article" in one action: the article's text, in the
requester's language, is the resolution note — mailed by the requests' own resolution mail —
and the use is counted (``kb_article_uses``, ``kb_articles.use_count``) so the typical cases
show. Only public articles go to requesters; an internal one is refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from dutydesk.core.config import Settings
from dutydesk.core.validation import ValidationError
from dutydesk.requests import service as req
from dutydesk.requests.kb.articles import ArticleText
from dutydesk.requests.kb.models import ArticleRow, ArticleUseRow
from dutydesk.requests.kb.store import get_article
from dutydesk.requests.lifecycle import Action
from dutydesk.requests.models import ServiceRequest
from dutydesk.requests.store import get_request


def article_note(text: ArticleText, link: str) -> str:
    """The resolution note made of an article: its title, body (Markdown) and public link."""
    return f"{text.title}\n\n{text.body}\n\n{link}"


def resolve_with_article(session: Session, settings: Settings, actor: req.Actor,
                         request_id: int, article_id: Any, now: datetime, *,
                         expected_version: int | None = None) -> ServiceRequest:
    """Resolve ``request_id`` with the public article ``article_id`` (see the module doc)."""
    article = get_article(session, article_id)
    if not article.is_public:
        raise ValidationError("article", "internal or archived articles are not sent to "
                                         "requesters; choose a public one or write the "
                                         "resolution yourself")
    row = get_request(session, request_id)
    text = article.text_for(row.requester_language)
    link = f"{settings.base_url.rstrip('/')}/help/kb/{article.id}?lang={text.language}"
    row = req.perform(session, settings, actor, row.id, Action.RESOLVE, now,
                      expected_version=expected_version, note=article_note(text, link),
                      article_id=article.id)
    session.add(ArticleUseRow(article_id=article.id, request_id=row.id, language=text.language,
                              actor=req.actor_label(actor)[:200], at=now))
    session.execute(update(ArticleRow).where(ArticleRow.id == article.id)
                    .values(use_count=ArticleRow.use_count + 1))
    session.flush()
    return row
