"""Incident API and screens: actions with clear refusals, concurrent acks, filters, roles."""

from __future__ import annotations

import threading
from typing import Any

from dutydesk.core.db import Database, utcnow
from dutydesk.incidents.alerts.model import Alert, AlertSource, AlertStatus, Severity
from dutydesk.incidents.pipeline import process_alerts
from tests.conftest import bearer, form_token


def open_incident(db: Database, app: Any, key: str = "ups-a", **extra: Any) -> int:
    alert = Alert(
        source=AlertSource.ALERTMANAGER,
        dedup_key=f"alertmanager:{key}",
        status=AlertStatus.FIRING,
        starts_at=utcnow(),
        summary=extra.pop("summary", f"{key} on battery"),
        severity=extra.pop("severity", Severity.CRITICAL),
        **extra,
    )
    with db.session() as s:
        result = process_alerts(
            s, [alert], settings=app.extensions["dutydesk"].settings, now=utcnow()
        )
    return result.opened[0]


def test_two_engineers_ack_at_once_one_wins_the_other_is_told_who(
    app: Any, db: Database, api_token: Any
) -> None:
    incident_id = open_incident(db, app)
    tokens = [api_token("engineer"), api_token("engineer")]
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def ack(token: str) -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(client.post(f"/api/v1/incidents/{incident_id}/ack", headers=bearer(token)))

    threads = [threading.Thread(target=ack, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409]
    loser = next(a for a in answers if a.status_code == 409).get_json()
    winner = next(a for a in answers if a.status_code == 200).get_json()
    assert loser["error"].startswith(f"already acknowledged by {winner['acknowledged_by']}")
    acks = [e for e in winner["timeline"] if e["kind"] == "acknowledged"]
    assert len(acks) == 1


def test_ack_on_a_resolved_incident_is_refused(app: Any, db: Database, api_token: Any) -> None:
    client, headers = app.test_client(), bearer(api_token("engineer"))
    incident_id = open_incident(db, app)
    resolved = client.post(
        f"/api/v1/incidents/{incident_id}/resolve", json={"note": "fuse replaced"}, headers=headers
    )
    assert resolved.status_code == 200
    ack = client.post(f"/api/v1/incidents/{incident_id}/ack", headers=headers)
    assert ack.status_code == 409
    assert "resolved" in ack.get_json()["error"] and "reopen" in ack.get_json()["error"]


def test_resolve_without_a_note_is_refused_and_changes_nothing(
    app: Any, db: Database, api_token: Any
) -> None:
    client, headers = app.test_client(), bearer(api_token("engineer"))
    incident_id = open_incident(db, app)
    answer = client.post(f"/api/v1/incidents/{incident_id}/resolve", json={}, headers=headers)
    assert answer.status_code == 400
    assert "resolution note" in answer.get_json()["error"]
    detail = client.get(f"/api/v1/incidents/{incident_id}", headers=headers).get_json()
    assert detail["status"] == "triggered"


def test_pending_needs_a_reason_and_pauses_the_sla_clock(
    app: Any, db: Database, api_token: Any
) -> None:
    client, headers = app.test_client(), bearer(api_token("engineer"))
    incident_id = open_incident(db, app)
    url = f"/api/v1/incidents/{incident_id}/pending"
    assert client.post(url, json={}, headers=headers).status_code == 400
    answer = client.post(url, json={"reason": "waiting for the UPS vendor"}, headers=headers)
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "pending"
    assert answer.get_json()["sla"]["resolve"]["paused"] is True


def test_reassign_back_and_forth_counts_the_ping_pong(
    app: Any, db: Database, api_token: Any
) -> None:
    client, headers = app.test_client(), bearer(api_token("engineer"))
    incident_id = open_incident(db, app)
    url = f"/api/v1/incidents/{incident_id}/reassign"
    for line in ("second_line", "first_line", "second_line"):
        answer = client.post(url, json={"line": line, "reason": "not ours"}, headers=headers)
        assert answer.status_code == 200
    assert answer.get_json()["ping_pong_count"] == 2


def test_viewer_reads_but_cannot_act(app: Any, db: Database, api_token: Any) -> None:
    client, headers = app.test_client(), bearer(api_token("viewer"))
    incident_id = open_incident(db, app)
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    assert client.post(f"/api/v1/incidents/{incident_id}/ack", headers=headers).status_code == 403


def test_incident_list_filters_by_state_priority_and_search(
    app: Any, db: Database, api_token: Any
) -> None:
    client, headers = app.test_client(), bearer(api_token("viewer"))
    open_incident(db, app, "ups-a", summary="UPS A on battery")
    open_incident(db, app, "crac-2", summary="CRAC 2 high temperature", severity=Severity.INFO)

    def titles(query: str) -> list[str]:
        answer = client.get(f"/api/v1/incidents?{query}", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        return [i["title"] for i in answer.get_json()["items"]]

    assert titles("q=crac") == ["CRAC 2 high temperature"]
    assert titles("priority=P2") == ["UPS A on battery"]
    assert titles("state=resolved") == []
    assert len(titles("state=open")) == 2
    bad = client.get("/api/v1/incidents?priority=P9", headers=headers)
    assert bad.status_code == 400 and "P9" in bad.get_json()["error"]


def test_notes_are_markdown_with_scripts_removed(app: Any, db: Database, signed_in: Any) -> None:
    client = signed_in("engineer")
    incident_id = open_incident(db, app)
    token = form_token(client, f"/incidents/{incident_id}")
    client.post(
        f"/incidents/{incident_id}/note",
        data={"text": "**Fuse** replaced <script>alert(1)</script>", "csrf_token": token},
    )
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "<strong>Fuse</strong>" in page
    assert "<script>alert(1)</script>" not in page


def test_detail_page_shows_sla_clocks_actions_and_the_notice_link(
    app: Any, db: Database, signed_in: Any
) -> None:
    incident_id = open_incident(db, app)
    engineer_page = signed_in("engineer").get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "min left" in engineer_page
    assert f"/notices/new?incident={incident_id}&amp;title=" in engineer_page
    assert "Acknowledge" in engineer_page
    viewer_page = signed_in("viewer").get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Acknowledge" not in viewer_page


def test_manual_report_from_the_ui_opens_an_incident(app: Any, signed_in: Any) -> None:
    client = signed_in("engineer")
    token = form_token(client, "/incidents/new")
    answer = client.post(
        "/incidents/new",
        data={
            "title": "A customer calls: rack B12 has no power",
            "severity": "critical",
            "service": "power",
            "details": "Customer: ACME",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "rack B12 has no power" in page and "Customer: ACME" in page


def test_silences_crud_over_the_api(app: Any, api_token: Any) -> None:
    client, headers = app.test_client(), bearer(api_token("engineer"))
    bad = client.post(
        "/api/v1/silences",
        json={"matchers": 'service=~".*"', "comment": "all", "duration_minutes": 60},
        headers=headers,
    )
    assert bad.status_code == 400 and "every alert" in bad.get_json()["error"]
    made = client.post(
        "/api/v1/silences",
        json={"matchers": 'service="cooling"', "comment": "chiller swap", "duration_minutes": 60},
        headers=headers,
    )
    assert made.status_code == 201 and made.get_json()["state"] == "active"
    silence_id = made.get_json()["id"]
    changed = client.patch(
        f"/api/v1/silences/{silence_id}", json={"comment": "chiller swap, day 2"}, headers=headers
    )
    assert changed.get_json()["comment"] == "chiller swap, day 2"
    assert client.delete(f"/api/v1/silences/{silence_id}", headers=headers).status_code == 204
    assert (
        client.get(f"/api/v1/silences/{silence_id}", headers=headers).get_json()["state"]
        == "expired"
    )
