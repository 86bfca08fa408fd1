"""The live feed: one poller thread per process, fanned out to every open wall.

Change-cursor design
--------------------
Once a second the poller asks storage one cheap question, ``sources.change_cursor`` (the newest
flip id, the number and newest update of problem check rows, the number of checks in
maintenance, the newest incident event id and incident edit). Only when that tuple changes — or
every ``full_every`` seconds, for what depends on the clock alone (stale data, SLA amber/red,
minutes shown) — it reads the wall (``sources.load_view``), renders the keyed fragments and, if
any fragment differs from the last rendering, publishes a new **version**.

A version id is ``"<epoch>.<n>"``: ``epoch`` is random per feed (per process start), ``n``
counts up. It is the SSE event ``id``, so a reconnecting ``EventSource`` sends it back as
``Last-Event-ID``. The feed keeps the last ``keep`` renderings; a client whose version is among
them receives only the fragments that changed since (``render.diff_sections``); a client from
another process or an older server start (unknown epoch) or too far behind receives a full
refresh. Diffs are cached per (from, to) pair so many walls cost one diff, not one each.

Streams wait on a condition variable; no stream ever queries the database itself. The thread
starts with the first stream and stops after ``idle_stop`` seconds without one.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytz
from flask import Flask, g
from flask_babel import force_locale

from dutydesk.core.db import utcnow
from dutydesk.wall.render import Sections, diff_sections, render_sections
from dutydesk.wall.rows import WallLimits
from dutydesk.wall.scope import find_site, load_sites, load_wall
from dutydesk.wall.sources import change_cursor

log = logging.getLogger("dutydesk.wall")
EXTENSION = "dutydesk_wall_feed"


@dataclass(frozen=True, slots=True)
class Update:
    """What one stream sends next: the version it reaches and the patch (``full`` or not)."""

    version: str
    payload: dict[str, Any]


class _Channel:
    """The renderings of one language: recent versions and the diffs asked for between them."""

    __slots__ = ("diffs", "history", "subscribers")

    def __init__(self) -> None:
        self.history: OrderedDict[str, Sections] = OrderedDict()
        self.diffs: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self.subscribers = 0

    @property
    def latest(self) -> str | None:
        return next(reversed(self.history), None)


Scope = str | None
"""The site slug a wall shows; ``None``: every site (the head office)."""
Key = tuple[str, Scope]


class WallFeed:
    """One poller per process; one channel per (language, site) a wall is open in.

    Every fragment is rendered on the server in the wall's language and its site's zone, so a
    Russian wall stays Russian after any update (the browser only swaps fragments in), and a
    site's wall only ever receives its site's fragments (each scope is read on its own: one
    reading per scope per change, whatever the number of walls)."""

    def __init__(
        self,
        app: Flask,
        limits: WallLimits,
        *,
        # Seconds between looks at the change cursor (one indexed query; a render only when
        # something changed): 0.5 s keeps a trap → incident → wall under a second.
        interval: float = 0.5,
        full_every: float = 5.0,
        keep: int = 120,
        idle_stop: float = 60.0,
        default_locale: str = "en",
        zone: str = "UTC",
    ) -> None:
        self.app = app
        self.limits = limits
        self.interval = interval
        self.full_every = full_every
        self.keep = keep
        self.idle_stop = idle_stop
        self.default_locale = default_locale
        self.zone = zone
        self.epoch = secrets.token_hex(4)
        self._n = 0
        self._channels: dict[Key, _Channel] = {(default_locale, None): _Channel()}
        self._changed = threading.Condition()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._subscribers = 0
        self._last_subscriber = time.monotonic()
        self._new_locale = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def _key(self, locale: str | None, scope: Scope) -> Key:
        return (locale or self.default_locale, scope)

    def _channel(self, locale: str | None, scope: Scope = None) -> _Channel:
        found = self._channels.get(self._key(locale, scope))
        if found is None and scope is None:
            found = self._channels[(self.default_locale, None)]
        # a scope not rendered yet has no version: never another scope's fragments
        return found if found is not None else _Channel()

    @property
    def version(self) -> str | None:
        return self.version_for(None)

    def version_for(self, locale: str | None, scope: Scope = None) -> str | None:
        """The newest version rendered in ``locale`` for ``scope`` (``None`` before the first
        rendering)."""
        with self._lock:
            return self._channel(locale, scope).latest

    def ensure_running(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="wall-feed", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def subscribe(self, locale: str | None = None, scope: Scope = None) -> None:
        """A stream opened in ``locale`` for ``scope``: the poller renders it from now on."""
        with self._lock:
            self._subscribers += 1
            key = self._key(locale, scope)
            channel = self._channels.get(key)
            if channel is None or channel.latest is None or channel.subscribers <= 0:
                channel = self._channels.setdefault(key, _Channel())
                self._new_locale.set()  # render it now, not at the next change
            channel.subscribers += 1
        self.ensure_running()

    def unsubscribe(self, locale: str | None = None, scope: Scope = None) -> None:
        with self._lock:
            self._subscribers -= 1
            self._channel(locale, scope).subscribers -= 1
            self._last_subscriber = time.monotonic()

    def locales(self, scope: Scope = None) -> list[str]:
        with self._lock:
            return [locale for locale, s in self._channels if s == scope]

    def scopes(self) -> list[Scope]:
        """The scopes rendered: the head office's always, a site's while a wall shows it."""
        with self._lock:
            return list(dict.fromkeys(
                [None, *(s for (_l, s), c in self._channels.items() if c.subscribers > 0)]))

    # ------------------------------------------------------------------ poller
    def _run(self) -> None:
        cursor: Any = object()
        last_build = 0.0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                with self.app.app_context():
                    db = self.app.extensions["dutydesk"].db
                    with db.read_session() as session:  # polls often: no write lock
                        current = change_cursor(session)
                        fresh_locale = self._new_locale.is_set()
                        if (
                            current != cursor
                            or fresh_locale
                            or started - last_build >= self.full_every
                        ):
                            self._new_locale.clear()
                            self._build(session)
                            cursor, last_build = current, started
            except Exception:  # keep the wall alive through a database hiccup
                log.exception("wall feed: poll failed; retrying")
                cursor = object()
            with self._lock:
                idle = self._subscribers <= 0 and (
                    time.monotonic() - self._last_subscriber > self.idle_stop
                )
            if idle:
                break
            self._stopping.wait(max(self.interval - (time.monotonic() - started), 0.05))
        with self._lock:
            self._thread = None

    def _build(self, session: Any) -> None:
        """Read and render every scope a wall is open for (a site deleted since: dropped)."""
        now = utcnow()
        sites = load_sites(session)
        for scope in self.scopes():
            try:
                site = find_site(sites, scope) if scope is not None else None
            except LookupError:
                with self._lock:
                    for key in [k for k in self._channels if k[1] == scope]:
                        if not self._channels[key].subscribers:
                            del self._channels[key]
                continue
            view = load_wall(session, now, self.limits, site, sites)
            for locale in self.locales(scope):
                self.publish(self.render(view, locale), locale, scope)

    def render(self, view: Any, locale: str) -> Sections:
        """The view's fragments in ``locale`` and its site's zone (needs an app context)."""
        zone = view.site.time_zone if getattr(view, "site", None) is not None else self.zone
        with self.app.test_request_context("/wall"), wall_locale(locale, zone):
            return render_sections(view)

    def publish(
        self, sections: Sections, locale: str | None = None, scope: Scope = None
    ) -> str | None:
        """Store a rendering as a new version if it differs from the latest; wake the streams."""
        with self._lock:
            channel = self._channels.setdefault(self._key(locale, scope), _Channel())
            latest = channel.latest
            if latest is not None and channel.history[latest] == sections:
                return None
            self._n += 1
            version = f"{self.epoch}.{self._n}"
            channel.history[version] = sections
            while len(channel.history) > self.keep:
                channel.history.popitem(last=False)
        with self._changed:
            self._changed.notify_all()
        return version

    # ------------------------------------------------------------------ streams
    def wait_for_change(
        self, seen: str | None, timeout: float, locale: str | None = None, scope: Scope = None
    ) -> bool:
        """Block until a version newer than ``seen`` exists (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (latest := self.version_for(locale, scope)) == seen or latest is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    return False
                self._changed.wait(left)
        return True

    def update_since(
        self, seen: str | None, locale: str | None = None, scope: Scope = None
    ) -> Update | None:
        """The patch from ``seen`` to the latest version; ``None`` when there is nothing new."""
        with self._lock:
            channel = self._channel(locale, scope)
            latest = channel.latest
            if latest is None or latest == seen:
                return None
            old = channel.history.get(seen) if seen else None
            key = (seen or "", latest)
            payload = channel.diffs.get(key)
            if payload is None:
                payload = diff_sections(old, channel.history[latest])
                channel.diffs[key] = payload
                while len(channel.diffs) > 256:
                    channel.diffs.popitem(last=False)
        return Update(latest, payload)


def feed_for(app: Flask) -> WallFeed:
    """The app's feed (created on first use; one per app per process)."""
    feed = app.extensions.get(EXTENSION)
    if feed is None:
        with _CREATE_LOCK:
            feed = app.extensions.get(EXTENSION)
            if feed is None:
                cfg = app.extensions["dutydesk"].settings
                feed = WallFeed(
                    app, limits_for(app), default_locale=cfg.default_language, zone=cfg.timezone
                )
                app.extensions[EXTENSION] = feed
    return feed


@contextmanager
def wall_locale(locale: str, zone: str) -> Iterator[None]:
    """Render in ``locale`` with times in the site's ``zone`` (the wall is the room's screen, so
    its times are the site's whatever the viewer's or kiosk browser's zone)."""
    with force_locale(locale):
        g.babel_tzinfo = pytz.timezone(zone)
        try:
            yield
        finally:
            g.pop("babel_tzinfo", None)


def limits_for(app: Flask) -> WallLimits:
    cfg = app.extensions["dutydesk"].settings
    return WallLimits(max_heartbeat_age=float(cfg.scheduler_heartbeat_max_age))


_CREATE_LOCK = threading.Lock()
