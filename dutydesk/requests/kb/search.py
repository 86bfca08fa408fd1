"""Knowledge-base full-text search: one interface, two backends.

- SQLite (the embedded default): the FTS5 table ``kb_fts`` (porter + unicode61 tokenizer), kept
  in step with ``kb_article_texts`` by triggers, ranked by bm25 with the title weighted 5×.
- PostgreSQL (production): the generated ``fts`` tsvector column (English/Russian stemming by
  the text's language, 'simple' for Ukrainian; the title weighted A) and a title-only one, each
  with a GIN index, ranked by ``ts_rank``; each word is looked up stemmed for its script and
  as typed, so a Russian query finds Russian texts stemmed and a Ukrainian one finds words as
  typed.

Both match every word as a prefix (suggestions while typing: "prin" finds "printer"). A search
asks in one query for texts containing *all* the words or having *any* of them in the title
(those with all the words first); only when none does, for texts with any word anywhere. So a
whole sentence typed by a requester still finds the article about its key words, and the broad
search runs only when neither finds anything.
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
#: Words that say nothing about the problem (in what people type to a service desk), in
#: English, Russian and Ukrainian: left out so "не могу подключиться к впн" looks for the VPN,
#: not for every text with "не" in it.
_STOPWORD_TEXT = """
a an the and or not no to of in on at for from with by is are was were be been being it its
this that these those my me i you your we our us he she they them his her do does did done can
cannot could would should will shall may might must please help hello hi dear thanks thank
since morning today yesterday again still any some all get got have has had but so if then
when what why how which who whom there here up down out about after before just also very
really doesnt dont didnt isnt wont cant im ive
и в во не на с со к ко у о об от до по за из изо для что чтобы как это этот эта эти я мы вы
он она оно они мне меня нам нас вам вас его её ее их мой моя моё мое мои ваш ваша ваше ваши но
а или же ли бы то так уже ещё еще нет да при без над под всё все пожалуйста помогите
здравствуйте добрый день утро утра сегодня вчера снова опять могу может можно нужно надо
і й у з із зі від що щоб як цей ця ці мені мене нам вам її їх мій моє мої але або чи вже ще
ні при над під усе всі будь ласка допоможіть доброго добрий ранку сьогодні вчора знову можу
може можна потрібно треба
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class Match:
    """One text that matched: its article, language and score (higher is better)."""

    article_id: int
    language: str
    score: float


def query_terms(query: str) -> list[str]:
    """The words to look for: lower-case, at least two characters, no stopwords, each at most
    once, at most eight. Cyrillic words lose an inflected ending (1–2 letters) since they are
    matched as prefixes: "картриджи" looks for "картрид…" (SQLite's tokenizer stems English
    only)."""
    terms: list[str] = []
    for word in _WORD.findall(query.lower().replace("_", " ")):
        word = word[:MAX_TERM_LENGTH]
        if len(word) < 2 or word in STOPWORDS:
            continue
        if _CYRILLIC.search(word):
            word = word[:-2] if len(word) >= 7 else word[:-1] if len(word) >= 5 else word
        if word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


class SearchBackend(Protocol):
    def match(self, session: Session, terms: Sequence[str], *, broad: bool,
              visibilities: Sequence[str], limit: int) -> list[Match]:
        """Texts of non-archived articles with a visibility in ``visibilities`` that contain
        every one of ``terms`` (as word prefixes) or have any of them in their title, those
        with every term first; with ``broad``, texts with any of the terms anywhere. Best
        first, at most ``limit``."""
        ...


class SqliteFts5:
    def match(self, session: Session, terms: Sequence[str], *, broad: bool,
              visibilities: Sequence[str], limit: int) -> list[Match]:
        words = [f'"{t}"*' for t in terms]  # terms are \w only: never a quote inside
        if broad:
            expression = " OR ".join(words)
        else:
            expression = f"({' AND '.join(words)}) OR title : ({' OR '.join(words)})"
        # FTS5 orders by its own ``rank`` (bm25 with the title weighted 5×, set by migration
        # 0026) fastest when asked alone; the visibility filter is applied to a few times
        # ``limit`` best candidates.
        rows = session.execute(text(
            "SELECT t.article_id, t.language, hit.rank FROM "
            "(SELECT rowid, rank FROM kb_fts WHERE kb_fts MATCH :expression "
            " ORDER BY rank LIMIT :candidates) AS hit "
            "JOIN kb_article_texts t ON t.id = hit.rowid "
            "JOIN kb_articles a ON a.id = t.article_id "
            "WHERE NOT a.archived AND a.visibility IN :visible "
            "ORDER BY hit.rank LIMIT :limit").bindparams(bindparam("visible", expanding=True)),
            {"expression": expression, "visible": list(visibilities), "limit": limit,
             "candidates": limit * 4})
        return [Match(a, lang, -float(score)) for a, lang, score in rows]


class PostgresFullText:
    """Each word is looked up stemmed the way texts in its script are (English for Latin
    words, Russian for Cyrillic ones) and as typed ('simple': Ukrainian, names)."""

    def match(self, session: Session, terms: Sequence[str], *, broad: bool,
              visibilities: Sequence[str], limit: int) -> list[Match]:
        parts, values = [], {}
        for n, term in enumerate(terms):
            values[f"t{n}"] = f"'{term}':*"  # quoted: never a syntax error
            stemmed = "russian" if _CYRILLIC.search(term) else "english"
            parts.append(f"(to_tsquery('{stemmed}', :t{n}) || to_tsquery('simple', :t{n}))")
        every, some = " && ".join(parts), " || ".join(parts)
        where = f"t.fts @@ ({some})" if broad else \
            f"(t.fts @@ ({every}) OR t.fts_title @@ ({some}))"
        # Ranking reads each text's whole vector, so only the best few times ``limit``
        # candidates are ranked: those with every word, then title matches, then the most
        # used articles.
        rows = session.execute(text(
            f"WITH hit AS (SELECT t.id, (t.fts @@ ({every})) AS every FROM kb_article_texts t "
            f"  JOIN kb_articles a ON a.id = t.article_id "
            f"  WHERE {where} AND NOT a.archived AND a.visibility IN :visible "
            f"  ORDER BY 2 DESC, (t.fts_title @@ ({some})) DESC, a.use_count DESC, t.id "
            f"  LIMIT :candidates) "
            f"SELECT t.article_id, t.language, "
            f"  ts_rank(t.fts, {some}) + CASE WHEN hit.every THEN 1 ELSE 0 END AS score "
            f"FROM hit JOIN kb_article_texts t ON t.id = hit.id "
            f"ORDER BY score DESC, t.article_id LIMIT :limit"
        ).bindparams(bindparam("visible", expanding=True)),
            {**values, "visible": list(visibilities), "limit": limit, "candidates": limit * 5})
        return [Match(a, lang, float(score)) for a, lang, score in rows]


def backend_for(session: Session) -> SearchBackend:
    """The search backend of the session's database."""
    dialect = session.get_bind().dialect.name
    return PostgresFullText() if dialect == "postgresql" else SqliteFts5()


def search_texts(session: Session, query: str, *, public_only: bool, limit: int = 10,
                 backend: SearchBackend | None = None) -> list[Match]:
    """Matches for ``query`` (see the module doc), at most ``limit`` texts; requesters
    search with ``public_only``. An empty query (no usable word) matches nothing."""
    terms = query_terms(query)
    if not terms:
        return []
    backend = backend or backend_for(session)
    visible = ("public",) if public_only else ("public", "internal")
    found = backend.match(session, terms, broad=False, visibilities=visible, limit=limit)
    if not found and len(terms) > 1:
        found = backend.match(session, terms, broad=True, visibilities=visible, limit=limit)
    return found
