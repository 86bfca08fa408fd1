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
