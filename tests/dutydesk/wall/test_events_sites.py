"""The live feed keeps a wall's site: a site's wall never receives another site's changes."""

from __future__ import annotations

import json
from typing import Any

from dutydesk import accounts
from dutydesk.core.db import Database
from tests.dutydesk.wall.sites_data import add_site
from tests.dutydesk.wall.test_events import Stream


def test_a_sites_stream_carries_only_its_sites_changes(
    live_server: Any, db: Database, checks: Any, heartbeat: None
) -> None:
    import requests

    kyiv = add_site(db, "kyiv-dc2", "Kyiv DC2", "Europe/Kyiv")
    lviv = add_site(db, "lviv", "Lviv")
    checks.add("kyiv-ups", "Hall K / UPS", site_id=kyiv)
    lviv_crac = checks.add("lviv-crac", "Hall L / Cooling", site_id=lviv)
    kyiv_pdu = checks.add("kyiv-pdu", "Hall K / PDU", site_id=kyiv)
    with db.session() as s:
        _link, token = accounts.create_kiosk_link(s, "test", name="Kyiv hall", site="kyiv-dc2")
    session = requests.Session()
    assert session.get(f"{live_server.url}/kiosk/{token}", timeout=5).url.endswith("/wall")
    stream = Stream(session, f"{live_server.url}/wall/events")
    try:
        first = stream.next_event()
        assert first["full"] is True
        assert "All 2 checks OK" in json.dumps(first["sections"]["problems"])
        checks.set_status(lviv_crac, "CRITICAL", "supply air 31 C")  # another site's
        checks.set_status(kyiv_pdu, "CRITICAL", "feed A lost")
        patch = stream.next_event()
        text = json.dumps(patch["sections"])
        assert "kyiv-pdu" in text and "lviv-crac" not in text
    finally:
        stream.close()
