"""What a probe hears at its site (SNMP traps, syslog), buffered and forwarded to the centre.

The listeners themselves are the facility inputs' (``dutydesk.facility.forward.ProbeInputs``,
given to the agent by the CLI as ``AgentConfig.inputs``: sites and facility know nothing of each
other). They call ``emit(event)`` from their own threads with a neutral event (a trap's
variable bindings, a syslog message's fields, a refused packet, a flood); this module:

- queues it in memory and, every ``FLUSH_SECONDS`` (0.1 s), commits the queue to the ``events``
  table of the probe's buffer file, each event numbered by ``AUTOINCREMENT`` (a sequence of its
  own, never reused). An event is on disk within 0.1 s of being heard; a probe killed with -9
  inside that window loses what it heard in it (UDP senders do not resend either).
- pushes the oldest ``batch`` events to ``POST /api/probe/v1/events``, deletes what the centre
  acknowledged, and while the centre is away backs off (as the results do) and keeps listening:
  the buffer is bounded by count and age like the results' (dropped events are counted, and the
  count is sent with every batch).
- numbers events above the centre's last stored one: the first call after a start is an empty
  batch that tells the probe that number; a buffer file that never talked to the centre (new, or
  lost and re-created) renumbers what it holds above it, so nothing new is taken for a replay.

The centre stores each (probe, event seq) once (``dutydesk.sites.events``) and feeds the events
into the facility pipeline (``dutydesk.facility.remote``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import Counter, Gauge

if TYPE_CHECKING:
    from dutydesk.sites.agent import Agent

log = logging.getLogger("dutydesk.probe")
FLUSH_SECONDS = 0.1
MAX_QUEUE = 100_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    made_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class EventSource(Protocol):
    """Listeners that hand what they hear to ``emit`` (from any thread) until ``stop()``."""

    describe: str

    def start(self, emit: Callable[[dict[str, Any]], None]) -> None: ...

    def stop(self) -> None: ...


class EventBuffer:
    """The ``events`` table of the probe's buffer file (use from one thread)."""

    def __init__(self, path: str, *, max_events: int, max_age: float) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        self.max_events, self.max_age = max_events, max_age
        self._depth = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM event_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO event_meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                          "DO UPDATE SET value = excluded.value", (key, value))

    @property
    def dropped(self) -> int:
        return int(self._meta("dropped") or 0)

    @property
    def synced(self) -> bool:
        return self._meta("synced") == "1"

    def add_many(self, events: list[tuple[float, dict[str, Any]]], now: float) -> None:
        """Keep ``events`` ((heard at, event), in order) in one transaction; drop (and count)
        what falls outside the bounds, oldest first."""
        if not events:
            return
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT INTO events(made_at, body) VALUES (?, ?)",
                                  [(at, json.dumps(e)) for at, e in events])
            self._depth += len(events)
            dropped = self.conn.execute("DELETE FROM events WHERE made_at < ?",
                                        (now - self.max_age,)).rowcount
            over = self._depth - dropped - self.max_events
            if over > 0:
                dropped += self.conn.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq "
                    "LIMIT ?)", (over,)).rowcount
            if dropped:
                self._depth -= dropped
                self._set("dropped", str(self.dropped + dropped))

    def oldest(self, limit: int) -> list[tuple[int, float, dict[str, Any]]]:
        rows = self.conn.execute("SELECT seq, made_at, body FROM events ORDER BY seq LIMIT ?",
                                 (limit,)).fetchall()
        return [(seq, made, json.loads(body)) for seq, made, body in rows]

    def ack(self, upto: int) -> int:
        gone = self.conn.execute("DELETE FROM events WHERE seq <= ?", (upto,)).rowcount
        self._depth -= gone
        return gone

    def depth(self) -> int:
        return self._depth

    def sync(self, centre_last: int) -> int:
        """The centre stores events up to ``centre_last``: number the next above it, and when this
        file never talked to the centre, renumber what it holds above it too. Returns how many
        events were renumbered."""
        moved = 0
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if not self.synced:
                low = self.conn.execute("SELECT min(seq) FROM events").fetchone()[0]
                if low is not None and low <= centre_last:
                    shift = centre_last - low + 1
                    # (two steps through negatives: the primary key never collides midway)
                    self.conn.execute("UPDATE events SET seq = -(seq + ?)", (shift,))
                    moved = self.conn.execute("UPDATE events SET seq = -seq").rowcount
            top = self.conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0
            current = self.conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
            wanted = max(centre_last, top, current[0] if current else 0)
            if current is None:
                self.conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('events', ?)",
                                  (wanted,))
            else:
                self.conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'",
                                  (wanted,))
            self._set("synced", "1")
        return moved

    def close(self) -> None:
        self.conn.close()


class EventForwarder:
    """Runs beside the agent's loops: listeners → queue → buffer → centre."""

    def __init__(self, agent: Agent, inputs: EventSource) -> None:
        import os

        self.agent, self.inputs = agent, inputs
        config = agent.config
        self.buffer = EventBuffer(os.path.join(config.state_dir, "probe.sqlite"),
                                  max_events=config.max_results, max_age=config.max_age)
        self._queue: deque[tuple[float, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._lost = 0  # events the memory queue had no room for (the disk stalled)
        r = agent.metrics.registry
        self.heard = Counter("dutydesk_probe_events_heard", "Traps, syslog messages, refused "
                             "packets and floods heard at the site", ["input"], registry=r)
        self.depth = Gauge("dutydesk_probe_events_buffered", "Facility events buffered, not "
                           "yet stored by the centre", registry=r)
        self.dropped = Gauge("dutydesk_probe_events_dropped", "Facility events dropped from the "
                             "full buffer since the buffer file was made", registry=r)

    def emit(self, event: dict[str, Any]) -> None:
        """Called by the listeners' threads: cheap, never blocks on the disk."""
        with self._lock:
            if len(self._queue) < MAX_QUEUE:
                self._queue.append((time.time(), event))
            else:
                self._lost += 1
        self.heard.labels(str(event.get("input", "?"))).inc()

    def flush(self) -> None:
        with self._lock:
            batch, self._queue = list(self._queue), deque()
            lost, self._lost = self._lost, 0
        self.buffer.add_many(batch, time.time())
        if lost:
            log.warning("%d facility events lost: the buffer file could not keep up", lost)
        self.depth.set(self.buffer.depth())
        self.dropped.set(self.buffer.dropped)

    async def run(self) -> None:
        try:
            await asyncio.to_thread(self.inputs.start, self.emit)
        except ValueError as exc:  # (InputsError: a port taken, an address refused)
            self.agent.failure = str(exc)
            self.agent.stop()
            self.buffer.close()
            return
        log.info("listening for %s", self.inputs.describe)
        pusher = asyncio.create_task(self._push_loop())
        try:
            while True:
                self.flush()
                await asyncio.sleep(FLUSH_SECONDS)
        finally:
            pusher.cancel()
            await asyncio.gather(pusher, return_exceptions=True)
            await asyncio.to_thread(self.inputs.stop)
            self.flush()  # what was heard until the listeners stopped is kept
            self.buffer.close()

    async def _push_loop(self) -> None:
        from dutydesk.sites.agent import CentreAway

        config, failures = self.agent.config, 0
        while True:
            try:
                sent = await self.push_once()
                failures = 0
            except CentreAway as exc:
                failures += 1
                log.info("centre unreachable, %d facility events buffered: %s",
                         self.buffer.depth(), exc)
                sent = 0
            if sent < config.batch:
                await asyncio.sleep(config.push_interval if failures == 0 else min(
                    config.max_backoff, config.push_interval * 2 ** min(failures - 1, 10)))

    async def _post(self, events: list[dict[str, Any]]) -> int:
        from dutydesk.sites.agent import CentreAway, _request

        body = {"events": events, "dropped": self.buffer.dropped,
                "buffered": self.buffer.depth()}
        status, _h, answer = await asyncio.to_thread(
            _request, self.agent.config, "POST", "/api/probe/v1/events", body,
            self.agent.credential)
        self.agent._refused(status)
        if status == 409:
            raise CentreAway("another push of events was being stored; sending again")
        if status != 200 or not isinstance(answer, dict):
            raise CentreAway(f"centre refused the events ({status}): {answer}")
        return int(answer["acked"])

    async def push_once(self) -> int:
        """Send the oldest batch; returns how many events the centre acknowledged."""
        if not self.buffer.synced:
            moved = self.buffer.sync(await self._post([]))
            if moved:
                log.info("%d buffered facility events numbered after the centre's", moved)
        from dutydesk.sites.agent import fitting

        rows = self.buffer.oldest(self.agent.config.batch)
        if not rows:
            return 0
        rows = rows[:fitting([len(json.dumps(event)) for _seq, _at, event in rows])]
        acked = await self._post([{"seq": seq, **event} for seq, _at, event in rows])
        gone = self.buffer.ack(acked)
        self.depth.set(self.buffer.depth())
        return gone
