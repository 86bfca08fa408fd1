"""Shared set-up for the fuzz tests: a data center with something in every area, so generated
requests and junk form posts reach real rows (not only "no such id")."""

from __future__ import annotations

from typing import Any

from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.demo.seed import DemoCredentials, seed_demo
from dutydesk.demo.targets import HttpService, start_targets
from dutydesk.models import Role

from ..conftest import bearer

PASSWORDS = DemoCredentials("admin-pass-" + "a" * 8, "lead-pass-" + "l" * 8, "eng-pass-" + "e" * 8)


def seed_world(app: Any, db: Database, settings: Settings, token: str) -> None:
    """The demo data center (people, checks, rotations, visitors, status page) plus an open
    incident and a silence, created through the API as an admin would."""
    targets = start_targets(
        [HttpService(n) for n in ("mail", "1c", "fileshare", "vpn", "intranet", "bms")],
        ["smtp-relay"],
    )
    try:
        seed_demo(db, settings, targets, PASSWORDS)
    finally:
        targets.stop()
    client = app.test_client()
    created = client.post(
        "/api/v1/incidents", headers=bearer(token), json={"title": "UPS B on battery"}
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    silence = client.post(
        "/api/v1/silences",
        headers=bearer(token),
        json={"matchers": 'service="mail"', "comment": "relay swap", "duration_minutes": 30},
    )
    assert silence.status_code == 201, silence.get_data(as_text=True)


ROLES = (Role.ADMIN, Role.VIEWER)
