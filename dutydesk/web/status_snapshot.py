"""Serve the public status page and JSON from in-memory snapshots ("ready for a crowd").

Each web process keeps rendered bytes (plain and gzip) + ETag + Last-Modified per (document,
language). A snapshot is rebuilt only when the database *generation* (bumped in every
transaction that changes the page, see ``shifts.notices.storage.bump_generation``) moved — read
at most once per ``GENERATION_CHECK`` seconds per process; together with the newest check flip,
since services in auto mode follow their checks — or when the wall-clock minute (``BUCKET``)
changed (time-driven changes: a maintenance window starting, today's uptime bar).

Every process must produce the same bytes for the same database state, or a crowd behind a
load balancer (or gunicorn's workers) would see ETags change from request to request and never
get a 304. So a snapshot is rendered "as of" :func:`as_of_instant` — a pure function of what is
stored (the generation's ``changed_at``, the newest flip's time) and the current minute — never
of the moment a particular process happened to build it; gzip runs with ``mtime=0``; and the
ETag is the hash of the bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import select

from checks.models import FlipRow
from dutydesk.context import app_state
from shifts.notices.orm import StatusPageGeneration

GENERATION_CHECK = 1.0  # seconds between generation reads per process
BUCKET = 60  # seconds: snapshots are rendered as of the start of the current wall-clock minute
CACHE_CONTROL = "public, max-age=15"
VARY = "Accept-Language, Cookie, Accept-Encoding"
GZIP_MIN_BYTES = 512  # below this gzip saves nothing worth the header
wall_clock: Callable[[], float] = time.time  # the Unix time buckets are taken from


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for what was stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def bucket_of(wall_seconds: float) -> int:
    """The wall-clock minute a Unix time falls in (same in every process on synced clocks)."""
    return int(wall_seconds // BUCKET)


def as_of_instant(bucket: int, changed_at: datetime | None, flipped_at: datetime | None,
                  ) -> datetime:
    """The instant a snapshot is rendered at: the start of ``bucket``, or the last stored change
    when that is later (so a change made within the minute is never "in the future" of the
    page). Pure: equal inputs give equal instants in every process."""
    start = datetime.fromtimestamp(bucket * BUCKET, UTC)
    later = [t for t in (changed_at, flipped_at) if t is not None and t > start]
    return max(later, default=start)


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (``gzip;q=0`` refuses it)."""
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            q = params.replace(" ", "").removeprefix("q=")
            try:
                return not params or float(q) > 0
            except ValueError:
                return True  # an odd parameter: still a yes to gzip
    return False


def etag_matches(header: str, *etags: str) -> bool:
    """Whether If-None-Match names one of ``etags`` (weak comparison, ``*`` matches)."""
    if not header:
        return False
    sent = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in sent or any(e in sent for e in etags)


@dataclass(frozen=True, slots=True)
class Snapshot:
    body: bytes
    etag: str
    gzip_body: bytes | None  # None when the body is too small to be worth compressing
    gzip_etag: str
    last_modified: str
    mimetype: str
    bucket: int

    def variant(self, accept_encoding: str) -> tuple[bytes, str, bool]:
        """(body, etag, gzipped) for a client with this Accept-Encoding."""
        if self.gzip_body is not None and accepts_gzip(accept_encoding):
            return self.gzip_body, self.gzip_etag, True
        return self.body, self.etag, False


def make_snapshot(body: bytes, mimetype: str, last_modified: datetime, bucket: int) -> Snapshot:
    """Both encodings of ``body`` with ETags derived from the bytes alone."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    packed = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    return Snapshot(body, f'"{digest}"', packed, f'"{digest}-gz"',
                    format_datetime(last_modified, usegmt=True), mimetype, bucket)


class SnapshotCache:
    """Per-process snapshots; thread-safe (gunicorn threads share it)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], Snapshot] = {}
        self.generation: tuple[int, int] | None = None
        self.changed_at: datetime | None = None  # the generation's, as stored
        self.flipped_at: datetime | None = None  # the newest flip's, as stored
        self.checked_at = 0.0
        self.lock = threading.Lock()
        self.building = threading.local()
        self.building_locks: dict[tuple[str, str], threading.Lock] = {}

    def refresh_generation(self) -> None:
        now = time.monotonic()
        if now - self.checked_at < GENERATION_CHECK:
            return
        # A read-only connection: on SQLite it takes no write lock, so the refresh neither
        # waits for a writer (the worker, or the signed-in request's own session) nor holds
        # one up; both reads come from one snapshot of the database.
        with app_state().db.read_connection() as conn:
            row = conn.execute(select(StatusPageGeneration.generation,
                                      StatusPageGeneration.changed_at)
                               .where(StatusPageGeneration.id == 1)).first()
            # Services in auto mode follow the checks: any new flip may change the page. The
            # check engine does not know about the page, so its newest flip is part of the key
            # (highest primary key: an index lookup).
            flip = conn.execute(select(FlipRow.id, FlipRow.at)
                                .order_by(FlipRow.id.desc()).limit(1)).first()
        generation = ((row[0] if row else 0), (flip[0] if flip else 0))
        with self.lock:
            if generation != self.generation:
                self.entries.clear()
                self.generation = generation
                self.changed_at = _aware(row[1]) if row else None
                self.flipped_at = _aware(flip[1]) if flip else None
            self.checked_at = now

    def invalidate(self) -> None:
        """Forget everything now (the process itself just made a change)."""
        with self.lock:
            self.entries.clear()
            self.checked_at = 0.0

    def as_of(self) -> datetime:
        """The instant the snapshot being built renders at (see :func:`as_of_instant`); outside
        a build, the one a build would use now."""
        found = getattr(self.building, "as_of", None)
        if found is not None:
            return found
        return as_of_instant(bucket_of(wall_clock()), self.changed_at, self.flipped_at)

    def get(self, name: str, language: str, mimetype: str, build: Callable[[], bytes]
            ) -> Snapshot:
        """The snapshot, built by one thread at a time per document: when there is none, the
        others wait for that build (not build the same bytes eight times over); when only the
        minute moved, they keep serving the previous one meanwhile."""
        self.refresh_generation()
        key = (name, language)
        bucket = bucket_of(wall_clock())
        entry = self.entries.get(key)
        if entry is not None and entry.bucket == bucket:
            return entry
        with self.lock:
            key_lock = self.building_locks.setdefault(key, threading.Lock())
        if not key_lock.acquire(blocking=entry is None):
            return entry  # type: ignore[return-value]  # stale by a minute, being rebuilt
        try:
            found = self.entries.get(key)
            if found is not None and found.bucket == bucket:
                return found  # built by the thread we waited for
            generation = self.generation
            self.building.as_of = as_of_instant(bucket, self.changed_at, self.flipped_at)
            try:
                body = build()
            finally:
                self.building.as_of = None
            stored = [t for t in (self.changed_at, self.flipped_at) if t is not None]
            modified = max(stored, default=datetime.fromtimestamp(bucket * BUCKET, UTC))
            entry = make_snapshot(body, mimetype, modified, bucket)
            with self.lock:
                if self.generation == generation:  # not built from data a change has outdated
                    self.entries[key] = entry
            return entry
        finally:
            key_lock.release()


def cache() -> SnapshotCache:
    found = current_app.extensions.get("status_snapshots")
    if found is None:
        found = current_app.extensions.setdefault("status_snapshots", SnapshotCache())
    return found


def as_of() -> datetime:
    """The stable "now" of status documents in this app (see :meth:`SnapshotCache.as_of`)."""
    return cache().as_of()


def serve(name: str, language: str, mimetype: str, build: Callable[[], bytes]) -> Any:
    """The snapshot as a response: 304 when the client already has it; gzip when accepted."""
    snap = cache().get(name, language, mimetype, build)
    body, etag, gzipped = snap.variant(request.headers.get("Accept-Encoding", ""))
    headers = {"ETag": etag, "Last-Modified": snap.last_modified,
               "Cache-Control": CACHE_CONTROL, "Vary": VARY}
    if etag_matches(request.headers.get("If-None-Match", ""), snap.etag, snap.gzip_etag):
        return Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(body, mimetype=snap.mimetype, headers=headers)


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

    from dutydesk.core.config import SUPPORTED_LANGUAGES

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
        if snap is None or snap.bucket != bucket_of(wall_clock()):
            return inner(environ, start_response)
        body, etag, gzipped = snap.variant(environ.get("HTTP_ACCEPT_ENCODING", ""))
        headers = [("ETag", etag), ("Last-Modified", snap.last_modified),
                   ("Cache-Control", CACHE_CONTROL), ("Vary", VARY), *_SECURITY_HEADERS]
        rule = environ["PATH_INFO"]
        if etag_matches(environ.get("HTTP_IF_NONE_MATCH", ""), snap.etag, snap.gzip_etag):
            counter.labels(method, rule, "304").inc()
            start_response("304 NOT MODIFIED", headers)
            return [b""]
        counter.labels(method, rule, "200").inc()
        if gzipped:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", [("Content-Type", _content_type(snap.mimetype)),
                                  ("Content-Length", str(len(body))), *headers])
        return [b"" if method == "HEAD" else body]

    app.wsgi_app = fast


def _content_type(mimetype: str) -> str:
    return f"{mimetype}; charset=utf-8" if mimetype.startswith("text/") or mimetype.endswith(
        "json") else mimetype
