"""Schema migrations (Alembic) driven from code: upgrade, inspect, and refuse un-migrated DBs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from dutydesk.core.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class NotMigratedError(RuntimeError):
    """The database schema is missing or older than this code."""


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Schema comparison filter: leave out the knowledge-base search index, which is
    backend-specific and made by its migration (FTS5 ``kb_fts*`` tables on SQLite, the ``fts``
    and ``fts_title`` columns and ``kb_fts*_gin`` indexes on PostgreSQL), not described by the
    models."""
    if name is None:
        return True
    if name.startswith("kb_fts"):
        return False
    table = getattr(getattr(obj, "table", None), "name", None)
    return not (type_ == "column" and name in ("fts", "fts_title") and table == "kb_article_texts")


def head_revision(db: Database) -> str:
    heads = ScriptDirectory.from_config(alembic_config(db)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations have {len(heads)} heads ({heads}); merge them first")
    return heads[0]


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migrating(db: Database) -> Iterator[Connection]:
    """A connection in one transaction for the migrations.

    On SQLite, foreign keys are switched off first (outside the transaction: inside one the
    pragma does nothing) and on again after. A migration that changes a table SQLite cannot
    ALTER rebuilds it (alembic's batch "move and copy"), and dropping the old table with
    foreign keys on deletes every row that refers to it through ON DELETE CASCADE — the
    0032 upgrade lost every check result that way. SQLite's own procedure for such changes
    does the same (https://sqlite.org/lang_altertable.html, "other kinds of table schema
    changes"); ``PRAGMA foreign_key_check`` then refuses to commit a migration that left a
    dangling reference."""
    with db.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        raise RuntimeError(f"the migration left rows referring to missing "
                                           f"rows (table, rowid, parent): {dangling[:5]}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config(db)
    with _migrating(db) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(db: Database, revision: str) -> None:
    config = alembic_config(db)
    with _migrating(db) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def ensure_migrated(db: Database) -> None:
    """Raise ``NotMigratedError`` with the command to run when the schema is not at head."""
    current = current_revision(db)
    head = head_revision(db)
    if current == head:
        return
    if current is None:
        raise NotMigratedError(
            f"the database at {db.engine.url.render_as_string(hide_password=True)} has no "
            "DutyDesk schema yet: run `dutydesk init` (new install) or `dutydesk db upgrade`"
        )
    raise NotMigratedError(
        f"the database schema is at revision {current}, this DutyDesk needs {head}: "
        "run `dutydesk db upgrade`"
    )
