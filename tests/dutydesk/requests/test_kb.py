"""The knowledge base on SQLite (FTS5) and PostgreSQL (tsvector): search as people type, what
requesters may see, versions and audit, "this solved it", and resolving a request with an
article mailed in the requester's language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.models.audit import AuditEntry
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.core.validation import ValidationError
from dutydesk.requests import service as req
from dutydesk.requests.kb.articles import render
from dutydesk.requests.kb.models import ArticleUseRow, DeflectionRow
from dutydesk.requests.kb.search import query_terms
from dutydesk.requests.kb.store import (
    ArticleConflict,
    ArticleMissing,
    archive_article,
    create_article,
    get_article,
    record_deflection,
    search_articles,
    update_article,
    versions,
)
from dutydesk.requests.kb.use import resolve_with_article
from dutydesk.requests.store import timeline

PRINTER = {
    "visibility": "public", "services": ["printing"],
    "texts": {
        "en": {"title": "The printer does not print", "body": "Replace the **cartridge**."},
        "ru": {"title": "Принтер не печатает", "body": "Замените картриджи в принтере."},
        "uk": {"title": "Принтер не друкує", "body": "Замініть картридж."},
    },
}
VPN_INTERNAL = {"visibility": "internal", "texts": {"en": {
    "title": "VPN concentrator restart", "body": "ssh to vpn-1 and restart the printer queue"}}}


def add(db: Database, data: dict[str, Any]) -> int:
    with db.session() as s:
        return create_article(s, "lead", data, utcnow()).id


def titles(db: Database, query: str, **options: Any) -> list[str]:
    with db.session() as s:
        return [f.text.title for f in search_articles(s, query, **options)]


@pytest.mark.parametrize(("typed", "terms"), [
    ("Prin", ["prin"]),
    ("my printer, my PRINTER!", ["printer"]),
    ("не могу подключиться к впн", ["подключить", "впн"]),
    ("a b c", []),
    ("картриджи", ["картрид"]),  # an ending dropped: a prefix of картридж, картриджа...
    ("'; DROP TABLE kb_fts; --", ["drop", "table", "kb", "fts"]),
    ("x" * 100, ["x" * 40]),
])
def test_what_is_typed_becomes_a_few_search_words(typed: str, terms: list[str]) -> None:
    assert query_terms(typed) == terms


def test_search_finds_articles_as_the_words_are_typed(db: Database) -> None:
    add(db, PRINTER)
    assert titles(db, "prin") == ["The printer does not print"]
    assert titles(db, "printers cartridge") == ["The printer does not print"]
    assert titles(db, "картриджи", language="ru") == ["Принтер не печатает"]
    assert titles(db, "принтер", language="uk") == ["Принтер не друкує"]
    assert titles(db, "elephant") == []
    assert titles(db, "   ") == []


def test_a_whole_sentence_still_finds_the_article_about_its_key_words(db: Database) -> None:
    add(db, PRINTER)
    assert titles(db, "Since this morning the office printer refuses to work") == [
        "The printer does not print"]


def test_requesters_never_find_internal_or_archived_articles(db: Database) -> None:
    printer = add(db, PRINTER)
    add(db, VPN_INTERNAL)
    assert titles(db, "printer") == ["The printer does not print"]
    assert sorted(titles(db, "printer", public_only=False)) == [
        "The printer does not print", "VPN concentrator restart"]
    with db.session() as s:
        archive_article(s, "lead", printer, utcnow())
    assert titles(db, "printer") == []
    with db.session() as s, pytest.raises(ArticleMissing):
        get_article(s, printer, public_only=True)


def test_articles_linked_to_the_chosen_service_come_first(db: Database) -> None:
    add(db, {"visibility": "public", "services": ["mail"],
             "texts": {"en": {"title": "Printer offline", "body": "printer printer printer"}}})
    add(db, PRINTER)
    assert titles(db, "printer", service="printing")[0] == "The printer does not print"


def test_every_save_is_a_version_and_the_audit_says_who_changed_what(db: Database) -> None:
    article = add(db, PRINTER)
    changed = PRINTER | {"texts": PRINTER["texts"] | {"en": {
        "title": "The printer prints blank pages", "body": "Shake the toner."}}}
    with db.session() as s:
        after = update_article(s, "olga", article, changed, utcnow(), expected_version=1)
        assert after.version == 2
        assert update_article(s, "olga", article, changed, utcnow()).version == 2  # no change
    with db.session() as s, pytest.raises(ArticleConflict, match="reload"):
        update_article(s, "ivan", article, PRINTER, utcnow(), expected_version=1)
    with db.session() as s:
        kept = versions(s, article)
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "kb.update"))
    assert [(v.version, v.actor) for v in kept] == [(2, "olga"), (1, "lead")]
    assert kept[1].draft.texts["en"].body == "Replace the **cartridge**."
    assert entry.actor == "olga"
    assert entry.before["titles"]["en"] == "The printer does not print"
    assert entry.after["titles"]["en"] == "The printer prints blank pages"
    assert titles(db, "toner") == ["The printer prints blank pages"]


@pytest.mark.parametrize(("data", "message"), [
    ({"texts": {}}, "at least one language"),
    ({"texts": {"de": {"title": "Drucker", "body": "x"}}}, "languages are en, ru and uk"),
    ({"texts": {"en": {"title": "Only a title"}}}, "needs both a title and a body"),
    ({"visibility": "secret", "texts": PRINTER["texts"]}, "visibility"),
    ({"slug": "Not A Slug", "texts": PRINTER["texts"]}, "slug"),
])
def test_an_unusable_article_is_refused_with_the_field_named(
        db: Database, data: dict, message: str) -> None:
    with db.session() as s, pytest.raises(ValidationError, match=message):
        create_article(s, "lead", data, utcnow())


def test_markdown_is_rendered_without_scripts() -> None:
    html = render("**bold** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html


def test_this_solved_it_counts_a_deflection_once_per_person_a_day(db: Database) -> None:
    article = add(db, PRINTER)
    internal = add(db, VPN_INTERNAL)
    now = utcnow()
    with db.session() as s:
        assert record_deflection(s, article, now, email="Anna@corp.example",
                                 service="printing", query="printer")
        assert not record_deflection(s, article, now + timedelta(hours=1),
                                     email="anna@corp.example")
        assert record_deflection(s, article, now + timedelta(hours=25),
                                 email="anna@corp.example")
        with pytest.raises(ArticleMissing):
            record_deflection(s, internal, now)
    with db.session() as s:
        rows = list(s.scalars(select(DeflectionRow).order_by(DeflectionRow.id)))
        assert [(r.email, r.service, r.query) for r in rows[:1]] == [
            ("anna@corp.example", "printing", "printer")]
        assert get_article(s, article).deflection_count == 2


def test_resolving_with_an_article_mails_it_in_the_requesters_language_and_counts_the_use(
        db: Database, settings: Settings) -> None:
    article = add(db, PRINTER)
    now = utcnow()
    with db.session() as s:
        row = req.create_request(s, settings, "olga", req.Requester(
            "oksana@corp.example", "Оксана", "uk"), service="printing",
            description="Принтер не друкує", now=now)
        request_id = row.id
    with db.session() as s:
        resolve_with_article(s, settings, "olga", request_id, article, now, expected_version=1)
    with db.session() as s:
        mail = s.scalars(select(OutboxMessage).where(OutboxMessage.target ==
                                                     "oksana@corp.example")
                         .order_by(OutboxMessage.id.desc())).first()
        resolved = timeline(s, request_id)[-1]
        use = s.scalar(select(ArticleUseRow))
        assert get_article(s, article).use_count == 1
    assert "Принтер не друкує" in mail.body_text and "Замініть картридж." in mail.body_text
    assert f"/help/kb/{article}?lang=uk" in mail.body_text
    assert resolved.kind.value == "resolved" and resolved.data["article_id"] == article
    assert (use.request_id, use.language, use.actor) == (request_id, "uk", "olga")


def test_an_internal_article_is_never_sent_to_a_requester(
        db: Database, settings: Settings) -> None:
    internal = add(db, VPN_INTERNAL)
    with db.session() as s:
        request_id = req.create_request(s, settings, "olga", req.Requester("ivan@corp.example"),
                                        service="vpn", description="VPN down", now=utcnow()).id
    with db.session() as s, pytest.raises(ValidationError, match="internal or archived"):
        resolve_with_article(s, settings, "olga", request_id, internal, utcnow())
    with db.session() as s:
        assert timeline(s, request_id)[-1].kind.value == "created"


def test_an_article_with_every_word_comes_before_one_with_a_word_in_its_title(
        db: Database) -> None:
    add(db, {"visibility": "public", "texts": {"en": {
        "title": "Certificate expired", "body": "Ask for a new one."}}})
    add(db, {"visibility": "public", "texts": {"en": {
        "title": "VPN client", "body": "When the VPN says the certificate expired, renew it."}}})
    assert titles(db, "vpn certificate") == ["VPN client", "Certificate expired"]
