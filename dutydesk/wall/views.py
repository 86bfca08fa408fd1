"""Routes: ``GET /wall`` (the page) and ``GET /wall/events`` (Server-Sent Events).

Both need the viewer role or higher (a kiosk link signs a screen in as viewer). The page is
read fresh from storage on every request; the stream only ever reads the process's feed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from dutydesk.context import app_state, principal, require_role
from dutydesk.core.db import utcnow
from dutydesk.models import Role
from dutydesk.wall.feed import feed_for, limits_for
from dutydesk.wall.render import render_sections, template_helpers
from dutydesk.wall.sources import load_view

bp = Blueprint("wall", __name__)

KEEPALIVE_SECONDS = 15.0
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
    with app_state().db.read_session() as session:
        view = load_view(session, utcnow(), limits_for(current_app))
        sections = render_sections(view)
    feed = feed_for(current_app._get_current_object())  # type: ignore[attr-defined]
    actions = incident_actions() if who.can(Role.ENGINEER) else {}
    return render_template(
        "wall/wall.html",
        sections=sections,
        view=view,
        version=feed.version or "",
        kiosk_mode=who.kind == "kiosk" or request.args.get("kiosk") == "1",
        actions=actions,
    )


@bp.route("/wall/events")
@require_role(Role.VIEWER)
def events() -> Response:
    seen = request.headers.get("Last-Event-ID") or request.args.get("v") or None
    if seen is not None and not _VERSION.match(seen):
        seen = None  # garbage in: start over with a full refresh
    feed = feed_for(current_app._get_current_object())  # type: ignore[attr-defined]
    return Response(
        _stream(feed, seen),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(version: str, payload: dict[str, Any]) -> str:
    data = json.dumps({"v": version, **payload}, separators=(",", ":"), ensure_ascii=False)
    return f"id: {version}\nevent: patch\ndata: {data}\n\n"


def _stream(feed: Any, seen: str | None) -> Iterator[str]:
    feed.subscribe()
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        ends = time.monotonic() + MAX_STREAM_SECONDS
        if feed.version is None:
            feed.wait_for_change(None, KEEPALIVE_SECONDS)
        while time.monotonic() < ends:
            update = feed.update_since(seen)
            if update is not None:
                seen = update.version
                yield _event(update.version, update.payload)
            if not feed.wait_for_change(seen, KEEPALIVE_SECONDS):
                yield ": keep-alive\n\n"
    finally:
        feed.unsubscribe()
