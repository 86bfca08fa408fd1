"""Storage: migrations match the models on both backends; times are aware UTC; SQLite is tuned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from dutydesk import migrate
from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Base, Database
from dutydesk.migrate import NotMigratedError
from dutydesk.models import AuditEntry


def test_migrations_produce_exactly_the_schema_the_models_describe(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": migrate.include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree; write a migration: {diff}"


def test_migrations_downgrade_to_empty_and_upgrade_again(db: Database) -> None:
    migrate.downgrade(db, "base")
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)


def test_app_refuses_to_start_on_an_unmigrated_database(settings: Settings, db: Database) -> None:
    migrate.downgrade(db, "base")
    with pytest.raises(NotMigratedError, match="dutydesk db upgrade"):
        create_app(settings, db=db)


def test_times_come_back_timezone_aware_utc(db: Database) -> None:
    kyiv_evening = datetime(2026, 3, 29, 23, 30, tzinfo=timezone(timedelta(hours=3)))
    with db.session() as s:
        s.add(AuditEntry(at=kyiv_evening, actor="t", action="x", entity_type="y"))
    with db.session() as s:
        stored = s.scalar(select(AuditEntry.at))
    assert stored == kyiv_evening
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored.hour == 20


def test_naive_datetimes_are_refused_before_they_reach_the_database(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), db.session() as s:
        s.add(AuditEntry(at=datetime(2026, 1, 1), actor="t", action="x", entity_type="y"))
        s.flush()
    with db.session() as s:
        assert s.scalar(select(AuditEntry.id)) is None


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_audit_entry_stores_before_and_after_json(db: Database) -> None:
    with db.session() as s:
        s.add(
            AuditEntry(
                at=datetime.now(UTC),
                actor="t",
                action="user.update",
                entity_type="user",
                before={"role": "engineer"},
                after={"role": "shift_lead", "name": "Ганна"},
            )
        )
    with db.session() as s:
        entry = s.scalar(select(AuditEntry))
    assert entry.before == {"role": "engineer"}
    assert entry.after["name"] == "Ганна"
