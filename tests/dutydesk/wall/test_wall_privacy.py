"""The wall is a shared screen: visitors appear by first name only, never surname or ID."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dutydesk import accounts
from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow


def test_a_kiosk_wall_shows_a_visitors_first_name_but_not_surname_or_id(
    app: Any, db: Database, settings: Settings
) -> None:
    from shifts.visitors import service as visitors
    from shifts.visitors.areas import parse_areas
    from shifts.visitors.checkin import CheckInAttempt

    now = utcnow()
    with db.session() as s:
        client = visitors.create_client(s, "test", name="Skyline Hosting LLC")
        person = visitors.add_authorised_person(
            s,
            "test",
            client_id=client.id,
            name="Yurii Lysenko",
            id_document_type="passport",
            id_number="FE123456",
            scope=["Hall B"],
            valid_from=now - timedelta(days=30),
            safety_briefing_on=(now - timedelta(days=5)).date(),
        )
        site, _retention = visitors.policies_from_settings(None, settings.timezone)
        outcome = visitors.check_in(
            s,
            "test",
            client_id=client.id,
            policy=site,
            now=now,
            attempt=CheckInAttempt(
                name_on_id="Yurii Lysenko",
                id_checked_by="ivan@dc.example",
                areas=parse_areas(["Hall B"]),
                badge_number="V-1",
                nda_signed=True,
                safety_form_signed=True,
                authorised_person_id=person.id,
            ),
        )
        assert outcome.decision.allowed
        _link, token = accounts.create_kiosk_link(s, "test", name="Hall wall")
    kiosk = app.test_client()
    kiosk.get(f"/kiosk/{token}")
    page = kiosk.get("/wall").get_data(as_text=True)
    assert "Yurii" in page
    assert "Lysenko" not in page
    assert "3456" not in page and "FE123456" not in page
