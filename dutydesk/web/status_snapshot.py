"""Serve the public status page and JSON from in-memory snapshots ("ready for a crowd").

Each web process keeps rendered bytes + ETag + Last-Modified per (document, language). A
snapshot is rebuilt only when the database *generation* (bumped in every transaction that
changes the page, see ``shifts.notices.storage.bump_generation``) moved — read at most once per
``GENERATION_CHECK`` seconds per process; together with the newest check flip id, since
services in auto mode follow their checks — or when it is older than ``MAX_AGE`` (time-driven
changes: a maintenance window starting, today's uptime bar). A burst of requests therefore costs
a dict lookup each; ``If-None-Match`` gets 304 without a body.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import func, select

from dutydesk.context import app_state
from dutydesk.db import utcnow
from dutydesk.models.checks import FlipRow
from dutydesk.models.notices import StatusPageGeneration

GENERATION_CHECK = 1.0  # seconds between generation reads per process
MAX_AGE = 60.0  # seconds a snapshot may live without a generation change
CACHE_CONTROL = "public, max-age=15"


@dataclass(frozen=True, slots=True)
class Snapshot:
    body: bytes
    etag: str
    last_modified: str
    mimetype: str
    built_at: float


class SnapshotCache:
    """Per-process snapshots; thread-safe (gunicorn threads share it)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], Snapshot] = {}
        self.generation: tuple[int, int] | None = None
        self.changed_at: datetime | None = None
        self.checked_at = 0.0
        self.lock = threading.Lock()

    def refresh_generation(self) -> None:
        now = time.monotonic()
        if now - self.checked_at < GENERATION_CHECK:
            return
        with app_state().db.engine.connect() as conn:
            row = conn.execute(select(StatusPageGeneration.generation,
                                      StatusPageGeneration.changed_at)
                               .where(StatusPageGeneration.id == 1)).first()
            # Services in auto mode follow the checks: any new flip may change the page. The
            # check engine does not know about the page, so its flips are part of the key
            # (max of the primary key: an index lookup).
            last_flip = conn.execute(select(func.max(FlipRow.id))).scalar() or 0
        generation = ((row[0] if row else 0), last_flip)
        changed_at = row[1] if row else None
        with self.lock:
            if generation != self.generation:
                if self.generation is not None and generation[0] == self.generation[0]:
                    changed_at = utcnow()  # only a check flipped: the page changes now
                self.entries.clear()
                self.generation, self.changed_at = generation, changed_at
            self.checked_at = now

    def invalidate(self) -> None:
        """Forget everything now (the process itself just made a change)."""
        with self.lock:
            self.entries.clear()
            self.checked_at = 0.0

    def get(self, name: str, language: str, mimetype: str, build: Callable[[], bytes]
            ) -> Snapshot:
        self.refresh_generation()
        key = (name, language)
        entry = self.entries.get(key)
        if entry is None or time.monotonic() - entry.built_at > MAX_AGE:
            body = build()
            modified = self.changed_at or utcnow()
            entry = Snapshot(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                             format_datetime(modified, usegmt=True), mimetype, time.monotonic())
            with self.lock:
                self.entries[key] = entry
        return entry


def cache() -> SnapshotCache:
    found = current_app.extensions.get("status_snapshots")
    if found is None:
        found = current_app.extensions.setdefault("status_snapshots", SnapshotCache())
    return found


def serve(name: str, language: str, mimetype: str, build: Callable[[], bytes]) -> Any:
    """The snapshot as a response: 304 when the client already has it."""
    snap = cache().get(name, language, mimetype, build)
    headers = {"ETag": snap.etag, "Last-Modified": snap.last_modified,
               "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Language, Cookie"}
    if snap.etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return Response(status=304, headers=headers)
    return Response(snap.body, mimetype=snap.mimetype, headers=headers)


# --------------------------------------------------------------------------------------------
# The WSGI fast path: a crowd's anonymous GETs of an already-built snapshot skip Flask.

FAST_PATHS = {"/status": "page", **{f"/api/v2/{n}.json": f"api:{k}" for n, k in (
    ("status", "status"), ("summary", "summary"), ("components", "components"),
    ("incidents", "incidents"), ("incidents/unresolved", "unresolved"),
    ("scheduled-maintenances", "maintenances"),
    ("scheduled-maintenances/upcoming", "upcoming"),
    ("scheduled-maintenances/active", "active"))}}
_SECURITY_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                     ("X-Frame-Options", "SAMEORIGIN")]


def _language(environ: dict[str, Any], default: str) -> str | None:
    """The language Flask would pick for an anonymous request, or None when unsure."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    from dutydesk.config import SUPPORTED_LANGUAGES

    cookie = environ.get("HTTP_COOKIE", "")
    if cookie:
        parts = [p.strip() for p in cookie.split(";") if p.strip()]
        if len(parts) != 1 or not parts[0].startswith("lang="):
            return None  # a session (or anything else): Flask decides
        chosen = parts[0][5:]
        return chosen if chosen in SUPPORTED_LANGUAGES else None
    header = environ.get("HTTP_ACCEPT_LANGUAGE", "")
    if not header:
        return default
    return parse_accept_header(header, LanguageAccept).best_match(SUPPORTED_LANGUAGES) or default


def install_fast_path(app: Any) -> None:
    """Wrap ``app.wsgi_app``: an anonymous GET/HEAD (no Authorization, no session cookie, no
    query string) of a fresh snapshot is answered from memory — a 200 with the pre-encoded body
    or a 304 — without the request context, the principal, the access log line. Anything else
    (first request after a change, stale generation, a session) goes through Flask as before.
    """
    inner = app.wsgi_app
    state = app.extensions["dutydesk"]
    default = state.settings.default_language
    counter = state.metrics.http_requests

    def fast(environ: dict[str, Any], start_response: Any) -> Any:
        name = FAST_PATHS.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if (name is None or method not in ("GET", "HEAD") or environ.get("QUERY_STRING")
                or environ.get("HTTP_AUTHORIZATION")):
            return inner(environ, start_response)
        snapshots: SnapshotCache | None = app.extensions.get("status_snapshots")
        language = "any" if name.startswith("api:") else _language(environ, default)
        now = time.monotonic()
        if (snapshots is None or language is None
                or now - snapshots.checked_at >= GENERATION_CHECK):
            return inner(environ, start_response)
        snap = snapshots.entries.get((name, language))
        if snap is None or now - snap.built_at > MAX_AGE:
            return inner(environ, start_response)
        headers = [("ETag", snap.etag), ("Last-Modified", snap.last_modified),
                   ("Cache-Control", CACHE_CONTROL), ("Vary", "Accept-Language, Cookie"),
                   *_SECURITY_HEADERS]
        rule = environ["PATH_INFO"]
        if snap.etag in [t.strip() for t in environ.get("HTTP_IF_NONE_MATCH", "").split(",")]:
            counter.labels(method, rule, "304").inc()
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        counter.labels(method, rule, "200").inc()
        start_response("200 OK", [("Content-Type", _content_type(snap.mimetype)),
                                  ("Content-Length", str(len(snap.body))), *headers])
        return [b"" if method == "HEAD" else snap.body]

    app.wsgi_app = fast


def _content_type(mimetype: str) -> str:
    return f"{mimetype}; charset=utf-8" if mimetype.startswith("text/") or mimetype.endswith(
        "json") else mimetype
