"""JSON API of the service catalog and the knowledge base (``/api/v1``), for engineers and
above (internal articles are for the desk): the catalog, article search and one article, and
resolving a request with an article. Requesters use ``/help/kb/suggest`` (public only)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from dutydesk.context import db_session, principal, require_role, settings
from dutydesk.core.db import utcnow
from dutydesk.core.validation import record_id
from dutydesk.errors import ApiError
from dutydesk.models import Role
from dutydesk.openapi import operation, query_param
from dutydesk.requests.catalog.items import as_document
from dutydesk.requests.catalog.store import list_items
from dutydesk.requests.kb.articles import LANGUAGES, Article
from dutydesk.requests.kb.store import ArticleMissing, get_article, list_articles, search_articles
from dutydesk.requests.kb.use import resolve_with_article
from dutydesk.web.api import _csrf_for_cookie_sessions, json_body
from dutydesk.web.requests_api import ONE, _answer

bp = Blueprint("kb_api", __name__, url_prefix="/api/v1")
bp.before_request(_csrf_for_cookie_sessions)

ITEM_SCHEMA = {"type": "object", "required": ["id", "service", "slug", "name", "type", "line"],
               "properties": {"id": {"type": "integer"}, "service": {"type": "string"},
                              "slug": {"type": "string"}, "name": {"type": "object"},
                              "type": {"type": "string"}, "line": {"type": "string"},
                              "priority": {"type": "string"}, "sla": {"type": "object"},
                              "fields": {"type": "array"}, "approval": {"type": "string"},
                              "active": {"type": "boolean"}}}
ARTICLE_SCHEMA = {"type": "object", "required": ["id", "slug", "visibility", "texts"],
                  "properties": {"id": {"type": "integer"}, "slug": {"type": "string"},
                                 "visibility": {"enum": ["public", "internal"]},
                                 "services": {"type": "array"},
                                 "catalog_items": {"type": "array"}, "texts": {"type": "object"},
                                 "version": {"type": "integer"},
                                 "use_count": {"type": "integer"},
                                 "deflection_count": {"type": "integer"}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def article_as_dict(article: Article) -> dict[str, Any]:
    snap = article.draft.snapshot()
    return {"id": article.id, "slug": snap["slug"], "visibility": snap["visibility"],
            "services": snap["services"], "catalog_items": snap["catalog_item_ids"],
            "texts": snap["texts"], "version": article.version, "use_count": article.use_count,
            "deflection_count": article.deflection_count, "archived": article.archived}


@bp.route("/catalog")
@operation("The service catalog: what may be asked for, per service", tags=["catalog"],
           parameters=[query_param("service", {"type": "string"}, "only this status page service")],
           responses={"200": _json("Catalog items", {"type": "object", "properties": {
               "items": {"type": "array", "items": ITEM_SCHEMA}}})})
@require_role(Role.ENGINEER)
def catalog() -> Any:
    service = request.args.get("service") or None
    items = list_items(db_session(), service[:200] if service else None)
    return jsonify(items=[{"id": i.id, **as_document(i)} for i in items])


@bp.route("/kb/articles")
@operation("Knowledge-base articles: full-text search (q) or all, most used first",
           tags=["knowledge base"],
           parameters=[query_param("q", {"type": "string", "maxLength": 300},
                                   "words to look for (prefixes match)"),
                       query_param("lang", {"enum": list(LANGUAGES)}, "preferred language")],
           responses={"200": _json("Articles, best first", {"type": "object", "properties": {
               "items": {"type": "array", "items": ARTICLE_SCHEMA}}})})
@require_role(Role.ENGINEER)
def articles() -> Any:
    query = request.args.get("q", "")[:300]
    language = request.args.get("lang", "en")
    if language not in LANGUAGES:
        raise ApiError(400, "lang must be en, ru or uk")
    s = db_session()
    found = ([f.article for f in search_articles(s, query, language=language,
                                                  public_only=False, limit=50)]
             if query.strip() else list_articles(s, order="uses", limit=200))
    return jsonify(items=[article_as_dict(a) for a in found])


@bp.route("/kb/articles/<int:article_id>")
@operation("One knowledge-base article with its texts", tags=["knowledge base"],
           responses={"200": _json("The article", ARTICLE_SCHEMA)})
@require_role(Role.ENGINEER)
def article(article_id: int) -> Any:
    try:
        return jsonify(article_as_dict(get_article(db_session(), article_id)))
    except ArticleMissing as exc:
        raise ApiError(404, str(exc)) from None


@bp.route("/requests/<int:request_id>/resolve-with-article", methods=["POST"])
@operation("Resolve with a public article: it is mailed to the requester in their language "
           "and its use counted", tags=["requests"],
           request_body={"type": "object", "required": ["article_id"],
                         "properties": {"article_id": {"type": "integer", "minimum": 1}}},
           responses=ONE)
@require_role(Role.ENGINEER)
def resolve(request_id: int) -> Any:
    article_id = record_id(json_body(("article_id",))["article_id"], "article_id")
    expected = request.headers.get("If-Match", "")
    try:
        get_article(db_session(), article_id)
    except ArticleMissing as exc:
        raise ApiError(404, str(exc)) from None
    return _answer(lambda: resolve_with_article(
        db_session(), settings(), principal(), request_id, article_id, utcnow(),
        expected_version=int(expected) if expected.isdigit() else None))
