"""One error handler: JSON for API clients, a page for people, rollback and request id on 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from dutydesk.context import db_session
from dutydesk.core.db import Database, utcnow
from dutydesk.models import AuditEntry, Role

from ..conftest import bearer


def test_api_404_is_json(client: Any, api_token: Any) -> None:
    response = client.get("/api/v1/users/999999", headers=bearer(api_token(Role.ADMIN)))
    assert response.status_code in (404, 405)
    assert "error" in response.get_json()


def test_page_404_is_html_for_people(signed_in: Any) -> None:
    response = signed_in(Role.ENGINEER).get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<h1>404</h1>" in response.get_data(as_text=True)


def test_an_unexpected_error_rolls_back_and_is_logged_with_the_request_id(
    app: Any, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/api/v1/explode")
    def explode() -> Any:
        db_session().add(AuditEntry(at=utcnow(), actor="x", action="half", entity_type="t"))
        db_session().flush()
        raise RuntimeError("boom")

    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="dutydesk.errors"):
        response = client.get("/api/v1/explode", headers={"X-Request-ID": "trace-7"})
    assert response.status_code == 500
    body = response.get_json()
    assert body["request_id"] == "trace-7"
    assert "boom" not in body["error"]  # internals stay in the log
    assert any(getattr(r, "request_id", None) == "trace-7" for r in caplog.records)
    with db.session() as s:
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "half")) == 0
