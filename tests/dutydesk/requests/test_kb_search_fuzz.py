"""Whatever is typed into the knowledge-base search — search syntax of either backend, quotes,
NUL-free control characters, scripts, huge input — the search answers (possibly nothing) and
never fails, on SQLite (FTS5 query syntax) and PostgreSQL (tsquery syntax); the public JSON
endpoint answers 200 with public articles only."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dutydesk.core.db import Database, utcnow
from dutydesk.requests.kb.search import MAX_TERMS, query_terms
from dutydesk.requests.kb.store import create_article, search_articles

NASTY = [
    '"', '""', "'", "''", '"printer"*', "printer*", "*", "NEAR(printer cartridge)", "a:b",
    "title:printer", "title : (x", "printer AND", "OR OR", "NOT printer", "-printer", "^prin",
    "prin:*", "!printer", "printer & | !", "(printer", "printer)", "<->", "'a':*A", "\\",
    "²³", "٣٤", "ǅungla", "\u0301a", "🙂 printer", "x" * 5000, "принтер" * 300, "\t\n\r",
    "кар'три\"дж", "_", "__init__", "1e20", "-1", str(2**63),
]


@pytest.fixture
def kb(db: Database) -> Database:
    with db.session() as s:
        create_article(s, "lead", {"visibility": "public", "texts": {
            "en": {"title": "The printer does not print", "body": "Replace the cartridge."},
            "ru": {"title": "Принтер не печатает", "body": "Замените картридж."}}}, utcnow())
        create_article(s, "lead", {"visibility": "internal", "texts": {
            "en": {"title": "Printer admin", "body": "internal"}}}, utcnow())
    return db


@pytest.mark.parametrize("typed", NASTY)
def test_search_syntax_of_either_backend_is_just_text(kb: Database, typed: str) -> None:
    with kb.session() as s:
        for public_only in (True, False):
            search_articles(s, typed, public_only=public_only, language="ru", service="x")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=300))
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_searches_without_failing(kb: Database, typed: str) -> None:
    assert len(query_terms(typed)) <= MAX_TERMS
    with kb.session() as s:
        found = search_articles(s, typed, public_only=True)
    assert all(f.article.is_public for f in found)


@pytest.mark.parametrize("typed", NASTY[:12])
def test_the_suggestion_endpoint_answers_every_query(client: Any, kb: Database,
                                                      typed: str) -> None:
    answer = client.get("/help/kb/suggest", query_string={"q": typed, "lang": typed[:5],
                                                          "service": typed})
    assert answer.status_code == 200
    assert all("admin" not in a["title"] for a in answer.get_json()["articles"])
