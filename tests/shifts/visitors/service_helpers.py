"""Shared set-up for the service tests: a client with two authorised persons, and arrivals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dutydesk.core.db import Database
from shifts.visitors import service as svc
from shifts.visitors.checkin import CheckInAttempt
from shifts.visitors.model import SitePolicy

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
POLICY = SitePolicy(timezone="Europe/Kyiv")
ACTOR = "desk@dc.example"


def arrive(name: str, badge: str | None = "B1", **extra: Any) -> CheckInAttempt:
    """What the desk enters for ``name`` going to Hall A / Cage 3 with every form signed."""
    values: dict[str, Any] = {
        "name_on_id": name,
        "id_checked_by": "Olena (desk)",
        "areas": ("Hall A / Cage 3",),
        "badge_number": badge,
        "nda_signed": True,
        "safety_form_signed": True,
    }
    values.update(extra)
    return CheckInAttempt(**values)


def make_site(db: Database) -> dict[str, int]:
    """Client Acme with Ivan Petrov and Maria Kovalenko, both authorised for Hall A."""
    with db.session() as s:
        client = svc.create_client(s, ACTOR, name="Acme", contacts=[{"name": "Ops Desk"}])
        ids = {"client": client.id}
        for key, name in (("ivan", "Ivan Petrov"), ("maria", "Maria Kovalenko")):
            person = svc.add_authorised_person(
                s,
                ACTOR,
                client_id=client.id,
                name=name,
                id_document_type="passport",
                id_number="AB 123-4567",
                scope="Hall A",
                valid_from=NOW - timedelta(days=30),
            )
            ids[key] = person.id
        return ids
