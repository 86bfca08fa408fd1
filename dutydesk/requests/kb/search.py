"""Knowledge-base full-text search: one interface, two backends.

- SQLite (the embedded default): the FTS5 table ``kb_fts`` (porter + unicode61 tokenizer), kept
  in step with ``kb_article_texts`` by triggers, ranked by bm25 with the title weighted 5×.
- PostgreSQL (production): the generated ``fts`` tsvector column (English/Russian stemming by
  the text's language, 'simple' for Ukrainian) with a GIN index, ranked by ``ts_rank``; a query
  is tried with each configuration and the results OR-ed, so a Russian query finds Russian
  texts stemmed and a Ukrainian one finds words as typed.

Both match every word as a prefix (suggestions while typing: "prin" finds "printer"). A search
first asks for articles containing *all* the words; when none does, for *any* of them (a whole
sentence typed by a requester still finds the article about its key words), best first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

MAX_TERMS = 8
MAX_TERM_LENGTH = 40
_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яіїєґё]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Match:
    """One text that matched: its article, language and score (higher is better)."""

    article_id: int
    language: str
    score: float


def query_terms(query: str) -> list[str]:
    """The words to look for: lower-case, at least two characters, each at most once, at most
    eight. Cyrillic words lose an inflected ending (1–2 letters) since they are matched as
    prefixes: "картриджи" looks for "картрид…" (the SQLite tokenizer does not stem them)."""
    terms: list[str] = []
    for word in _WORD.findall(query.lower().replace("_", " ")):
        word = word[:MAX_TERM_LENGTH]
        if len(word) < 2:
            continue
        if _CYRILLIC.search(word):
            word = word[:-2] if len(word) >= 7 else word[:-1] if len(word) >= 5 else word
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


class SearchBackend(Protocol):
    def match(self, session: Session, terms: Sequence[str], *, any_term: bool,
              visibilities: Sequence[str], limit: int) -> list[Match]:
        """Texts of non-archived articles with a visibility in ``visibilities`` that contain
        all (or, with ``any_term``, any) of ``terms`` as word prefixes; best first."""
        ...


class SqliteFts5:
    def match(self, session: Session, terms: Sequence[str], *, any_term: bool,
              visibilities: Sequence[str], limit: int) -> list[Match]:
        joiner = " OR " if any_term else " AND "
        expression = joiner.join(f'"{t}"*' for t in terms)
        rows = session.execute(text(
            "SELECT t.article_id, t.language, bm25(kb_fts, 5.0, 1.0) AS score "
            "FROM kb_fts JOIN kb_article_texts t ON t.id = kb_fts.rowid "
            "JOIN kb_articles a ON a.id = t.article_id "
            "WHERE kb_fts MATCH :expression AND NOT a.archived AND a.visibility IN :visible "
            "ORDER BY score LIMIT :limit").bindparams(bindparam("visible", expanding=True)),
            {"expression": expression, "visible": list(visibilities), "limit": limit})
        return [Match(a, lang, -float(score)) for a, lang, score in rows]


class PostgresFullText:
    CONFIGS = ("english", "russian", "simple")

    def match(self, session: Session, terms: Sequence[str], *, any_term: bool,
              visibilities: Sequence[str], limit: int) -> list[Match]:
        joiner = " | " if any_term else " & "
        expression = joiner.join(f"'{t}':*" for t in terms)  # quoted: never a syntax error
        query = " || ".join(f"to_tsquery('{c}', :expression)" for c in self.CONFIGS)
        rows = session.execute(text(
            f"SELECT t.article_id, t.language, ts_rank(t.fts, {query}) AS score "
            f"FROM kb_article_texts t JOIN kb_articles a ON a.id = t.article_id "
            f"WHERE t.fts @@ ({query}) AND NOT a.archived AND a.visibility IN :visible "
            f"ORDER BY score DESC, t.article_id LIMIT :limit"
        ).bindparams(bindparam("visible", expanding=True)),
            {"expression": expression, "visible": list(visibilities), "limit": limit})
        return [Match(a, lang, float(score)) for a, lang, score in rows]


def backend_for(session: Session) -> SearchBackend:
    """The search backend of the session's database."""
    dialect = session.get_bind().dialect.name
    return PostgresFullText() if dialect == "postgresql" else SqliteFts5()


def search_texts(session: Session, query: str, *, public_only: bool, limit: int = 10,
                 backend: SearchBackend | None = None) -> list[Match]:
    """Matches for ``query`` (all words first, then any), at most ``limit`` texts; requesters
    search with ``public_only``. An empty query (no usable word) matches nothing."""
    terms = query_terms(query)
    if not terms:
        return []
    backend = backend or backend_for(session)
    visible = ("public",) if public_only else ("public", "internal")
    found = backend.match(session, terms, any_term=False, visibilities=visible, limit=limit)
    if not found and len(terms) > 1:
        found = backend.match(session, terms, any_term=True, visibilities=visible, limit=limit)
    return found
