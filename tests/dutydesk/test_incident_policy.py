"""Choosing an incident's escalation policy on its page and over the API (SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from dutydesk.core.db import Database
from dutydesk.incidents.models import EscalationPolicyRow, Incident
from tests.conftest import bearer, form_token
from tests.dutydesk.test_incidents_web import open_incident


def add_policy(db: Database, name: str, default: bool = False) -> int:
    with db.session() as s:
        row = EscalationPolicyRow(
            name=name,
            steps=[{"targets": ["shift_lead"], "delay_minutes": 5}],
            is_default=default,
        )
        s.add(row)
        s.flush()
        return row.id


def policy_of(db: Database, incident_id: int) -> int | None:
    with db.session() as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None
        return incident.escalation_policy_id


def test_engineer_chooses_a_policy_on_the_incident_page_and_the_timeline_says_so(
    app: Any, db: Database, signed_in: Any
) -> None:
    add_policy(db, "standard", default=True)
    vendor = add_policy(db, "vendor on site")
    incident_id = open_incident(db, app, "crac-3")
    engineer = signed_in("engineer")
    page = f"/incidents/{incident_id}"
    before = engineer.get(page).get_data(as_text=True)
    assert "default (standard)" in before  # which policy it follows, before any choice
    answer = engineer.post(
        f"{page}/escalation-policy",
        data={"csrf_token": form_token(engineer, page), "policy_id": str(vendor),
              "reason": "the vendor's engineer is on site"},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Escalation policy changed." in html
    assert "escalation_policy_changed" in html and "the vendor&#39;s engineer is on site" in html
    assert f'<option value="{vendor}" selected>' in html
    assert policy_of(db, incident_id) == vendor


def test_a_bad_choice_on_the_page_is_refused_with_the_reason(
    app: Any, db: Database, signed_in: Any
) -> None:
    incident_id = open_incident(db, app, "crac-4")
    engineer = signed_in("engineer")
    url, page = f"/incidents/{incident_id}/escalation-policy", f"/incidents/{incident_id}"
    same = engineer.post(url, data={"csrf_token": form_token(engineer, page), "policy_id": ""})
    assert same.status_code == 409
    assert "already follows the &#39;default&#39; escalation policy" in same.get_data(as_text=True)
    junk = engineer.post(url, data={"csrf_token": form_token(engineer, page), "policy_id": "x"})
    assert junk.status_code == 400
    assert "policy_id: expected a whole number, got &#39;x&#39;" in junk.get_data(as_text=True)
    unknown = engineer.post(url, data={"csrf_token": form_token(engineer, page), "policy_id": "99"})
    assert unknown.status_code == 400
    assert "no escalation policy with id 99" in unknown.get_data(as_text=True)
    assert policy_of(db, incident_id) is None


def test_viewers_see_the_policy_but_cannot_change_it(
    app: Any, db: Database, signed_in: Any
) -> None:
    vendor = add_policy(db, "vendor on site")
    incident_id = open_incident(db, app, "crac-5")
    viewer = signed_in("viewer")
    page = viewer.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "escalation-policy" in page and 'name="policy_id"' not in page
    refused = viewer.post(
        f"/incidents/{incident_id}/escalation-policy",
        data={"csrf_token": form_token(viewer, f"/incidents/{incident_id}"),
              "policy_id": str(vendor)},
    )
    assert refused.status_code == 403
    assert policy_of(db, incident_id) is None


def test_api_chooses_a_policy_and_null_goes_back_to_the_default(
    app: Any, db: Database, api_token: Any
) -> None:
    vendor = add_policy(db, "vendor on site")
    incident_id = open_incident(db, app, "crac-6")
    client, headers = app.test_client(), bearer(api_token("engineer"))
    url = f"/api/v1/incidents/{incident_id}/escalation-policy"
    listed = client.get("/api/v1/escalation-policies", headers=bearer(api_token("viewer")))
    assert [(p["id"], p["name"]) for p in listed.get_json()["items"]] == [
        (vendor, "vendor on site")
    ]
    chosen = client.post(url, json={"policy_id": vendor, "reason": "vendor"}, headers=headers)
    assert chosen.status_code == 200
    body = chosen.get_json()
    assert body["escalation_policy_id"] == vendor
    [change] = [e for e in body["timeline"] if e["kind"] == "escalation_policy_changed"]
    assert change["data"]["to"] == "vendor on site" and change["actor"] == "token:t-engineer"
    back = client.post(url, json={"policy_id": None}, headers=headers)
    assert back.status_code == 200 and back.get_json()["escalation_policy_id"] is None


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "missing field(s): policy_id"),
        ({"policy_id": "1"}, 400, "policy_id must be an integer or null"),
        ({"policy_id": True}, 400, "policy_id must be an integer or null"),
        ({"policy_id": 4242}, 400, "no escalation policy with id 4242"),
        ({"policy_id": None, "reason": 5}, 400, "reason must be text"),
        ({"policy_id": None}, 409, "already follows the 'default' escalation policy"),
    ],
)
def test_api_refuses_bad_choices_and_changes_nothing(
    app: Any, db: Database, api_token: Any, body: dict[str, Any], status: int, message: str
) -> None:
    incident_id = open_incident(db, app, "crac-7")
    answer = app.test_client().post(
        f"/api/v1/incidents/{incident_id}/escalation-policy",
        json=body,
        headers=bearer(api_token("engineer")),
    )
    assert answer.status_code == status
    assert message in answer.get_json()["error"]
    assert policy_of(db, incident_id) is None


def test_api_refuses_viewers_unknown_incidents_and_resolved_ones(
    app: Any, db: Database, api_token: Any
) -> None:
    vendor = add_policy(db, "vendor on site")
    incident_id = open_incident(db, app, "crac-8")
    client, engineer = app.test_client(), bearer(api_token("engineer"))
    url = f"/api/v1/incidents/{incident_id}/escalation-policy"
    viewer = client.post(url, json={"policy_id": vendor}, headers=bearer(api_token("viewer")))
    assert viewer.status_code == 403
    missing = client.post(
        f"/api/v1/incidents/{incident_id + 1}/escalation-policy",
        json={"policy_id": vendor},
        headers=engineer,
    )
    assert missing.status_code == 404
    client.post(f"/api/v1/incidents/{incident_id}/resolve", json={"note": "ok"}, headers=engineer)
    resolved = client.post(url, json={"policy_id": vendor}, headers=engineer)
    assert resolved.status_code == 409 and "reopen it first" in resolved.get_json()["error"]
    assert policy_of(db, incident_id) is None
