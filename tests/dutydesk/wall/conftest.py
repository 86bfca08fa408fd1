"""Wall fixtures: checks with a state row, a fresh scheduler heartbeat, and the feed stopped
after each test (its poller thread must not outlive the test's database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from checks.models import Check, CheckGroup, CheckStateRow, FlipRow
from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.models import WorkerHeartbeat
from dutydesk.wall.feed import EXTENSION


@pytest.fixture
def app(settings: Settings, db: Database) -> Iterator[Any]:
    """The app, with its wall feed stopped before the database goes away."""
    application = create_app(settings, db=db)
    yield application
    feed = application.extensions.get(EXTENSION)
    if feed is not None:
        feed.stop()


class Checks:
    """Create checks and flip their state the way the engine's writer does (state row + flip)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, slug: str, path: str = "Hall A / UPS", status: str = "OK", **extra: Any) -> int:
        now = utcnow()
        with self.db.session() as s:
            group = s.scalar(select(CheckGroup).where(CheckGroup.path == path))
            if group is None:
                group = CheckGroup(name=path.rsplit("/", 1)[-1].strip(), path=path)
                s.add(group)
                s.flush()
            check = Check(slug=slug, display_name=slug, type="tcp", group_id=group.id, **extra)
            s.add(check)
            s.flush()
            s.add(
                CheckStateRow(
                    check_id=check.id,
                    status=status,
                    state_type="HARD",
                    last_result_at=now,
                    last_status=status,
                    last_message=f"{slug} says {status}",
                    updated_at=now,
                )
            )
            return check.id

    def set_status(self, check_id: int, status: str, message: str = "") -> None:
        now = utcnow()
        with self.db.session() as s:
            old = s.scalar(select(CheckStateRow.status).where(CheckStateRow.check_id == check_id))
            s.execute(
                update(CheckStateRow)
                .where(CheckStateRow.check_id == check_id)
                .values(
                    status=status,
                    last_status=status,
                    last_message=message or status,
                    last_result_at=now,
                    updated_at=now,
                    version=CheckStateRow.version + 1,
                )
            )
            s.add(
                FlipRow(
                    check_id=check_id,
                    kind="problem" if status != "OK" else "recovery",
                    old_status=old,
                    new_status=status,
                    reason=message,
                    at=now,
                )
            )


@pytest.fixture
def checks(db: Database) -> Checks:
    return Checks(db)


@pytest.fixture
def heartbeat(db: Database) -> None:
    with db.session() as s:
        s.add(WorkerHeartbeat(name="worker-test", beat_at=utcnow(), pid=1))
