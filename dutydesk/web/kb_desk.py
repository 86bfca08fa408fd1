"""The desk's knowledge base (``/kb``): search and read every article (engineers and above:
internal ones are for the first line), write and edit them (shift leads and admins), each save
a kept version (``/kb/<id>/history``), archive one. The typical cases: ``/kb?order=uses``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from dutydesk.context import db_session, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.core.validation import ValidationError
from dutydesk.i18n import current_language as _language
from dutydesk.models import Role
from dutydesk.requests.catalog.store import list_items
from dutydesk.requests.kb.articles import LANGUAGES, render
from dutydesk.requests.kb.store import (
    ArticleConflict,
    ArticleMissing,
    archive_article,
    create_article,
    get_article,
    list_articles,
    search_articles,
    update_article,
    versions,
)
from shifts.notices.storage import load_services

bp = Blueprint("kb", __name__, url_prefix="/kb")


def _get(article_id: int) -> Any:
    try:
        return get_article(db_session(), article_id)
    except ArticleMissing:
        abort(404)


@bp.route("")
@require_role(Role.ENGINEER)
def articles() -> Any:
    query = request.args.get("q", "").strip()[:300]
    order = "uses" if request.args.get("order") == "uses" else "title"
    s = db_session()
    if query:
        found = [(f.article, f.text) for f in search_articles(
            s, query, language=_language(), public_only=False, limit=50)]
    else:
        found = [(a, a.text_for(_language())) for a in list_articles(s, order=order)]
    return render_template("kb/list.html", found=found, query=query, order=order,
                           can_edit=principal().can(Role.SHIFT_LEAD))


@bp.route("/<int:article_id>")
@require_role(Role.ENGINEER)
def article(article_id: int) -> Any:
    found = _get(article_id)
    wanted = request.args.get("lang", "")
    text = found.text_for(wanted if wanted in LANGUAGES else _language())
    return render_template("kb/article.html", article=found, text=text, html=render(text.body),
                           can_edit=principal().can(Role.SHIFT_LEAD))


def _draft(form: MultiDict) -> dict[str, Any]:
    return {
        "slug": form.get("slug", ""), "visibility": form.get("visibility", "internal"),
        "services": form.getlist("services"), "catalog_items": form.getlist("catalog_items"),
        "texts": {lang: {"title": form.get(f"title_{lang}", ""),
                         "body": form.get(f"body_{lang}", "")} for lang in LANGUAGES},
    }


def _form_values(article: Any) -> dict[str, Any]:
    draft = article.draft
    values: dict[str, Any] = {"slug": draft.slug, "visibility": draft.visibility,
                              "services": list(draft.services),
                              "catalog_items": [str(i) for i in draft.catalog_item_ids]}
    for lang, value in draft.texts.items():
        values[f"title_{lang}"], values[f"body_{lang}"] = value.title, value.body
    return values


def _editor(values: dict[str, Any], article: Any = None, error: str | None = None,
            status: int = 200) -> Any:
    s = db_session()
    return render_template("kb/edit.html", values=values, article=article, error=error,
                           services=load_services(s)[1], items=list_items(s),
                           languages=LANGUAGES, language=_language()), status


def _plain(form: MultiDict) -> dict[str, Any]:
    values: dict[str, Any] = {k: form.get(k, "") for k in form}
    values["services"] = form.getlist("services")
    values["catalog_items"] = form.getlist("catalog_items")
    return values


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.SHIFT_LEAD)
def new_article() -> Any:
    if request.method == "GET":
        return _editor({"visibility": "public"})
    s = db_session()
    try:
        created = create_article(s, principal(), _draft(request.form), utcnow())
        s.commit()
    except (ValidationError, ArticleConflict) as exc:
        s.rollback()
        return _editor(_plain(request.form), error=str(exc), status=400)
    flash(gettext("Article saved."), "ok")
    return redirect(url_for("kb.article", article_id=created.id))


@bp.route("/<int:article_id>/edit", methods=["GET", "POST"])
@require_role(Role.SHIFT_LEAD)
def edit_article(article_id: int) -> Any:
    found = _get(article_id)
    if request.method == "GET":
        return _editor(_form_values(found), found)
    s = db_session()
    version = request.form.get("version", "")
    try:
        update_article(s, principal(), article_id, _draft(request.form), utcnow(),
                       expected_version=int(version) if version.isdigit() else None)
        s.commit()
    except ArticleConflict as exc:
        s.rollback()
        return _editor(_plain(request.form), found, str(exc), 409)
    except ValidationError as exc:
        s.rollback()
        return _editor(_plain(request.form), found, str(exc), 400)
    flash(gettext("Article saved."), "ok")
    return redirect(url_for("kb.article", article_id=article_id))


@bp.route("/<int:article_id>/archive", methods=["POST"])
@require_role(Role.SHIFT_LEAD)
def archive(article_id: int) -> Any:
    _get(article_id)
    s = db_session()
    archive_article(s, principal(), article_id, utcnow())
    s.commit()
    flash(gettext("Article archived: it is no longer found or suggested."), "ok")
    return redirect(url_for("kb.articles"))


@bp.route("/<int:article_id>/history")
@require_role(Role.ENGINEER)
def history(article_id: int) -> Any:
    found = _get(article_id)
    return render_template("kb/history.html", article=found,
                           versions=versions(db_session(), article_id), language=_language(),
                           can_edit=principal().can(Role.SHIFT_LEAD))


@bp.route("/<int:article_id>/history/<int:number>/restore", methods=["POST"])
@require_role(Role.SHIFT_LEAD)
def restore(article_id: int, number: int) -> Any:
    """Save an old version again as the newest one (the versions in between stay kept)."""
    _get(article_id)
    s = db_session()
    old = next((v for v in versions(s, article_id) if v.version == number), None)
    if old is None:
        abort(404)
    snap = old.draft.snapshot()
    try:
        update_article(s, principal(), article_id, {**snap, "catalog_items":
                                                    snap["catalog_item_ids"]}, utcnow())
        s.commit()
    except ArticleConflict as exc:
        s.rollback()
        flash(str(exc), "error")
        return redirect(url_for("kb.history", article_id=article_id))
    flash(gettext("Version %(number)d restored as the newest version.", number=number), "ok")
    return redirect(url_for("kb.article", article_id=article_id))
