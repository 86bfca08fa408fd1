"""Storage plumbing: the declarative base, a UTC datetime type, engines and sessions.

SQLite (embedded default) gets WAL mode, foreign keys and a busy timeout on every connection;
PostgreSQL is used as-is through psycopg 3. There is no module-level engine: the app factory and
the worker each build a ``Database`` and pass it around.

Locking on SQLite: a transaction begins with ``BEGIN IMMEDIATE``, which takes the database's one
write lock up front (two writers queue on the busy timeout instead of one failing on upgrade
from a read lock). That is right for work that may write, and wrong for reads that run beside
it: a reader taking the write lock waits for every writer — including, in a web request, the
request's own session — and holds every writer up. Reads that never write go through
:meth:`Database.read_session` / :meth:`Database.read_connection`: a deferred ``BEGIN`` that
in WAL mode reads one consistent snapshot without any write lock, so it neither waits for
writers nor blocks them. Such a transaction refuses to write (:class:`ReadOnlyError`), on
PostgreSQL too, so the contract holds on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    Naive datetimes are refused on the way in (they are the classic source of off-by-hours bugs);
    SQLite stores naive UTC text, PostgreSQL ``timestamptz``; both come back aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for every DutyDesk model (all packages share one metadata)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


@event.listens_for(Base, "before_insert", propagate=True)
@event.listens_for(Base, "before_update", propagate=True)
def _refuse_text_too_long(_mapper: Any, _connection: Any, target: Any) -> None:
    """Text longer than its column is refused by name on every backend (PostgreSQL would fail
    the statement; SQLite would store it silently): a 400 via ``ValidationError``."""
    from dutydesk.core.validation import ValidationError

    for column in target.__table__.columns:
        limit = getattr(column.type, "length", None)
        if not limit or not isinstance(column.type, String):
            continue
        value = getattr(target, column.key, None) if column.key in target.__dict__ else None
        if isinstance(value, str) and len(value) > limit:
            raise ValidationError(
                column.key, f"must be at most {limit} characters, got {len(value)}"
            )


def utcnow() -> datetime:
    """The current instant, aware UTC. Only I/O edges call this; decisions take ``now``."""
    return datetime.now(UTC)


#: Execution option marking a connection whose transactions only read (see the module docstring).
READ_ONLY = "dutydesk_read_only"
# What a read-only transaction may send: reads, and the statements that frame a transaction.
_READ_STATEMENTS = ("SELECT", "WITH", "PRAGMA", "SHOW", "SET", "EXPLAIN", "BEGIN", "SAVEPOINT",
                    "RELEASE", "ROLLBACK", "COMMIT")


class ReadOnlyError(RuntimeError):
    """A statement that may write was sent through a read-only session or connection."""


#: PostgreSQL session settings of worker processes (``Database(..., worker=True)``): a lock
#: wait longer than ``lock_timeout`` fails the statement (the job retries on its next pass)
#: instead of queueing the whole pipeline behind one stuck process, and a transaction left idle
#: longer than ``idle_in_transaction_session_timeout`` — its process paused (SIGSTOP, a frozen
#: VM) — is ended by the server, which releases its row locks and claims at once.
WORKER_PG_OPTIONS = {"lock_timeout": "2s", "idle_in_transaction_session_timeout": "3s"}


def make_engine(url: str, *, pool_size: int = 10, worker: bool = False) -> Engine:
    """Create an engine with the connection settings DutyDesk relies on (``worker``: the
    bounded waits of :data:`WORKER_PG_OPTIONS` on PostgreSQL)."""
    engine = _make_engine(url, pool_size=pool_size, worker=worker)

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _refuse_writes_when_read_only(conn: Connection, cursor: Any, statement: str,
                                      parameters: Any, context: Any, executemany: bool,
                                      ) -> tuple[str, Any]:
        # On SQLite a write inside a deferred transaction would have to upgrade its read lock,
        # which fails at once under contention instead of queueing: refuse it up front.
        if (conn.get_execution_options().get(READ_ONLY)
                and not statement.lstrip().upper().startswith(_READ_STATEMENTS)):
            raise ReadOnlyError(
                f"read-only session: refusing {statement.split(None, 1)[0]!r}; "
                "write through Database.session() or the request session instead")
        return statement, parameters

    return engine


def _make_engine(url: str, *, pool_size: int, worker: bool) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            json_serializer=_json_dumps,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions: the sqlite3 module's own BEGIN handling would
            # otherwise defer BEGIN and break SAVEPOINTs.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                # A reader: a WAL snapshot without the write lock (module docstring).
                conn.exec_driver_sql("BEGIN")
                return
            # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
            # instead of one failing with "database is locked" on upgrade from a read lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    options = " ".join(f"-c {k}={v}" for k, v in WORKER_PG_OPTIONS.items()) if worker else ""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        connect_args={"options": options} if options else {},
    )


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class Database:
    """An engine plus a session factory; one per process (app or worker)."""

    def __init__(self, url: str, *, pool_size: int = 10, worker: bool = False) -> None:
        """``worker``: a worker process's database (bounded lock and idle-transaction waits on
        PostgreSQL, :data:`WORKER_PG_OPTIONS`)."""
        self.url = url
        self.worker = worker
        self.engine = make_engine(url, pool_size=pool_size, worker=worker)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # The same pool; connections checked out through it carry the read-only option.
        self.read_engine = self.engine.execution_options(**{READ_ONLY: True})
        self.read_session_factory = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any exception."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it takes no write lock, so it neither waits for
        a writer (another process, or the caller's own open write transaction) nor holds one
        up. Everything it reads comes from one transaction; writing raises
        :class:`ReadOnlyError`. Rolled back and closed at the end."""
        session = self.read_session_factory()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection with the guarantees of :meth:`read_session`."""
        with self.read_engine.connect() as conn:
            yield conn

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
