"""Alerts a duty team can trust at night: a returning problem re-opens its incident, a flapping
check keeps one incident and pages twice, two Alertmanagers resolve only together, a reopen that
would clash with a newer incident is refused. Real SQLite and PostgreSQL (``database_url``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from checks.models import Check, FlipRow
from dutydesk.core.config import Settings
from dutydesk.core.db import Database
from dutydesk.core.models.notify import OutboxMessage
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.jobs import process_flips
from dutydesk.incidents.lifecycle import Action
from dutydesk.incidents.models import Incident
from dutydesk.incidents.pipeline import process_alerts
from dutydesk.incidents.store import NewerIncidentOpen, act, timeline
from dutydesk.models import Role
from tests.conftest import make_user

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def am_alert(
    status: str = "firing", *, site: str = "http://am-a:9093", ends_at: datetime | None = None
) -> Alert:
    return Alert(
        source=AlertSource.ALERTMANAGER,
        dedup_key="alertmanager:vpn-down",
        status=AlertStatus(status),
        starts_at=NOW,
        ends_at=ends_at,
        summary="VPN gateway down",
        severity=Severity.ERROR,
        labels={"alertname": "VpnDown"},
        source_ids={"fingerprint": "vpn-down", "external_url": site, "receiver": "dutydesk"},
    )


def run(db: Database, settings: Settings, alerts: list[Alert], minutes: float) -> Any:
    with db.session() as s:
        return process_alerts(s, alerts, settings=settings, now=at(minutes))


def incidents(db: Database) -> list[Incident]:
    with db.session() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def pages_to(db: Database, email: str) -> list[str]:
    with db.session() as s:
        return list(
            s.scalars(
                select(OutboxMessage.subject)
                .where(OutboxMessage.target == email, OutboxMessage.source_type == "incident")
                .order_by(OutboxMessage.id)
            )
        )


# --------------------------------------------------------------------------- 1. reopen vs newer


def test_reopening_an_incident_whose_alert_fired_again_is_refused_with_the_newer_incident(
    db: Database, settings: Settings
) -> None:
    # Alertmanager alert, resolve, the same alert again after the re-open window: two incidents.
    run(db, settings, [am_alert()], 0)
    run(db, settings, [am_alert("resolved")], 5)
    run(db, settings, [am_alert()], 50)
    old, new = incidents(db)
    assert (old.status, new.status) == ("resolved", "triggered")
    with pytest.raises(NewerIncidentOpen) as refused, db.session() as s:
        act(s, old.id, Action.REOPEN, "olena@dc.example", at(51))
    assert refused.value.newer_id == new.id
    assert f"#{new.id}" in str(refused.value)
    assert [i.status for i in incidents(db)] == ["resolved", "triggered"]  # nothing changed


def test_the_api_answers_409_with_a_link_and_the_page_flashes_it(
    db: Database, settings: Settings, client: Any, api_token: Any, signed_in: Any
) -> None:
    from tests.conftest import bearer, form_token

    run(db, settings, [am_alert()], 0)
    with db.session() as s:  # resolved by a person: a new alert opens a new incident
        act(s, incidents(db)[0].id, Action.RESOLVE, "olena@dc.example", at(1), note="fixed")
    run(db, settings, [am_alert()], 2)
    old, new = incidents(db)
    answer = client.post(
        f"/api/v1/incidents/{old.id}/reopen", json={"reason": "again"},
        headers=bearer(api_token(Role.ENGINEER)),
    )
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["detail"]["newer_incident_id"] == new.id
    assert body["detail"]["newer_incident_page"].endswith(f"/incidents/{new.id}")

    engineer = signed_in(Role.ENGINEER)
    page = f"/incidents/{old.id}"
    token = form_token(engineer, page)
    reply = engineer.post(f"{page}/reopen", data={"csrf_token": token, "reason": "again"},
                          follow_redirects=True)
    html = reply.get_data(as_text=True)
    assert f'<a href="/incidents/{new.id}">#{new.id}</a>' in html
    assert "Not reopened" in html
    assert [i.status for i in incidents(db)] == ["resolved", "triggered"]


# --------------------------------------------------------------------------- 5. returns


def test_a_problem_back_within_the_window_reopens_its_incident_without_paging_again(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    run(db, settings, [am_alert()], 0)
    run(db, settings, [am_alert("resolved")], 2)
    pages_before = pages_to(db, "taras@dc.example")
    run(db, settings, [am_alert()], 5)  # back 3 minutes after the automatic resolve
    [incident] = incidents(db)
    assert (incident.status, incident.returns_count) == ("triggered", 1)
    with db.session() as s:
        reopened = [e for e in timeline(s, incident.id) if e.kind == "reopened"]
    assert reopened[-1].data["returned_after_s"] == 180
    assert reopened[-1].data["reason"] == "problem returned after 3 min"
    assert pages_to(db, "taras@dc.example") == pages_before  # he has it already


def test_a_person_joining_the_line_meanwhile_is_paged_when_the_problem_returns(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    run(db, settings, [am_alert()], 0)
    run(db, settings, [am_alert("resolved")], 2)
    make_user(db, Role.ENGINEER, email="late@dc.example")
    run(db, settings, [am_alert()], 5)
    assert len(pages_to(db, "late@dc.example")) == 1


def test_after_the_window_or_a_persons_resolve_a_new_incident_opens(
    db: Database, settings: Settings
) -> None:
    run(db, settings, [am_alert()], 0)
    run(db, settings, [am_alert("resolved")], 2)
    run(db, settings, [am_alert()], 2 + 31)  # default window is 30 minutes
    assert len(incidents(db)) == 2


# --------------------------------------------------------------------------- 3. two senders


def test_two_alertmanagers_resolve_the_incident_only_when_both_have_resolved(
    db: Database, settings: Settings
) -> None:
    run(db, settings, [am_alert(site="http://am-a:9093")], 0)
    run(db, settings, [am_alert(site="http://am-b:9093")], 1)
    run(db, settings, [am_alert("resolved", site="http://am-a:9093")], 2)
    [incident] = incidents(db)
    assert incident.status == "triggered"  # am-b still fires
    with db.session() as s:
        told = [e for e in timeline(s, incident.id) if e.data.get("still_firing")]
    assert told[-1].data["still_firing"] == ["http://am-b:9093"]
    run(db, settings, [am_alert("resolved", site="http://am-b:9093")], 3)
    [incident] = incidents(db)
    assert incident.status == "resolved"


def test_a_sender_whose_alert_expired_no_longer_holds_the_incident_open(
    db: Database, settings: Settings
) -> None:
    run(db, settings, [am_alert(site="http://am-a:9093")], 0)
    run(db, settings, [am_alert(site="http://am-b:9093", ends_at=at(4))], 1)  # then goes silent
    run(db, settings, [am_alert("resolved", site="http://am-a:9093")], 10)
    [incident] = incidents(db)
    assert incident.status == "resolved"


def test_the_incident_page_says_which_sources_fire(
    db: Database, settings: Settings, signed_in: Any
) -> None:
    run(db, settings, [am_alert(site="http://am-a:9093")], 0)
    run(db, settings, [am_alert(site="http://am-b:9093")], 1)
    run(db, settings, [am_alert("resolved", site="http://am-a:9093")], 2)
    [incident] = incidents(db)
    html = signed_in(Role.VIEWER).get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "http://am-b:9093" in html and "http://am-a:9093" in html
    assert 'data-source-state="firing"' in html and 'data-source-state="resolved"' in html
    api = signed_in(Role.VIEWER).get(f"/api/v1/incidents/{incident.id}").get_json()
    assert api["alert_sources"] == [{"source": "http://am-a:9093", "state": "resolved"},
                                    {"source": "http://am-b:9093", "state": "firing"}]


# --------------------------------------------------------------------------- 4. service


def test_an_integration_created_with_a_service_passes_it_to_its_incidents(
    db: Database, settings: Settings
) -> None:
    from dutydesk.incidents.integrations import create_integration

    with db.session() as s:
        integration, _key = create_integration(
            s, "cli", type="alertmanager", name="am-site-a", service="vpn"
        )
        integration_id = integration.id
    with db.session() as s:
        process_alerts(s, [am_alert()], settings=settings, now=NOW,
                       integration_id=integration_id)
    [incident] = incidents(db)
    assert incident.service == "vpn"
    assert incident.labels["service"] == "vpn"


# --------------------------------------------------------------------------- 6. flapping


def add_check(db: Database, slug: str = "vpn") -> int:
    with db.session() as s:
        check = Check(slug=slug, display_name=slug.upper(), type="tcp", spec={}, service="vpn")
        s.add(check)
        s.flush()
        return check.id


def flip(db: Database, check_id: int, kind: str, old: str | None, new: str, minute: float) -> None:
    with db.session() as s:
        s.add(FlipRow(check_id=check_id, kind=kind, old_status=old, new_status=new,
                      reason=f"{kind} by test", at=at(minute)))


def test_a_flapping_check_keeps_one_incident_and_pages_when_flapping_starts_and_ends(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    check_id = add_check(db)
    flip(db, check_id, "problem", "OK", "CRITICAL", 0)
    process_flips(db, settings, now=at(0))
    flip(db, check_id, "flapping_started", "CRITICAL", "OK", 3)
    process_flips(db, settings, now=at(3))
    [incident] = incidents(db)
    assert (incident.status, incident.flapping) == ("triggered", True)
    # while it flaps the engine holds problem/recovery flips; informational ones change nothing
    flip(db, check_id, "unreachable", "OK", "CRITICAL", 10)
    process_flips(db, settings, now=at(10))
    flip(db, check_id, "flapping_stopped", "CRITICAL", "OK", 20)
    flip(db, check_id, "recovery", "CRITICAL", "OK", 20)  # the engine's settle flip
    process_flips(db, settings, now=at(20))
    [incident] = incidents(db)
    assert (incident.status, incident.flapping) == ("resolved", False)
    subjects = pages_to(db, "taras@dc.example")
    assert len(subjects) == 3, subjects  # problem, flapping started, over (final state OK)
    assert subjects[1].startswith("[FLAPPING]") and subjects[2].startswith("[RESOLVED]")


def test_flapping_that_ends_with_the_check_still_down_pages_once_and_stays_open(
    db: Database, settings: Settings
) -> None:
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    check_id = add_check(db)
    flip(db, check_id, "flapping_started", "OK", "CRITICAL", 0)  # opens the incident
    process_flips(db, settings, now=at(0))
    flip(db, check_id, "flapping_stopped", "OK", "CRITICAL", 9)
    process_flips(db, settings, now=at(9))
    flip(db, check_id, "problem", "OK", "CRITICAL", 9.1)  # settle flip in a later batch
    process_flips(db, settings, now=at(9.1))
    [incident] = incidents(db)
    assert (incident.status, incident.flapping) == ("triggered", False)
    subjects = pages_to(db, "taras@dc.example")
    assert len(subjects) == 2, subjects
    assert subjects[1].startswith("[CRITICAL]")


def test_a_vpn_flapping_for_half_an_hour_opens_at_most_one_incident(
    db: Database, settings: Settings
) -> None:
    """The demo's VPN flips every 45 s for 30 minutes (accelerated: times injected). Before flap
    detection notices, problem and recovery alternate; then the engine holds them."""
    make_user(db, Role.ENGINEER, email="taras@dc.example")
    check_id = add_check(db)
    minute, down = 0.0, True
    for n in range(40):  # 40 × 45 s = 30 min
        if n == 6:
            flip(db, check_id, "flapping_started", "OK", "CRITICAL", minute)
        elif n < 6:
            kind, old, new = ("problem", "OK", "CRITICAL") if down else ("recovery", "CRITICAL",
                                                                         "OK")
            flip(db, check_id, kind, old, new, minute)
        process_flips(db, settings, now=at(minute))
        minute += 0.75
        down = not down
    assert len(incidents(db)) == 1
    # came back twice before flap detection, and a third time as "flapping"
    assert incidents(db)[0].returns_count == 3
    # one page at opening, one when flapping started; the returns paged nobody again
    assert len([p for p in pages_to(db, "taras@dc.example") if "RESOLVED" not in p]) == 2


def test_the_wall_and_the_incident_page_show_flapping_and_the_returns(
    db: Database, settings: Settings, signed_in: Any
) -> None:
    check_id = add_check(db)
    flip(db, check_id, "problem", "OK", "CRITICAL", 0)
    process_flips(db, settings, now=at(0))
    flip(db, check_id, "recovery", "CRITICAL", "OK", 1)
    process_flips(db, settings, now=at(1))
    flip(db, check_id, "flapping_started", "OK", "CRITICAL", 2)  # back, and now flapping
    process_flips(db, settings, now=at(2))
    [incident] = incidents(db)
    viewer = signed_in(Role.VIEWER)
    wall = viewer.get("/wall").get_data(as_text=True)
    assert 'data-flapping="1"' in wall and 'data-returns="1"' in wall
    page = viewer.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert 'data-badge="flapping"' in page and 'data-returns="1"' in page
    assert "the problem returned 1 time" in page


def test_when_every_sender_let_its_alert_expire_the_worker_resolves_the_incident(
    db: Database, settings: Settings
) -> None:
    from dutydesk.incidents.noise import resolve_expired

    run(db, settings, [am_alert(site="http://am-a:9093", ends_at=at(4))], 0)
    run(db, settings, [am_alert(site="http://am-b:9093", ends_at=at(5))], 1)
    assert resolve_expired(db, settings, at(4.5)) == 0  # am-b still fires
    assert resolve_expired(db, settings, at(6)) == 1
    [incident] = incidents(db)
    assert incident.status == "resolved"
    assert "expired" in incident.resolution_note
