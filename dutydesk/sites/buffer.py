"""The probe's store-and-forward buffer: a local SQLite file of results not yet acknowledged.

Every result gets the next sequence number (``AUTOINCREMENT``: never reused, even after the
rows are deleted), is committed before anything else happens to it, and is deleted only when
the centre acknowledged a sequence number at or above it. A probe killed at any moment loses
nothing (a result is either not made yet, or in the file) and doubles nothing (the centre
stores each sequence number once).

A file that is behind the centre (lost and new again, or restored from a backup) would number
results the centre already has; :meth:`Buffer.catch_up` moves them above the centre's highest
number when the centre tells it (on every pull of the checks and every push).

Bounded: beyond ``max_results`` rows or ``max_age`` seconds the oldest results are dropped and
counted (``dropped``, kept in the file); the count is sent with every batch. Keeping a result
costs the same whatever the depth (the age bound is found through an index on ``made_at``), so
a probe cut off for hours keeps up with its checks.

The probe keeps its results in groups (:meth:`Buffer.add_many`, one transaction and one
``fsync`` per group, every few tens of milliseconds): a result is in the file within that
interval of being made; a probe killed within it loses those results as if their runs had not
finished (they have no sequence number yet, so nothing is doubled and no gap is left).
The same file keeps the probe's identity (credential) and its last list of checks, so a probe
restarted while the centre is away keeps checking.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    made_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_results_made_at ON results (made_at);
"""


class Buffer:
    """One probe's buffer file (use from one thread)."""

    def __init__(self, path: str, *, max_results: int = 1_000_000,
                 max_age: float = 86400.0) -> None:
        if max_results < 1 or max_age <= 0:
            raise ValueError("the buffer needs max_results >= 1 and max_age > 0")
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, mode=0o700, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None)
        os.chmod(path, 0o600)  # it holds the probe's credential
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        self.max_results = max_results
        self.max_age = max_age
        self._depth = self.conn.execute("SELECT count(*) FROM results").fetchone()[0]

    # ---- identity and settings -------------------------------------------------------------

    def get(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                          "DO UPDATE SET value = excluded.value", (key, value))

    @property
    def dropped(self) -> int:
        return int(self.get("dropped") or 0)

    # ---- results ---------------------------------------------------------------------------

    def add(self, result: dict[str, Any], now: float) -> int:
        """Keep ``result`` (made at ``now``, epoch seconds); returns its sequence number.
        Drops (and counts) what falls outside the bounds."""
        return self.add_many([(result, now)])[-1]

    def add_many(self, items: list[tuple[dict[str, Any], float]]) -> list[int]:
        """Keep ``items`` ((result, made at) pairs, in the order made) in ONE transaction;
        returns their sequence numbers, in order. Drops (and counts) what falls outside the
        bounds, the oldest first."""
        if not items:
            return []
        now = max(made for _r, made in items)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT INTO results(made_at, body) VALUES (?, ?)",
                                  [(made, json.dumps(result)) for result, made in items])
            last = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'"
                                     ).fetchone()[0]  # AUTOINCREMENT: consecutive, up to here
            first = last - len(items) + 1
            self._depth += len(items)
            dropped = self.conn.execute("DELETE FROM results WHERE made_at < ?",
                                        (now - self.max_age,)).rowcount
            over = self._depth - dropped - self.max_results
            if over > 0:
                dropped += self.conn.execute(
                    "DELETE FROM results WHERE seq IN (SELECT seq FROM results ORDER BY seq "
                    "LIMIT ?)", (over,)).rowcount
            if dropped:
                self._depth -= dropped
                self.put("dropped", str(self.dropped + dropped))
        return list(range(first, first + len(items)))

    def oldest(self, limit: int, after: int = 0) -> list[tuple[int, float, dict[str, Any]]]:
        """Up to ``limit`` buffered results numbered above ``after``, oldest first:
        (seq, made_at, result)."""
        return [(seq, made, json.loads(body))
                for seq, made, body in self.oldest_raw(limit, after)]

    def oldest_raw(self, limit: int, after: int = 0) -> list[tuple[int, float, str]]:
        """As :meth:`oldest`, each result still the JSON object text it is kept as (a push
        sends it on without decoding it)."""
        return self.conn.execute("SELECT seq, made_at, body FROM results WHERE seq > ? "
                                 "ORDER BY seq LIMIT ?", (after, limit)).fetchall()

    def ack(self, upto: int) -> int:
        """Forget every result up to sequence ``upto`` (the centre stored them)."""
        gone = self.conn.execute("DELETE FROM results WHERE seq <= ?", (upto,)).rowcount
        self._depth -= gone
        return gone

    def depth(self) -> int:
        return self._depth

    def count_upto(self, seq: int) -> int:
        """How many buffered results are numbered ``seq`` or below."""
        return self.conn.execute("SELECT count(*) FROM results WHERE seq <= ?",
                                 (seq,)).fetchone()[0]

    def oldest_made_at(self, after: int = 0) -> float | None:
        """When the oldest buffered result numbered above ``after`` was made (None: none)."""
        row = self.conn.execute("SELECT made_at FROM results WHERE seq > ? ORDER BY seq "
                                "LIMIT 1", (after,)).fetchone()
        return row[0] if row else None

    def last_assigned(self) -> int:
        """The highest sequence number this file ever gave (0 for a new file)."""
        row = self.conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()
        return int(row[0]) if row else 0

    def catch_up(self, stored: int, assigned_before: int) -> int:
        """The centre has stored numbers up to ``stored``; this file had given numbers up to
        ``assigned_before`` when the centre said so. ``stored`` above it means the file is
        behind the centre (it was lost and is new, or restored from a backup): the centre would
        take every number up to ``stored`` for a replay and drop it. Then the buffered results
        are renumbered above ``stored`` (in their order) and numbering goes on after them;
        returns how many were renumbered (0 when the file is not behind: results at or below
        ``stored`` are then really stored, their acknowledgement was not heard). Numbering
        never goes back: a number once given is not given again."""
        if stored <= assigned_before:
            return 0
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            first, count = self.conn.execute(
                "SELECT min(seq), count(*) FROM results").fetchone()
            shift = stored + 1 - first if first is not None and first <= stored else 0
            if shift:  # through negative numbers: no two rows share a number on the way
                self.conn.execute("UPDATE results SET seq = -(seq + ?)", (shift,))
                self.conn.execute("UPDATE results SET seq = -seq")
            top = self.conn.execute("SELECT max(seq) FROM results").fetchone()[0] or 0
            given = self.last_assigned()
            self.conn.execute("DELETE FROM sqlite_sequence WHERE name = 'results'")
            self.conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('results', ?)",
                              (max(stored, top, given),))
        return count if shift else 0

    def close(self) -> None:
        self.conn.close()
