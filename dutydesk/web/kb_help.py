"""The requesters' side of the knowledge base (no sign-in needed; public articles only):

- ``GET /help/kb/suggest?q=&service=&lang=`` — JSON suggestions while a request is typed
  (``static/js/kb-suggest.js``); the same search serves the no-JS first step of ``/help``;
- ``GET /help/kb/<id>`` — an article in the reader's language;
- ``POST /help/kb/<id>/solved`` — "this solved it": a deflection is counted, no request made.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext

from dutydesk.context import db_session, principal, settings
from dutydesk.core.db import utcnow
from dutydesk.i18n import current_language
from dutydesk.requests import mail
from dutydesk.requests.kb.articles import LANGUAGES, plain, render
from dutydesk.requests.kb.store import (
    ArticleMissing,
    Found,
    get_article,
    record_deflection,
    search_articles,
)

bp = Blueprint("kb_help", __name__, url_prefix="/help/kb")

MAX_QUERY = 300
SUGGESTIONS = 5


def reader_language() -> str:
    wanted = request.args.get("lang", "")
    return wanted if wanted in LANGUAGES else current_language()


def suggestions(query: str, service: str = "", language: str = "en") -> list[Found]:
    """Public articles for what a requester typed (the JSON endpoint and the no-JS step)."""
    return search_articles(db_session(), query[:MAX_QUERY], language=language,
                           public_only=True, service=service or None, limit=SUGGESTIONS)


@bp.route("/suggest")
def suggest() -> Any:
    query = request.args.get("q", "")
    language = reader_language()
    found = suggestions(query, request.args.get("service", "")[:200], language)
    return jsonify({"articles": [
        {"id": f.article.id, "title": f.text.title, "excerpt": plain(f.text.body, 160),
         "language": f.text.language,
         "url": url_for("kb_help.article", article_id=f.article.id, lang=f.text.language,
                        q=query[:MAX_QUERY] or None, service=request.args.get("service") or None)}
        for f in found]})


@bp.route("/<int:article_id>")
def article(article_id: int) -> Any:
    try:
        found = get_article(db_session(), article_id, public_only=True)
    except ArticleMissing:
        abort(404)
    text = found.text_for(reader_language())
    return render_template("help/article.html", article=found, text=text,
                           html=render(text.body), query=request.args.get("q", "")[:MAX_QUERY],
                           service=request.args.get("service", "")[:200],
                           token=request.args.get("t", ""))


def _who(token: str) -> tuple[str, str | None]:
    """The requester's address (signed in, or the link's token), and the token if valid."""
    if token:
        try:
            return mail.read_requester_token(settings().secret_key, token), token
        except mail.BadRequesterToken:
            return "", None
    user = principal().user
    return (user.email if user is not None else ""), None


@bp.route("/<int:article_id>/solved", methods=["POST"])
def solved(article_id: int) -> Any:
    s = db_session()
    email, token = _who(request.form.get("t", ""))
    service = request.form.get("service", "")[:200]
    try:
        record_deflection(s, article_id, utcnow(), email=email, service=service,
                          query=request.form.get("q", "")[:MAX_QUERY])
    except ArticleMissing:
        abort(404)
    s.commit()
    flash(gettext("Glad it helped. Nothing else to do: no request was made."), "ok")
    if token:
        return redirect(url_for("help.my_requests", token=token))
    return redirect(url_for("help.help_page"))
