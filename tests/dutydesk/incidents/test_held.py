"""Held alerts: what the reason says, and when a held check alert is still worth raising."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dutydesk.incidents.alerts.model import check_alert
from dutydesk.incidents.held import (
    alert_from_json,
    alert_to_json,
    held_reason,
    released_alert,
    still_a_problem,
)

NOW = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reason", "since", "zone", "says"),
    [
        # the UPS failed at 23:10 UTC during the battery swap: 02:10 in Kyiv (summer, UTC+3)
        ("maintenance", NOW - timedelta(minutes=80), "Europe/Kyiv",
         "was failing during maintenance since 02:10"),
        ("silence:12", NOW - timedelta(minutes=20), "UTC",
         "was failing while silenced (silence 12) since 00:10"),
        ("parent_down", NOW - timedelta(minutes=5), "UTC",
         "was failing while its parent was down since 00:25"),
        # held for more than a day: the date says which night
        ("maintenance", NOW - timedelta(days=2), "UTC",
         "was failing during maintenance since 2026-06-29 00:30"),
        ("maintenance", NOW - timedelta(minutes=1), "No/Such_Zone",
         "was failing during maintenance since 00:29"),
    ],
)
def test_the_held_reason_says_why_and_since_when_in_the_site_zone(
    reason: str, since: datetime, zone: str, says: str
) -> None:
    assert held_reason(reason, since, NOW, zone) == says


@pytest.mark.parametrize(
    ("state_type", "status", "raise_it"),
    [
        ("HARD", "CRITICAL", True),
        ("HARD", "WARNING", True),
        ("HARD", "UNKNOWN", True),
        ("HARD", "OK", False),  # recovered before the window ended: nothing to say
        ("SOFT", "CRITICAL", False),  # not confirmed (any more): its own flip will tell
        (None, None, False),
    ],
)
def test_a_held_check_alert_is_raised_only_while_the_check_is_in_a_hard_problem(
    state_type: str | None, status: str | None, raise_it: bool
) -> None:
    assert still_a_problem(state_type, status) is raise_it


def test_a_released_alert_keeps_what_it_was_and_says_it_was_held() -> None:
    alert = check_alert(check_id=7, check_name="UPS B", status_name="CRITICAL",
                        message="CRITICAL (HARD, attempt 1/1): HTTP 503", at=NOW,
                        service="Power", labels={"rack": "A1"})
    kept = alert_from_json(alert_to_json(alert))
    assert kept == alert
    out = released_alert(alert, "maintenance", NOW, NOW + timedelta(hours=1), "UTC")
    assert out.summary == ("UPS B is CRITICAL (HARD, attempt 1/1): HTTP 503; "
                           "was failing during maintenance since 00:30")
    assert out.dedup_key == "check:7" and out.labels["rack"] == "A1"
    assert out.details["held"] == {"reason": "maintenance", "since": NOW.isoformat()}
