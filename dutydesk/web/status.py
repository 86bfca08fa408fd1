"""The public status page (no login): page, notice, Atom feed, badges, subscriptions.

Views are deliberately not decorated with ``require_role``: everyone may read them. The page,
notice pages, feed and badges come from snapshots (see ``status_snapshot``).
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext, ngettext

from dutydesk.context import app_state, db_session, settings
from dutydesk.core.config import SUPPORTED_LANGUAGES
from dutydesk.core.db import utcnow
from dutydesk.i18n import current_language as language
from dutydesk.web.status_snapshot import as_of, cache, install_fast_path, serve
from shifts.notices import atom, badge
from shifts.notices.model import render_markdown
from shifts.notices.page import build_page, load_page
from shifts.notices.subscriptions import (
    SubscriptionError,
    confirm,
    subscribe_email,
    unsubscribe,
    unsubscribe_subscriber,
)
from shifts.notices.uptime import bar_runs

bp = Blueprint("status", __name__, url_prefix="/status")
# Answer the crowd's anonymous requests for built snapshots before Flask (status_snapshot).
bp.record_once(lambda state: install_fast_path(state.app))

def site_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings().timezone)


def page_model() -> Any:
    """The page model as of the snapshot's stable instant (the same in every process, so every
    worker renders the same bytes for the same database state)."""
    now = as_of()
    # Read-only: a build must not wait for (or hold up) a writer, see Database.read_session.
    with app_state().db.read_session() as s:
        data = load_page(s, now, timedelta(seconds=settings().status_hold_seconds))
    return build_page(data.groups, data.services, data.notices, now, site_zone(),
                      check_states=data.check_states, check_flips=data.check_flips,
                      site_names=data.site_names), data.notices


def _render(template: str, **context: Any) -> bytes:
    return render_template(template, tr=lambda m: m.render(gettext, ngettext), md=render_markdown,
                           bar_runs=bar_runs, **context).encode()


@bp.after_app_request
def _remember_language(response: Any) -> Any:
    chosen = request.args.get("lang")
    if chosen in SUPPORTED_LANGUAGES and request.path.startswith("/status"):
        response.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax")
    return response


@bp.route("")
def page() -> Any:
    def build() -> bytes:
        model, _ = page_model()
        return _render("status/page.html", page=model)

    return serve("page", language(), "text/html", build)


@bp.route("/notices/<int:notice_id>")
def notice(notice_id: int) -> Any:
    def build() -> bytes:
        model, notices = page_model()
        found = next((n for n in notices if n.id == str(notice_id)), None)
        if found is None:
            return b""
        return _render("status/notice.html", page=model, notice=found)

    response = serve(f"notice:{notice_id}", language(), "text/html", build)
    if response.status_code == 200 and not response.get_data():
        abort(404, description=f"no published notice with id {notice_id}")
    return response


@bp.route("/feed.atom")
def feed() -> Any:
    def build() -> bytes:
        model, notices = page_model()
        base = settings().base_url.rstrip("/")
        info = atom.FeedInfo(
            title=gettext("DutyDesk status"), site_url=f"{base}/status",
            feed_url=f"{base}/status/feed.atom",
            tag_authority=settings().extra.get("status_tag_authority", "dutydesk.local"),
            tag_date="2026-01-01")
        services = [ln.service for g in model.groups for ln in g.lines]
        return atom.atom_feed(info, notices, model.now, services=services, tz=site_zone(),
                              gettext=gettext).encode()

    return serve("feed", language(), "application/atom+xml", build)


@bp.route("/badge/<slug>.svg")
def badge_svg(slug: str) -> Any:
    def build() -> bytes:
        model, _ = page_model()
        for block in model.groups:
            for ln in block.lines:
                if ln.service.id == slug:
                    return badge.render_badge(ln.service.name, ln.status, status_text=gettext(
                        badge.STATUS_TEXTS[ln.status])).encode()
        return b""

    response = serve(f"badge:{slug}", language(), "image/svg+xml", build)
    if response.status_code == 200 and not response.get_data():
        abort(404, description=f"no service {slug!r}")
    return response


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe() -> Any:
    model, _ = page_model()
    services = [ln.service for g in model.groups for ln in g.lines]
    error, done = None, False
    if request.method == "POST":
        chosen = request.form.getlist("services") or None
        s = db_session()
        try:
            subscribe_email(s, request.form.get("email", ""), now=utcnow(),
                            base_url=settings().base_url, services=chosen, language=language())
            s.commit()
            done = True
        except SubscriptionError as exc:
            s.rollback()
            error = str(exc)
    return render_template("status/subscribe.html", services=services, error=error, done=done,
                           email=request.form.get("email", "")), (400 if error else 200)


@bp.route("/subscribe/confirm/<token>")
def subscribe_confirm(token: str) -> Any:
    s = db_session()
    try:
        confirm(s, token, now=utcnow())
    except SubscriptionError as exc:
        return render_template("status/message.html", message=str(exc), ok=False), 400
    s.commit()
    return render_template("status/message.html", ok=True,
                           message=gettext("Your subscription is confirmed."))


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_view(token: str) -> Any:
    """RFC 8058: the mail client's POST (``List-Unsubscribe=One-Click``) or the confirm
    button's POST unsubscribes; a GET — a person, or a mail scanner opening every link — only
    shows the button and changes nothing. The token is the authority (no session, no CSRF
    token: the mail client has neither)."""
    s = db_session()
    if request.method == "GET":
        try:
            sub = unsubscribe_subscriber(s, token)
        except SubscriptionError as exc:
            return render_template("status/message.html", message=str(exc), ok=False), 400
        return render_template("status/unsubscribe.html", token=token,
                               done=sub.unsubscribed_at is not None)
    try:
        unsubscribe(s, token, now=utcnow())
    except SubscriptionError as exc:
        return render_template("status/message.html", message=str(exc), ok=False), 400
    s.commit()
    return render_template("status/message.html", ok=True,
                           message=gettext("You will receive no more status messages."))


def invalidate() -> None:
    """Drop this process's snapshots (after a change made by this process)."""
    cache().invalidate()
