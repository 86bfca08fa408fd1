"""Migration 0011: an Alertmanager key made before it (also a viewer API token) keeps posting
alerts and stops reading the API; downgrade gives the old shape back (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import text

from dutydesk import migrate
from dutydesk.app import create_app
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.security import digest_secret
from tests.conftest import bearer
from tests.dutydesk.test_integrations import am_alert, am_payload


def old_style_alertmanager_key(db: Database) -> str:
    """What ``create_integration`` stored before 0011: the key as a viewer token, linked."""
    key = secrets.token_hex(16)
    now = utcnow()
    with db.engine.begin() as conn:
        token_id = conn.execute(
            text(
                "INSERT INTO api_tokens (name, role, prefix, token_hash, created_at) "
                "VALUES ('integration:prom-old', 'viewer', :prefix, :hash, :now) RETURNING id"
            ),
            {"prefix": key[:8], "hash": digest_secret(key), "now": now},
        ).scalar_one()
        integration_id = conn.execute(
            text(
                "INSERT INTO integrations (type, name, key_prefix, key_hash, api_token_id, "
                "created_by, created_at) VALUES ('alertmanager', 'prom-old', :prefix, :hash, "
                ":token, 'admin', :now) RETURNING id"
            ),
            {"prefix": key[:8], "hash": digest_secret(key), "token": token_id, "now": now},
        ).scalar_one()
        conn.execute(  # an alert it sent: the link must survive the table's rebuild on SQLite
            text(
                "INSERT INTO alerts_received (source, dedup_key, fingerprint, status, summary, "
                "received_at, integration_id) VALUES ('alertmanager', 'am:x', 'x', 'firing', "
                "'sent before the upgrade', :now, :integration)"
            ),
            {"now": now, "integration": integration_id},
        )
    return key


def alert_links(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT a.summary, i.name FROM alerts_received a "
                    "JOIN integrations i ON i.id = a.integration_id ORDER BY a.id"
                )
            )
        ]


def shadow_tokens(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text("SELECT name, role FROM api_tokens"))]


def test_an_old_alertmanager_key_posts_alerts_and_reads_nothing_after_the_upgrade(
    db: Database, settings: Settings
) -> None:
    migrate.downgrade(db, "0010")
    key = old_style_alertmanager_key(db)
    assert shadow_tokens(db) == [("integration:prom-old", "viewer")]

    migrate.upgrade(db)
    assert shadow_tokens(db) == []
    assert alert_links(db) == [("sent before the upgrade", "prom-old")]
    client: Any = create_app(settings, db=db).test_client()
    posted = client.post(
        "/api/v1/integrations/alertmanager", json=am_payload(am_alert("old1")), headers=bearer(key)
    )
    assert posted.status_code == 200
    assert len(posted.get_json()["opened"]) == 1
    assert client.get("/api/v1/incidents", headers=bearer(key)).status_code == 403


def test_downgrade_gives_each_alertmanager_key_its_viewer_token_back(
    db: Database, settings: Settings
) -> None:
    migrate.downgrade(db, "0010")
    key = old_style_alertmanager_key(db)
    migrate.upgrade(db)
    migrate.downgrade(db, "0010")
    with db.engine.connect() as conn:
        linked = conn.execute(
            text(
                "SELECT t.token_hash, t.role, t.revoked_at FROM integrations i "
                "JOIN api_tokens t ON t.id = i.api_token_id"
            )
        ).all()
    assert [tuple(row) for row in linked] == [(digest_secret(key), "viewer", None)]
    assert alert_links(db) == [("sent before the upgrade", "prom-old")]
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision(db)
