"""The status page never waits for a database lock: not for the signed-in request's own session,
not for a writer in another process; and its reads hold up no writer. Real SQLite files (WAL,
BEGIN IMMEDIATE for writers) and real PostgreSQL, real signed-in clients.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import g
from sqlalchemy import select

from dutydesk.context import principal
from dutydesk.core.db import Database, ReadOnlyError, utcnow
from dutydesk.models import AuditEntry, Role
from shifts.notices import service as svc
from shifts.notices.orm import StatusPageGeneration
from tests.conftest import bearer

STATUS_URLS = ["/status", "/status/feed.atom", "/status/badge/mail.svg", "/status/subscribe",
               "/api/v2/summary.json", "/api/v2/incidents/unresolved.json"]


@pytest.fixture
def outage(db: Database) -> int:
    with db.session() as s:
        group = svc.save_group(s, "admin", name="Office", now=utcnow())
        svc.save_service(s, "admin", slug="mail", name="Mail", group_id=group.id, now=utcnow())
        row = svc.create_notice(s, "anna", kind="incident", title="Mail is down",
                                body="We are on it.", affected={"mail": "major_outage"},
                                now=utcnow())
    return row.id


def audit_row(note: str) -> AuditEntry:
    return AuditEntry(at=utcnow(), actor="worker", action=note, entity_type="test")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER, Role.ADMIN])
def test_signed_in_people_open_every_status_document(signed_in: Any, outage: int,
                                                      role: Role) -> None:
    client = signed_in(role)
    for url in [*STATUS_URLS, f"/status/notices/{outage}"]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    assert "Major outage: Mail" in client.get("/status").get_data(as_text=True)


def test_an_api_token_reads_the_statuspage_json(client: Any, api_token: Any, outage: int) -> None:
    response = client.get("/api/v2/summary.json", headers=bearer(api_token(Role.VIEWER)))
    assert response.status_code == 200
    assert [i["name"] for i in response.get_json()["incidents"]] == ["Mail is down"]


def test_a_signed_in_request_holds_no_transaction_once_it_knows_who_asks(
        app: Any, signed_in: Any) -> None:
    client = signed_in(Role.ENGINEER)
    cookie = client.get_cookie("session")
    with app.test_request_context("/status", headers={"Cookie": f"session={cookie.value}"}):
        app.preprocess_request()  # the before-request hooks: request id, who is asking
        assert principal().label == client.user.email
        session = g.get("_db_session")
        assert session is not None and not session.in_transaction()
        assert principal().user.email == client.user.email  # still usable afterwards


def test_the_page_is_built_while_another_process_holds_a_write_transaction(
        client: Any, signed_in: Any, db: Database, outage: int) -> None:
    engineer = signed_in(Role.ENGINEER)
    worker = Database(db.url, pool_size=1)  # the scheduler process, writing a batch of flips
    try:
        with worker.session() as busy:
            busy.add(audit_row("batch"))
            busy.flush()  # its write transaction (and on SQLite the write lock) is now held
            for url in STATUS_URLS:
                assert client.get(url).status_code == 200, url
                assert client.get(url, headers={"Accept-Language": "ru"}).status_code == 200
        assert "Major outage: Mail" in engineer.get("/status").get_data(as_text=True)
    finally:
        worker.dispose()


def test_a_writer_commits_while_a_status_read_is_under_way(db: Database) -> None:
    worker = Database(db.url, pool_size=1)
    try:
        with db.read_connection() as conn:
            conn.execute(select(StatusPageGeneration.generation)).all()
            with worker.session() as s:  # would wait for the reader if reads took the lock
                s.add(audit_row("flip"))
            # The reader keeps the view it started with (one consistent snapshot per read).
            if db.dialect == "sqlite":
                assert conn.execute(select(AuditEntry.id)).all() == []
        with db.read_session() as s:
            assert s.scalars(select(AuditEntry.action)).all() == ["flip"]
    finally:
        worker.dispose()


def test_a_read_session_refuses_to_write(db: Database) -> None:
    with pytest.raises(ReadOnlyError, match="read-only"), db.read_session() as s:
        s.add(audit_row("sneaky"))
        s.flush()
    with db.session() as s:
        assert s.scalar(select(AuditEntry.id)) is None
