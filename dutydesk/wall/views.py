"""Routes: ``GET /wall`` (the page) and ``GET /wall/events`` (Server-Sent Events).

Both need the viewer role or higher (a kiosk link signs a screen in as viewer). The page is
read fresh from storage on every request; the stream only ever reads the process's feed.

``?site=<slug>`` shows one site's wall (an unknown slug: 404); without it, every site's. A
screen signed in through a site's kiosk link sees that site's wall only: without ``?site`` it
gets its site's, and asking for another site (or every site) is refused with 403.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from dutydesk.context import app_state, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.models import Role
from dutydesk.wall.feed import feed_for, limits_for, wall_locale
from dutydesk.wall.render import render_sections, template_filters, template_helpers
from dutydesk.wall.scope import UnknownSite, find_site, load_sites, load_wall
from dutydesk.wall.sitesview import SiteInfo

bp = Blueprint("wall", __name__)

#: The stream sends a heartbeat this often; a wall that hears nothing for twice as long says
#: "NOT LIVE" (a hung server keeps the connection open but sends nothing).
HEARTBEAT_SECONDS = 5.0
RETRY_MS = 3000
#: A stream ends after this long and the browser reconnects; a revoked kiosk link then stops.
MAX_STREAM_SECONDS = 30 * 60
_VERSION = re.compile(r"^[0-9a-f]{8}\.[0-9]{1,12}$")

# Incident actions the wall can trigger with a key, found among the app's routes by path, so the
# shortcuts appear only once the incidents API serves them.
_ACTIONS = {
    "ack": re.compile(r"^/api/v1/incidents/<int:(\w+)>/(ack|acknowledge)$"),
    "note": re.compile(r"^/api/v1/incidents/<int:(\w+)>/notes?$"),
    "escalate": re.compile(r"^/api/v1/incidents/<int:(\w+)>/escalate$"),
    "resolve": re.compile(r"^/api/v1/incidents/<int:(\w+)>/resolve$"),
}


@bp.record_once
def _install_helpers(state: Any) -> None:
    state.app.jinja_env.globals.update(template_helpers())
    state.app.jinja_env.filters.update(template_filters())


def incident_actions() -> dict[str, str]:
    """``{"ack": "/api/v1/incidents/{id}/ack", ...}`` for the POST routes that exist."""
    found: dict[str, str] = {}
    for rule in current_app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()):
            continue
        for action, pattern in _ACTIONS.items():
            match = pattern.match(rule.rule)
            if match:
                found[action] = rule.rule.replace(f"<int:{match.group(1)}>", "{id}")
    return found


@bp.route("/wall")
@require_role(Role.VIEWER)
def wall() -> Any:
    who = principal()
    # A reader's snapshot: on SQLite the request session would hold the write lock while the
    # wall is built, and kiosk screens reload it often; the engine's writes must not queue.
    feed = feed_for(current_app._get_current_object())  # type: ignore[attr-defined]
    locale = str(get_locale())
    with app_state().db.read_session() as session:
        sites = load_sites(session)
        site = wall_site(session, who, sites, request.args.get("site"))
        zone = site.time_zone if site is not None else feed.zone
        with wall_locale(locale, zone):
            view = load_wall(session, utcnow(), limits_for(current_app), site, sites)
            sections = render_sections(view)
        actions = incident_actions() if who.can(Role.ENGINEER) else {}
        kiosk = who.kind == "kiosk" or request.args.get("kiosk") == "1"
        return render_template(
            "wall/wall.html",
            sections=sections,
            view=view,
            version=feed.version_for(locale, site.slug if site else None) or "",
            kiosk_mode=kiosk,
            # a mouse-less kiosk gets no button it cannot press; ?sound=1 asks for one anyway
            sound_toggle=not kiosk or request.args.get("sound") == "1",
            rotate=_rotate_seconds(request.args.get("rotate")),
            zone=zone,
            heartbeat=HEARTBEAT_SECONDS,
            actions=actions,
        )


def wall_site(
    session: Any, who: Any, sites: list[SiteInfo], asked: str | None
) -> SiteInfo | None:
    """The site whose wall this viewer sees (``None``: every site). Aborts 404 for an unknown
    site and 403 when a site's kiosk screen asks for another site or for every site."""
    pinned: SiteInfo | None = None
    if who.kind == "kiosk":
        from dutydesk.models import KioskLink

        link = session.get(KioskLink, who.kiosk_id)
        if link is not None and link.site_id is not None:
            pinned = next((s for s in sites if s.id == link.site_id), None)
            if pinned is None:  # its site is gone: show nothing rather than everything
                abort(403, _("The site of this kiosk link no longer exists."))
    if asked is None or asked == "":
        return pinned
    try:
        site = find_site(sites, asked[:64])
    except UnknownSite:
        abort(404, _("There is no site %(slug)s.", slug=asked[:64]))
    if pinned is not None and site.id != pinned.id:
        abort(403, _("This screen shows the wall of %(site)s only.", site=pinned.name))
    return site


def _rotate_seconds(text: str | None) -> int:
    """``?rotate=20``: page through the collapsed groups every 20 s (0 = off; 5..600 s)."""
    try:
        seconds = int(text or 0)
    except ValueError:
        return 0
    return min(max(seconds, 5), 600) if seconds > 0 else 0


@bp.route("/wall/events")
@require_role(Role.VIEWER)
def events() -> Response:
    seen = request.headers.get("Last-Event-ID") or request.args.get("v") or None
    if seen is not None and not _VERSION.match(seen):
        seen = None  # garbage in: start over with a full refresh
    feed = feed_for(current_app._get_current_object())  # type: ignore[attr-defined]
    with app_state().db.read_session() as session:
        site = wall_site(session, principal(), load_sites(session), request.args.get("site"))
    return Response(
        _stream(feed, seen, str(get_locale()), site.slug if site else None),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(version: str, payload: dict[str, Any]) -> str:
    data = json.dumps({"v": version, **payload}, separators=(",", ":"), ensure_ascii=False)
    return f"id: {version}\nevent: patch\ndata: {data}\n\n"


def _heartbeat() -> str:
    """A named event (comments are invisible to EventSource): the wall's proof of life."""
    data = json.dumps({"at": utcnow().isoformat(), "every": HEARTBEAT_SECONDS})
    return f"event: heartbeat\ndata: {data}\n\n"


def _stream(feed: Any, seen: str | None, locale: str, scope: str | None) -> Iterator[str]:
    feed.subscribe(locale, scope)
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        yield _heartbeat()
        ends = time.monotonic() + MAX_STREAM_SECONDS
        if feed.version_for(locale, scope) is None:
            feed.wait_for_change(None, HEARTBEAT_SECONDS, locale, scope)
        beat_due = time.monotonic() + HEARTBEAT_SECONDS
        while time.monotonic() < ends:
            update = feed.update_since(seen, locale, scope)
            if update is not None:
                seen = update.version
                yield _event(update.version, update.payload)
            feed.wait_for_change(seen, max(beat_due - time.monotonic(), 0.0), locale, scope)
            if time.monotonic() >= beat_due:
                # every period even while patches flow, so the client's rule is one rule
                yield _heartbeat()
                beat_due = time.monotonic() + HEARTBEAT_SECONDS
    finally:
        feed.unsubscribe(locale, scope)
