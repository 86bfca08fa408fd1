"""Alert receivers: Alertmanager webhook v4 and PagerDuty Events v2, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dutydesk.core.db import Database
from dutydesk.incidents.integrations import create_integration
from dutydesk.incidents.models import AlertReceived, Incident, Integration
from dutydesk.models import ApiToken
from tests.conftest import bearer


@pytest.fixture
def am_key(db: Database) -> str:
    with db.session() as s:
        _integration, key = create_integration(s, "test", type="alertmanager", name="prom-dc1")
    return key


@pytest.fixture
def pd_key(db: Database) -> str:
    with db.session() as s:
        _integration, key = create_integration(s, "test", type="pagerduty", name="zabbix")
    return key


def am_payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="UpsOnBattery"}',
        "status": status,
        "receiver": "dutydesk",
        "alerts": list(alerts),
    }


def am_alert(fingerprint: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "UpsOnBattery", "severity": "critical", **labels},
        "annotations": {"summary": f"UPS {fingerprint} runs on battery"},
        "startsAt": "2026-11-23T08:00:00Z",
        "endsAt": "2026-11-23T09:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": fingerprint,
    }


def incidents(db: Database) -> list[Incident]:
    with db.session() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def test_alertmanager_alert_opens_an_incident_and_a_repeat_attaches_to_it(
    client: Any, db: Database, am_key: str
) -> None:
    first = client.post(
        "/api/v1/integrations/alertmanager",
        json=am_payload(am_alert("aaa1", service="power")),
        headers=bearer(am_key),
    )
    assert first.status_code == 200, first.get_json()
    repeat = client.post(
        "/api/v1/integrations/alertmanager",
        json=am_payload(am_alert("aaa1", service="power")),
        headers=bearer(am_key),
    )
    assert repeat.status_code == 200
    [incident] = incidents(db)
    assert incident.title == "UPS aaa1 runs on battery"
    assert incident.priority == "P2"  # critical → urgency high × medium impact
    assert incident.alert_count == 2
    assert repeat.get_json()["attached"] == [incident.id]
    with db.session() as s:
        assert s.scalar(select(func.count(AlertReceived.id))) == 2


def test_alertmanager_resolved_alert_auto_resolves_the_incident(
    client: Any, db: Database, am_key: str
) -> None:
    url, headers = "/api/v1/integrations/alertmanager", bearer(am_key)
    client.post(url, json=am_payload(am_alert("bbb2")), headers=headers)
    answer = client.post(
        url,
        json=am_payload(am_alert("bbb2", status="resolved"), status="resolved"),
        headers=headers,
    )
    assert answer.status_code == 200
    [incident] = incidents(db)
    assert incident.status == "resolved"
    assert incident.resolved_by == "alertmanager"
    assert "recovery" in incident.resolution_note
    # The same problem firing again later is a new incident, not the closed one.
    client.post(url, json=am_payload(am_alert("bbb2")), headers=headers)
    assert [i.status for i in incidents(db)] == ["resolved", "triggered"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"{not json", "JSON", id="not-json"),
        pytest.param(json.dumps({"version": "3"}).encode(), "version", id="wrong-version"),
        pytest.param(json.dumps(am_payload()).encode(), "at least one alert", id="no-alerts"),
        pytest.param(
            json.dumps(am_payload({**am_alert("c"), "startsAt": "yesterday"})).encode(),
            "startsAt",
            id="bad-timestamp",
        ),
    ],
)
def test_malformed_alertmanager_bodies_get_400_naming_the_problem(
    client: Any, db: Database, am_key: str, body: bytes, message: str
) -> None:
    answer = client.post(
        "/api/v1/integrations/alertmanager",
        data=body,
        headers={**bearer(am_key), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]
    assert incidents(db) == []


def test_oversized_alertmanager_body_gets_413(client: Any, am_key: str) -> None:
    huge = b'{"version": "4", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    answer = client.post(
        "/api/v1/integrations/alertmanager",
        data=huge,
        headers={**bearer(am_key), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413


def test_alertmanager_without_a_key_is_refused(client: Any) -> None:
    answer = client.post("/api/v1/integrations/alertmanager", json=am_payload(am_alert("d")))
    assert answer.status_code == 401
    wrong = client.post(
        "/api/v1/integrations/alertmanager",
        json=am_payload(am_alert("d")),
        headers=bearer("not-a-key"),
    )
    assert wrong.status_code == 401


def test_a_viewer_token_that_is_no_integration_cannot_post_alerts(
    client: Any, api_token: Any
) -> None:
    answer = client.post(
        "/api/v1/integrations/alertmanager",
        json=am_payload(am_alert("e")),
        headers=bearer(api_token("viewer")),
    )
    assert answer.status_code == 403


def test_an_alertmanager_key_posts_alerts_but_reads_nothing(
    client: Any, db: Database, am_key: str
) -> None:
    posted = client.post(
        "/api/v1/integrations/alertmanager",
        json=am_payload(am_alert("f1", service="power")),
        headers=bearer(am_key),
    )
    assert posted.status_code == 200
    [incident] = incidents(db)
    for url in (
        "/api/v1/incidents",
        f"/api/v1/incidents/{incident.id}",
        "/api/v1/silences",
        "/api/v1/escalation-policies",
        "/api/v1/audit",
        "/wall",
    ):
        answer = client.get(url, headers=bearer(am_key))
        assert answer.status_code == 403, url
        assert "only delivers alerts to its receiver" in answer.get_data(as_text=True)
    ack = client.post(f"/api/v1/incidents/{incident.id}/ack", headers=bearer(am_key))
    assert ack.status_code == 403
    assert incidents(db)[0].status == "triggered"
    with db.session() as s:
        integration = s.scalar(select(Integration))
        assert integration is not None and integration.last_used_at is not None


def test_an_alertmanager_key_is_no_api_token(db: Database, am_key: str) -> None:
    with db.session() as s:
        assert s.scalar(select(func.count(ApiToken.id))) == 0


def test_an_engineers_token_may_still_post_alerts_by_hand(client: Any, api_token: Any) -> None:
    answer = client.post(
        "/api/v1/integrations/alertmanager",
        json=am_payload(am_alert("f2")),
        headers=bearer(api_token("engineer")),
    )
    assert answer.status_code == 200


def test_a_pagerduty_routing_key_is_refused_at_the_alertmanager_receiver(
    client: Any, db: Database, pd_key: str
) -> None:
    answer = client.post(
        "/api/v1/integrations/alertmanager",
        json=am_payload(am_alert("f3")),
        headers=bearer(pd_key),
    )
    assert answer.status_code == 403
    assert "is not an Alertmanager integration" in answer.get_json()["error"]
    assert incidents(db) == []


def pd_event(key: str, action: str, dedup_key: str | None = "pdu-b12", **payload: Any) -> Any:
    body: dict[str, Any] = {"routing_key": key, "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {
            "summary": "PDU B12 lost phase L2",
            "source": "pdu-b12.dc1",
            "severity": "critical",
            **payload,
        }
    return body


def test_pagerduty_trigger_acknowledge_resolve(client: Any, db: Database, pd_key: str) -> None:
    trigger = client.post("/v2/enqueue", json=pd_event(pd_key, "trigger"))
    assert trigger.status_code == 202
    assert trigger.get_json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "pdu-b12",
    }
    [incident] = incidents(db)
    assert incident.status == "triggered" and incident.source == "pagerduty"

    ack = client.post("/v2/enqueue", json=pd_event(pd_key, "acknowledge"))
    assert ack.status_code == 202
    assert incidents(db)[0].status == "acknowledged"
    assert incidents(db)[0].acknowledged_by == "pagerduty:zabbix"

    resolve = client.post("/v2/enqueue", json=pd_event(pd_key, "resolve"))
    assert resolve.status_code == 202
    assert incidents(db)[0].status == "resolved"


def test_pagerduty_trigger_without_dedup_key_gets_one_back(client: Any, pd_key: str) -> None:
    answer = client.post("/v2/enqueue", json=pd_event(pd_key, "trigger", dedup_key=None))
    assert answer.status_code == 202
    assert answer.get_json()["dedup_key"]


def test_pagerduty_unknown_routing_key_is_400_like_pagerduty(client: Any, db: Database) -> None:
    answer = client.post("/v2/enqueue", json=pd_event("0" * 32, "trigger"))
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["status"] == "invalid event"
    assert any("routing key" in error for error in body["errors"])
    assert incidents(db) == []


def test_pagerduty_invalid_event_lists_every_problem(client: Any, pd_key: str) -> None:
    answer = client.post(
        "/v2/enqueue", json={"routing_key": pd_key, "event_action": "explode", "dedup_key": 5}
    )
    assert answer.status_code == 400
    assert len(answer.get_json()["errors"]) >= 2


def test_an_alertmanager_key_is_not_a_pagerduty_routing_key(client: Any, am_key: str) -> None:
    answer = client.post("/v2/enqueue", json=pd_event(am_key, "trigger"))
    assert answer.status_code == 400


def test_cli_creates_an_integration_and_prints_the_key_alone_on_the_last_line(
    settings: Any, db: Database, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dutydesk.cli import main

    monkeypatch.setenv("DUTYDESK_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DUTYDESK_SECRET_KEY", settings.secret_key)
    result = CliRunner().invoke(
        main, ["integration", "create", "--type", "pagerduty", "--name", "nagios"]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert len(key) == 32
    answer = client.post("/v2/enqueue", json=pd_event(key, "trigger"))
    assert answer.status_code == 202
