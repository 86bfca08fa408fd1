"""Who may see the wall, where a kiosk screen lands, and what the page shows."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dutydesk import accounts
from dutydesk.core.db import Database
from dutydesk.models import KioskLink, Role


def kiosk_client(app: Any, db: Database) -> Any:
    with db.session() as s:
        created = accounts.create_kiosk_link(s, "test", name="NOC wall")
    token = created[1] if isinstance(created, tuple) else created
    client = app.test_client()
    response = client.get(f"/kiosk/{token}")
    assert response.status_code == 302
    client.kiosk_landing = response.headers["Location"]
    return client


def test_anonymous_visitor_is_sent_to_sign_in(client: Any) -> None:
    response = client.get("/wall")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=%2Fwall")
    assert client.get("/wall/events").status_code == 302


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ENGINEER])
def test_signed_in_staff_see_the_wall_with_the_top_bar(signed_in: Any, role: Role) -> None:
    html = signed_in(role).get("/wall").get_data(as_text=True)
    assert 'id="wall"' in html
    assert 'class="topbar"' in html  # a person at a desk keeps the navigation
    assert 'http-equiv="refresh" content="30"' in html  # without JS it still refreshes


def test_kiosk_query_hides_the_chrome(signed_in: Any) -> None:
    html = signed_in(Role.VIEWER).get("/wall?kiosk=1").get_data(as_text=True)
    assert 'class="topbar"' not in html


def test_kiosk_link_lands_on_the_wall_without_chrome(app: Any, db: Database) -> None:
    client = kiosk_client(app, db)
    home = client.get(client.kiosk_landing)
    assert home.status_code == 302 and home.headers["Location"] == "/wall"
    html = client.get("/wall").get_data(as_text=True)
    assert 'id="wall"' in html and 'class="topbar"' not in html
    with db.session() as s:
        assert s.scalar(select(KioskLink.last_used_at)) is not None


def test_all_green_wall_is_calm_and_shows_counts_only(signed_in: Any, checks: Any) -> None:
    for n in range(3):
        checks.add(f"ups-{n}")
    html = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    assert "All 3 checks OK" in html
    assert "wall-group" not in html


def test_problem_shows_as_a_tile_with_the_status_in_words(
    signed_in: Any, checks: Any, heartbeat: None
) -> None:
    checks.add("ups-a", "Hall A / UPS")
    bad = checks.add("crac-2", "Hall B / Cooling")
    checks.set_status(bad, "CRITICAL", "supply air 31 C")
    html = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    assert "Hall B" in html and "Cooling" in html
    assert 'data-status="critical"' in html and "CRITICAL" in html
    assert "supply air 31 C" in html
    assert "All 2 checks OK" not in html


def test_stale_banner_when_no_scheduler_reports(signed_in: Any, checks: Any) -> None:
    checks.add("ups-a")
    html = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    assert "Data may be stale" in html
    assert "no scheduler has reported in" in html


def test_no_stale_banner_with_a_fresh_heartbeat_and_results(
    signed_in: Any, checks: Any, heartbeat: None
) -> None:
    checks.add("ups-a")
    html = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    assert "Data may be stale" not in html


def test_action_keys_are_shown_to_engineers_but_not_to_viewers(signed_in: Any) -> None:
    viewer = signed_in(Role.VIEWER).get("/wall").get_data(as_text=True)
    assert "<kbd>a</kbd>" not in viewer
    engineer = signed_in(Role.ENGINEER).get("/wall").get_data(as_text=True)
    if "/api/v1/incidents/{id}/ack" not in engineer:
        pytest.skip("the incidents API is not installed in this build")
    assert "<kbd>a</kbd>" in engineer
