"""Knowledge-base articles as values: parse and check a draft, pick the text for a reader's
language, render the Markdown safely. Pure: no database.

An article has a text per language (en/ru/uk: at least one, each with a title and a body in
Markdown), a visibility (``public``: requesters see it and it is suggested on /help;
``internal``: the first line only) and links to services and catalog items.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import markdown as md
import nh3

from dutydesk.core.validation import ValidationError, choice, text, whole_number
from dutydesk.requests.kb.models import VISIBILITIES

LANGUAGES = ("en", "ru", "uk")
MAX_TITLE = 300
MAX_BODY = 19_000  # fits a resolution note (``lifecycle.MAX_TEXT``) with its title
MAX_LINKS = 50
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


@dataclass(frozen=True, slots=True)
class ArticleText:
    language: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """What an editor gives: everything but the counters."""

    slug: str
    visibility: str
    texts: Mapping[str, ArticleText]
    services: tuple[str, ...] = ()
    catalog_item_ids: tuple[int, ...] = ()

    def snapshot(self) -> dict[str, Any]:
        """The whole draft as JSON (a stored version; the audit's before/after)."""
        return {"slug": self.slug, "visibility": self.visibility,
                "services": list(self.services), "catalog_item_ids": list(self.catalog_item_ids),
                "texts": {k: {"title": t.title, "body": t.body} for k, t in self.texts.items()}}


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    draft: ArticleDraft
    version: int
    use_count: int = 0
    deflection_count: int = 0
    archived: bool = False
    updated_at: datetime | None = None
    updated_by: str = ""

    @property
    def is_public(self) -> bool:
        return self.draft.visibility == "public" and not self.archived

    def text_for(self, language: str) -> ArticleText:
        """The reader's language, else English, else the first there is."""
        texts = self.draft.texts
        return texts.get(language) or texts.get("en") or next(iter(texts.values()))


def slugify(title: str) -> str:
    """A URL name from a title (Latin letters and digits; others become '-')."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80]
    return slug or "article"


def _list(value: Any, name: str) -> list[Any]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list | tuple):
        raise ValidationError(name, "expected a list")
    if len(value) > MAX_LINKS:
        raise ValidationError(name, f"at most {MAX_LINKS}, got {len(value)}")
    return list(value)


def parse_draft(data: Mapping[str, Any]) -> ArticleDraft:
    """A draft from ``{slug, visibility, services, catalog_items, texts: {en: {title, body}}}``
    (the API/form shape); ``ValidationError`` names the field."""
    if not isinstance(data, Mapping):
        raise ValidationError("article", "expected an object")
    raw = data.get("texts")
    if not isinstance(raw, Mapping) or not raw:
        raise ValidationError("texts", "at least one language (en, ru, uk) with a title and "
                                       "a body is required")
    texts: dict[str, ArticleText] = {}
    for language, value in raw.items():
        if language not in LANGUAGES:
            raise ValidationError("texts", f"languages are en, ru and uk, got {language!r}")
        if not isinstance(value, Mapping):
            raise ValidationError(f"texts.{language}", "expected {title, body}")
        title = text(value.get("title"), f"texts.{language}.title", max_length=MAX_TITLE)
        body = text(value.get("body"), f"texts.{language}.body", max_length=MAX_BODY)
        if not title and not body:
            continue
        if not title or not body:
            raise ValidationError(f"texts.{language}", "needs both a title and a body")
        texts[language] = ArticleText(language, title, body)
    if not texts:
        raise ValidationError("texts", "at least one language (en, ru, uk) with a title and a "
                                       "body is required")
    first = texts.get("en") or next(iter(texts.values()))
    slug = text(data.get("slug"), "slug", max_length=100) or slugify(first.title)
    if not _SLUG.match(slug):
        raise ValidationError("slug", f"use lower-case letters, digits and -, got {slug!r}")
    services = tuple(dict.fromkeys(text(s, "services", required=True, max_length=200)
                                   for s in _list(data.get("services"), "services")))
    items = tuple(dict.fromkeys(int(whole_number(i, "catalog_items", minimum=1))
                                for i in _list(data.get("catalog_items"), "catalog_items")))
    return ArticleDraft(slug=slug, visibility=choice(data.get("visibility") or "internal",
                                                     "visibility", VISIBILITIES),
                        texts=texts, services=services, catalog_item_ids=items)


def render(body: str) -> str:
    """Markdown → HTML with only harmless tags left (the incident notes' rule)."""
    return nh3.clean(md.markdown(body, extensions=["fenced_code", "tables"]))


def plain(body: str, limit: int = 200) -> str:
    """A short plain-text excerpt of Markdown (for suggestion lists)."""
    flat = re.sub(r"[#*_`>\[\]()!|-]+", " ", body)
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + "…"
