"""The database's clock, as seen from a worker: "now" for leases, due times and SLA clocks.

Several workers on several machines share one database; their own clocks drift apart (a VM
resumed from a snapshot, a host without NTP, libfaketime in a test). Anything that compares
instants written by different machines — a lease another worker may take over, a check's next
slot, an SLA deadline — must use one clock: the database's. Asking the database on every call
would cost a round trip per decision, so :class:`DbClock` measures the offset between the
database and this process once per batch (:meth:`DbClock.sync` on the batch's own connection:
one ``SELECT`` of the server's time) and :meth:`DbClock.now` is the local clock plus that
offset until the next batch measures it again. Decisions stay pure: callers read ``now`` once
and pass it in.

A skew of more than ``warn_after`` seconds is logged loudly (once when it appears, once when it
goes away): the worker keeps working correctly on the database's time, but its host clock is
wrong and its logs and anything it shows people in local time will be off.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from dutydesk.core.db import utcnow

log = logging.getLogger("dutydesk.clock")

#: The server's current instant (not the transaction's start, which may be older).
_NOW_SQL = {
    "postgresql": text("SELECT clock_timestamp()"),
    "sqlite": text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"),
}
WARN_AFTER_SECONDS = 2.0
#: A measurement whose round trip took longer than this is not trusted: the process may have
#: been paused (SIGSTOP, a frozen VM) between reading the server's time and its own, which
#: would set this clock behind by half the pause, and a clock behind lets an expired lease
#: look alive. The previous offset is kept instead.
MAX_ROUND_TRIP_SECONDS = 0.5


def server_now(conn: Any) -> datetime:
    """The database server's current instant, aware UTC, read on ``conn`` (a Connection or
    Session)."""
    name = (conn.bind if hasattr(conn, "bind") and conn.bind is not None else conn).dialect.name
    value = conn.execute(_NOW_SQL.get(name, _NOW_SQL["postgresql"])).scalar_one()
    if isinstance(value, str):  # SQLite: naive UTC text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class DbClock:
    """The database's "now" without a round trip per call (see the module docstring).

    Until the first :meth:`sync` it is the local clock. ``local`` is injectable for tests (an
    offset clock stands in for a machine whose clock runs ahead)."""

    def __init__(self, local: Callable[[], datetime] = utcnow, *,
                 warn_after: float = WARN_AFTER_SECONDS,
                 max_round_trip: float = MAX_ROUND_TRIP_SECONDS) -> None:
        self.local = local
        self.warn_after = warn_after
        self.max_round_trip = max_round_trip
        self._measured = False
        self._offset = timedelta(0)
        self._warned = False
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        """Database time minus this process's time, as last measured."""
        return self._offset

    def now(self) -> datetime:
        """The database's current instant, estimated from the local clock and the offset."""
        return self.local() + self._offset

    __call__ = now

    def sync(self, conn: Any) -> datetime:
        """Measure the offset on ``conn`` (one query) and return the database's now. A sample
        whose round trip exceeded ``max_round_trip`` keeps the previous offset (once one was
        measured): see ``MAX_ROUND_TRIP_SECONDS``."""
        before = self.local()
        db_now = server_now(conn)
        after = self.local()
        offset = db_now - (before + (after - before) / 2)
        if (after - before).total_seconds() > self.max_round_trip and self._measured:
            log.info("clock sample ignored: its round trip took %.1f s",
                     (after - before).total_seconds())
            return db_now
        with self._lock:
            self._measured = True
            self._offset = offset
            skewed = abs(offset.total_seconds()) > self.warn_after
            if skewed and not self._warned:
                log.error("this host's clock differs from the database's by %.1f s; leases, "
                          "due times and SLA clocks use the database's time (fix NTP on this "
                          "host)", -offset.total_seconds())
            elif not skewed and self._warned:
                log.warning("this host's clock agrees with the database's again")
            self._warned = skewed
        return db_now


__all__ = ["DbClock", "server_now"]
