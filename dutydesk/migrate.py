"""Schema migrations (Alembic) driven from code: upgrade, inspect, and refuse un-migrated DBs."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config(db)
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(db: Database, revision: str) -> None:
    config = alembic_config(db)
    with db.engine.begin() as conn:
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
